"""Envs as a user's own module registers them, for `module:EnvId` tests: ``user_envs:UserCorridor-v0``.

Importing this module registers them (tests/ is put on PYTHONPATH for the CLI's subprocess).
"""

from __future__ import annotations

import gymnasium as gym
from gymnasium import spaces


class CorridorEnv(gym.Env):
    """Description: walk right along a corridor of ``length`` cells to its end (+1), or step off its left
    end (-1, ends the episode). Observation Space: Discrete(length), the cell. Action Space: Discrete(2),
    left or right. Rewards: +1 at the right end, -1 off the left end, else 0. Starting State: cell 1.
    Arguments: length (>= 3)."""

    def __init__(self, length: int = 4):
        if length < 3:
            raise ValueError(f"length must be >= 3, got {length}")
        self.length = length
        self.observation_space = spaces.Discrete(length)
        self.action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.cell = 1
        return self.cell, {}

    def step(self, action):
        self.cell += 1 if action == 1 else -1
        if self.cell < 0:
            return 0, -1.0, True, False, {}
        if self.cell == self.length - 1:
            return self.cell, 1.0, True, False, {}
        return self.cell, 0.0, False, False, {}


class BrokenEnv(gym.Env):
    """An env whose constructor raises, as one missing its licence file would."""

    def __init__(self):
        raise RuntimeError("licence file not found\n(second line of the message)")


class UnboundedActionEnv(gym.Env):
    """A one-step env whose Box action space has no bounds (a policy's tanh head cannot be rescaled to it)."""

    def __init__(self):
        self.observation_space = spaces.Box(-1.0, 1.0, (1,))
        self.action_space = spaces.Box(-float("inf"), float("inf"), (2,))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.low * 0, {}

    def step(self, action):
        return self.observation_space.low * 0, 0.0, True, False, {}


class WalledCorridorEnv(CorridorEnv):
    """The corridor with a wall at its left end (stepping left there stays put): an episode ends only at
    the right end, so a policy that keeps stepping left plays forever. Registered without a time limit."""

    def step(self, action):
        if action == 0 and self.cell == 0:
            return 0, 0.0, False, False, {}
        return super().step(action)


class BadRenderEnv(CorridorEnv):
    """The corridor, claiming rgb_array rendering, whose render() fails with a message of two lines."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 4}

    def __init__(self, length: int = 4, render_mode=None):
        super().__init__(length)
        self.render_mode = render_mode

    def render(self):
        raise RuntimeError("no display found\n(second line of the message)")


class RaisingEnv(CorridorEnv):
    """The corridor, whose step raises at the second step of every episode (a scoreboard that falls off):
    no episode can end before it."""

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.t += 1
        if self.t == 2:
            raise RuntimeError("the scoreboard fell off")
        return super().step(action)


class ResetRaisingEnv(CorridorEnv):
    """The corridor, whose reset raises (a simulator that fails to start)."""

    def reset(self, *, seed=None, options=None):
        raise RuntimeError("the simulator did not start")


class HugeRewardEnv(CorridorEnv):
    """The corridor, paying 1e308 a step: finite, but no return of it is."""

    def step(self, action):
        obs, _, terminated, truncated, info = super().step(action)
        return obs, 1e308, terminated, truncated, info


class ManyActionsEnv(CorridorEnv):
    """The corridor, with 100,000 actions (any above 1 walks right)."""

    def __init__(self):
        super().__init__()
        self.action_space = spaces.Discrete(100_000)


class HugeObservationEnv(CorridorEnv):
    """The corridor, seen as a 2048 x 1024 image (two million values a step)."""

    def __init__(self):
        super().__init__()
        self.observation_space = spaces.Box(0.0, 1.0, (2048, 1024))


_ENVS = (
    ("UserCorridor-v0", CorridorEnv),
    ("UserManyActions-v0", ManyActionsEnv),
    ("UserHugeObservation-v0", HugeObservationEnv),
    ("UserResetRaising-v0", ResetRaisingEnv),
    ("UserHugeReward-v0", HugeRewardEnv),
    ("UserRaising-v0", RaisingEnv),
    ("UserBroken-v0", BrokenEnv),
    ("UserUnbounded-v0", UnboundedActionEnv),
    ("UserBadRender-v0", BadRenderEnv),
)
for _id, _cls in _ENVS:
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_cls, max_episode_steps=20)
if "UserWalled-v0" not in gym.registry:
    gym.register(id="UserWalled-v0", entry_point=WalledCorridorEnv)
if "UserMissingDeps-v0" not in gym.registry:  # its entry point's module is not installed
    gym.register(id="UserMissingDeps-v0", entry_point="lightup_tests_not_installed:Env")
