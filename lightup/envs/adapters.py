"""Observation adapters: what turns an env's observations into the flat vectors a policy reads.

The policy reads a fixed number of values per step, so an observation space that is not a Box is adapted:
Discrete, MultiDiscrete and MultiBinary become one-hot or 0/1 vectors, Dict and Tuple are flattened (all by
Gymnasium's ``FlattenObservation``), and MiniGrid envs keep their image (minigrid's ``ImgObsWrapper``: the
mission text cannot be a fixed vector), then are flattened. A Box needs nothing (rollouts reshape it).

The adapters applied are named (`ADAPTERS`) and recorded in the run's config, so a run rebuilds the same
pipeline when it is loaded again, and a space that no longer fits it is an error, not a silent change.
"""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
from gymnasium import spaces

from lightup.errors import LightupError

# Spaces that `gymnasium.spaces.utils.flatten_space` turns into a fixed-length Box.
_FLAT_LEAVES = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def _minigrid_image(env: gym.Env) -> gym.Env:
    try:
        from minigrid.wrappers import ImgObsWrapper
    except ImportError:
        raise LightupError(
            "this MiniGrid env needs the minigrid package: pip install 'lightup[minigrid]'"
        ) from None
    return ImgObsWrapper(env)


ADAPTERS = {
    "minigrid_image": _minigrid_image,
    "flatten": gym.wrappers.FlattenObservation,
}
"""name -> the wrapper it applies; the names are what a run's config records."""


def _unflattenable(space: gym.Space) -> str | None:
    """The name of the first part of ``space`` that cannot become a fixed-length vector, or None."""
    if isinstance(space, _FLAT_LEAVES):
        return None
    if isinstance(space, spaces.Dict | spaces.Tuple):
        parts = space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces
        for part in parts:
            bad = _unflattenable(part)
            if bad is not None:
                return bad
        return None
    return type(space).__name__


def _is_minigrid(env: gym.Env) -> bool:
    return type(env.unwrapped).__module__.split(".")[0] == "minigrid"


def plan(env: gym.Env) -> tuple[str, ...]:
    """The adapters ``env``'s observation space needs, in the order they apply; a space that cannot be
    adapted is a one-line error."""
    names: tuple[str, ...] = ()
    space = env.observation_space
    if _is_minigrid(env) and isinstance(space, spaces.Dict) and "image" in space.spaces:
        names, space = ("minigrid_image",), space["image"]
    if isinstance(space, spaces.Box) and not names:
        return ()
    bad = _unflattenable(space)
    if bad is not None:
        env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
        raise LightupError(
            f"env {env_id} has an observation space with a {bad} part, which cannot be made a fixed-length "
            "vector; wrap the env so that it gives Box, Discrete, MultiDiscrete, MultiBinary, Dict or Tuple "
            "observations"
        )
    return (*names, "flatten")


def adapt(env: gym.Env, names: Sequence[str] | None = None) -> tuple[gym.Env, tuple[str, ...]]:
    """``env`` wrapped in the named adapters (None: those `plan` finds), and their names.

    Names read back from a run must still fit the env: an observation space that changed since is a
    one-line error rather than a policy fed different inputs."""
    expected = plan(env)
    if names is None:
        names = expected
    names = tuple(names)
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise LightupError(f"unknown observation adapter {unknown[0]!r}; known: {', '.join(ADAPTERS)}")
    if names != expected:
        raise LightupError(
            f"the run was made with the observation adapters {list(names)}, but the env now needs "
            f"{list(expected)}: its observation space changed; train a new run for it"
        )
    for name in names:
        env = ADAPTERS[name](env)
    return env, names


__all__ = ["ADAPTERS", "adapt", "plan"]
