"""Scripted agents for the lightup games: a known optimum and a uniformly random baseline.

Tests, the demo and the doctor use them to measure what a perfect and a clueless agent score. Each agent
has ``reset()`` (call at the start of an episode) and ``act(obs)``: an int, or an array for a Box action
space.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from lightup.envs.gamble import GambleEnv
from lightup.envs.press_button import PressButtonEnv
from lightup.envs.probes import CommandFollowEnv, ProbeActionObsRewardEnv, ProbeActionRewardEnv, ProbeEnv
from lightup.envs.probes_continuous import ContinuousProbeEnv
from lightup.envs.recall_button import RecallButtonEnv


class PressButtonAgent:
    """Presses the right button; in hard mode it counts its own presses (the observation has no counter)."""

    def __init__(self, env: PressButtonEnv):
        self.size, self.hard_mode = env.size, env.hard_mode
        self.presses = 0

    def reset(self) -> None:
        self.presses = 0

    def act(self, obs: np.ndarray) -> int:
        lit = int(np.argmax(obs))
        self.presses += 1
        return (lit + self.presses - 1) % self.size if self.hard_mode else lit


class RecallButtonAgent:
    """Remembers the button lit on the first step and presses it on the cue."""

    def __init__(self, env: RecallButtonEnv):
        self.size = env.size
        self.remembered = 0

    def reset(self) -> None:
        self.remembered = 0

    def act(self, obs: np.ndarray) -> int:
        if np.any(obs[: self.size]):
            self.remembered = int(np.argmax(obs[: self.size]))
        return self.remembered


class FunctionAgent:
    """A memoryless agent: the action is a function of the current observation."""

    def __init__(self, policy):
        self.policy = policy

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> int:
        return int(self.policy(obs))


class RandomAgent:
    """Picks uniformly among the actions (or within a bounded Box), from its own seeded generator."""

    def __init__(self, env: gym.Env, seed: int = 0):
        space = env.action_space
        assert isinstance(space, gym.spaces.Discrete | gym.spaces.Box), "RandomAgent needs Discrete or Box"
        self.space = space
        # Not default_rng(seed): an env reset with the same seed draws from that very stream, and the
        # "random" agent would then copy the env's draws (press the lit button every time).
        self.rng = np.random.default_rng([seed, 1])

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> int | np.ndarray:
        space = self.space
        if isinstance(space, gym.spaces.Box):
            return self.rng.uniform(space.low, space.high).astype(space.dtype)
        return int(space.start) + int(self.rng.integers(space.n))


class TargetAgent:
    """Plays a continuous probe's right action, in the bounds of the (possibly rescaled) env it acts in."""

    def __init__(self, env: gym.Env):
        self.game, self.space = env.unwrapped, env.action_space

    def reset(self) -> None:
        pass

    def act(self, obs: np.ndarray) -> np.ndarray:
        own, space = self.game.action_space, self.space
        share = (self.game.target() - own.low) / (own.high - own.low)
        return (space.low + share * (space.high - space.low)).astype(space.dtype)


def optimal_agent(env: gym.Env):
    """The scripted optimal agent for a lightup game (wrapped or not)."""
    game = env.unwrapped
    if isinstance(game, PressButtonEnv):
        return PressButtonAgent(game)
    if isinstance(game, RecallButtonEnv):
        return RecallButtonAgent(game)
    if isinstance(game, GambleEnv):
        return FunctionAgent(lambda obs: 2)  # the safe machine
    if isinstance(game, ProbeActionRewardEnv):
        return FunctionAgent(lambda obs: 1)
    if isinstance(game, ProbeActionObsRewardEnv):
        return FunctionAgent(lambda obs: 1 if obs[0] > 0 else 0)
    if isinstance(game, CommandFollowEnv):
        return FunctionAgent(lambda obs: 0)
    if isinstance(game, ContinuousProbeEnv):
        return TargetAgent(env)
    if isinstance(game, ProbeEnv):
        return FunctionAgent(lambda obs: 0)  # one action: nothing to choose
    raise TypeError(f"no scripted optimal agent for {type(game).__name__}")


def episode_returns(env: gym.Env, agent, episodes: int, seed: int = 0) -> np.ndarray:
    """Play ``episodes`` episodes, seeding only the first reset; return each episode's return."""
    returns = np.zeros(episodes)
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        agent.reset()
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
            returns[i] += reward
            done = terminated or truncated
    return returns
