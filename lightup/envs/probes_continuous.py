"""Continuous-action probes: the smallest games that each isolate one part of a continuous-action agent.

The continuous twins of `lightup.envs.probes`: one-step episodes whose reward says how close the action came
to the right one, so that a failure points at one part (the Gaussian head and its loss, the coupling of
observation and action, return conditioning). Their action spaces are [0, 1], not [-1, 1], so they also
exercise the rescaling adapter (`lightup.envs.adapters`).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightup.envs.common import METADATA, check_render_mode

LOW, HIGH = 0.0, 1.0


class ContinuousProbeEnv(gym.Env):
    """Shared mechanics: one step, a Box(-1, 1, (1,)) observation, Box(0, 1, (2,)) actions; the reward is
    1 minus the mean absolute distance to the right action, so in [0, 1] and 1 exactly at the right
    action."""

    metadata = METADATA
    reward_threshold = 0.95
    max_return = 1.0
    random_obs = False  # the observation is uniform in [-1, 1] (else 0)

    def __init__(self, render_mode: str | None = None):
        self.render_mode = check_render_mode(render_mode)
        self.action_space = spaces.Box(LOW, HIGH, (2,), dtype=np.float32)
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        self._obs = np.zeros(1, dtype=np.float32)
        self._done = False

    def target(self) -> np.ndarray:
        """The right action for the current observation, in the env's own bounds."""
        raise NotImplementedError

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        value = self.np_random.uniform(-1.0, 1.0) if self.random_obs else 0.0
        self._obs = np.array([value], dtype=np.float32)
        self._done = False
        return self._obs.copy(), {}

    def step(self, action):
        action = np.asarray(action, dtype=np.float32)
        assert action.shape == self.action_space.shape, (
            f"{action!r} has not the shape {self.action_space.shape}"
        )
        assert not self._done, "the episode is over; call reset"
        clipped = np.clip(action, LOW, HIGH)
        reward = 1.0 - float(np.mean(np.abs(clipped - self.target())))
        self._done = True
        return self._obs.copy(), reward, True, False, {}

    def describe(self, obs: np.ndarray) -> str:
        if self._done:
            return "the episode is over"
        low, high = self.action_space.low, self.action_space.high
        return f"observation {obs[0]:+.3f}; an action of {len(low)} numbers from {low[0]:g} to {high[0]:g}"

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        return f"obs {self._obs[0]:+.3f}  right action {np.array2string(self.target(), precision=3)}"


class ProbeTargetActionEnv(ContinuousProbeEnv):
    """
    ## Description
    Continuous probe 1: one step, a constant observation; the reward is highest at one fixed action. An agent
    that cannot learn it has a broken Gaussian head, action log-likelihood or rescaling of actions.
    ## Action Space
    `Box(0, 1, (2,), float32)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: always `[0]`.
    ## Rewards
    1 - mean(|a - (0.75, 0.25)|), in [0, 1].
    ## Starting State
    `[0]`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = 1, uniformly random about 0.69. `reward_threshold` is 0.95 (a mean error under 0.05).
    ## Version History
    * v0: Initial version.
    """

    def target(self) -> np.ndarray:
        return np.array([0.75, 0.25], dtype=np.float32)


class ProbeObsActionEnv(ContinuousProbeEnv):
    """
    ## Description
    Continuous probe 2: one step, a random observation x; the right action is ((1 + x) / 2, (1 - x) / 2).
    An agent that learns probe 1 but not this one does not couple its action to the observation.
    ## Action Space
    `Box(0, 1, (2,), float32)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: x, uniform in [-1, 1].
    ## Rewards
    1 - mean(|a - ((1 + x) / 2, (1 - x) / 2)|), in [0, 1].
    ## Starting State
    x drawn uniformly from [-1, 1].
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = 1, uniformly random about 0.67. `reward_threshold` is 0.95.
    ## Version History
    * v0: Initial version.
    """

    random_obs = True

    def target(self) -> np.ndarray:
        x = float(self._obs[0])
        return np.array([(1.0 + x) / 2, (1.0 - x) / 2], dtype=np.float32)


class CommandFollowContinuousEnv(ContinuousProbeEnv):
    """
    ## Description
    Continuous probe 3, command following: one step, a constant observation; the reward is a linear function
    of the action, so every return in [0, 1] is reached by exactly one action. A return-conditioned agent
    commanded a return R must play the action that gives R: the right action depends on the command.
    ## Action Space
    `Box(0, 1, (2,), float32)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: always `[0]`.
    ## Rewards
    1 - mean(|a - (1, 1)|) = mean(a), in [0, 1]: 0 at (0, 0), 1 at (1, 1).
    ## Starting State
    `[0]`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = 1, uniformly random = 0.5. `reward_threshold` is 0.95.
    ## Version History
    * v0: Initial version.
    """

    def target(self) -> np.ndarray:
        return np.array([HIGH, HIGH], dtype=np.float32)
