"""A time limit for envs that declare none: an episode that never ends (CliffWalking-v1 registers no limit,
and a policy that never reaches its goal walks forever) would stall rollouts and hang greedy evaluation."""

from __future__ import annotations

import gymnasium as gym

DEFAULT_MAX_EPISODE_STEPS = 1000
"""Where an episode of an env that declares no time limit is cut (truncated); an env's own limit stays."""


def has_time_limit(env: gym.Env) -> bool:
    """Whether a `TimeLimit` wraps the env anywhere in its chain of wrappers."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return True
        env = env.env
    return False


def time_limited(env, steps: int | None = DEFAULT_MAX_EPISODE_STEPS):
    """The env, cut at ``steps`` steps (None: never) if it declares no time limit of its own. Anything that
    is not a gym.Env is returned as it is, for its caller to refuse."""
    if steps is None or not isinstance(env, gym.Env) or has_time_limit(env):
        return env
    return gym.wrappers.TimeLimit(env, max_episode_steps=steps)
