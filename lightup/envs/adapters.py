"""Observation adapters: what turns an env's observations into the flat vectors a policy reads.

The policy reads a fixed number of values per step, so an observation space that is not a Box is adapted:
Discrete, MultiDiscrete and MultiBinary become one-hot or 0/1 vectors, Dict and Tuple are flattened (all by
Gymnasium's ``FlattenObservation``), and MiniGrid envs keep their image (minigrid's ``ImgObsWrapper``: the
mission text cannot be a fixed vector), then are flattened. A Box needs nothing (rollouts reshape it).

Continuous actions: a policy's tanh-squashed head acts in [-1, 1] in every dimension, so a bounded Box action
space with other bounds is rescaled to it (Gymnasium's ``RescaleAction``); the env sees its own bounds.
Discrete actions: a policy picks an index from 0, so a Discrete space that starts elsewhere is shifted
(Gymnasium's ``TransformAction``).

The adapters applied are named (`ADAPTERS`) and recorded in the run's config, so a run rebuilds the same
pipeline when it is loaded again, and a space that no longer fits it is an error, not a silent change.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import gymnasium as gym
import numpy as np
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


def _rescale_action(env: gym.Env) -> gym.Env:
    space = env.action_space
    one = np.ones(space.shape, dtype=space.dtype)  # in the space's dtype: no precision warning
    return gym.wrappers.RescaleAction(env, -one, one)


def _shift_actions(env: gym.Env) -> gym.Env:
    """Discrete(n, start=s) actions played as 0 .. n - 1: the policy's index i is the env's action s + i."""
    space = env.action_space
    return gym.wrappers.TransformAction(
        env, lambda i: space.start + np.int64(i), spaces.Discrete(int(space.n), seed=space.np_random)
    )


ADAPTERS = {
    "minigrid_image": _minigrid_image,
    "flatten": gym.wrappers.FlattenObservation,
    "rescale_action": _rescale_action,
    "shift_actions": _shift_actions,
}
"""name -> the wrapper it applies; the names are what a run's config records."""


def action_space_problem(space: gym.Space) -> str | None:
    """Why a policy cannot act in ``space`` (one line), or None: Discrete, or a 1-D float Box with finite
    bounds, low < high."""
    if isinstance(space, spaces.Discrete):
        return None
    if not isinstance(space, spaces.Box):
        return (
            f"a {type(space).__name__} action space; lightup plays Discrete and 1-D Box action spaces "
            "(wrap the env to give one)"
        )
    if len(space.shape) != 1:
        return f"a Box action space of shape {space.shape}; lightup plays 1-D Box actions (flatten them)"
    if not np.issubdtype(space.dtype, np.floating):
        return f"a Box action space of dtype {space.dtype}; continuous actions must be floats"
    if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        return "an unbounded Box action space; give it finite low and high bounds (e.g. ClipAction)"
    if np.any(space.low >= space.high):
        return "a Box action space with low >= high in some dimension; every dimension needs low < high"
    return None


def needs_rescale(space: gym.Space) -> bool:
    """A playable Box action space whose bounds are not already [-1, 1]."""
    if not isinstance(space, spaces.Box) or action_space_problem(space) is not None:
        return False
    return not (np.all(space.low == -1.0) and np.all(space.high == 1.0))


def _leaves(space: gym.Space) -> Iterator[gym.Space]:
    """The parts of ``space`` that are not a Dict or a Tuple, in order (``space`` itself if it is neither)."""
    if isinstance(space, spaces.Dict | spaces.Tuple):
        parts = space.spaces.values() if isinstance(space, spaces.Dict) else space.spaces
        for part in parts:
            yield from _leaves(part)
    else:
        yield space


def _unflattenable(space: gym.Space) -> str | None:
    """The name of the first part of ``space`` that cannot become a fixed-length vector, or None."""
    return next((type(leaf).__name__ for leaf in _leaves(space) if not isinstance(leaf, _FLAT_LEAVES)), None)


def _is_minigrid(env: gym.Env) -> bool:
    return type(env.unwrapped).__module__.split(".")[0] == "minigrid"


def plan(env: gym.Env) -> tuple[str, ...]:
    """The adapters ``env``'s spaces need, in the order they apply; an observation space that cannot be
    adapted is a one-line error."""
    space = env.action_space
    action = ("rescale_action",) if needs_rescale(space) else ()
    if isinstance(space, spaces.Discrete) and space.start != 0:
        action = ("shift_actions",)
    return (*_observation_plan(env), *action)


def _observation_plan(env: gym.Env) -> tuple[str, ...]:
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


def finite_observations(env: gym.Env) -> bool:
    """Whether ``env``'s observations take finitely many values before the adapters flatten them: a
    Discrete, MultiDiscrete or MultiBinary space, or a Dict or Tuple of only those (a Box never counts, though
    an integer one is finite: its values are read as numbers, not as states of a table)."""
    while isinstance(env, gym.Wrapper) and not isinstance(env, gym.wrappers.FlattenObservation):
        env = env.env
    if not isinstance(env, gym.wrappers.FlattenObservation):
        return False  # no adapter flattened it: a Box
    finite = (spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)
    return all(isinstance(leaf, finite) for leaf in _leaves(env.env.observation_space))


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
            f"the run was made with the adapters {list(names)}, but the env now needs {list(expected)}: "
            "its observation or action space changed; train a new run for it"
        )
    for name in names:
        env = ADAPTERS[name](env)
    return env, names


__all__ = ["ADAPTERS", "action_space_problem", "adapt", "finite_observations", "needs_rescale", "plan"]
