"""Checks of the replay a checkpoint file holds, before a trainer is rebuilt from it.

A checkpoint is a file a user may hand us: its replay tensors may disagree with each other or with the env
(an episode longer than the observations stored, an action no button has, a NaN reward). Each such file is
a one-line LightupError naming it, never an assertion deep in the replay or an index error mid-training.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lightup.checkpoint import check_parameters
from lightup.errors import LightupError

BUFFER = ("buffer.observations", "buffer.actions", "buffer.rewards", "buffer.lengths", "buffer.terminated")


def check_buffer(
    tensors: dict[str, torch.Tensor],
    commanded: Any,
    obs_dim: int,
    n_actions: int,
    where: str,
    discrete: bool = True,
) -> None:
    """The replay tensors of a checkpoint (see ``_buffer_tensors`` in the trainer) fit each other, the
    commands stored beside them and the env (``obs_dim`` numbers an observation, ``n_actions`` buttons, or
    action dimensions if not ``discrete``)."""
    present = [name for name in BUFFER if name in tensors]
    if not present:
        if commanded not in ([], None):
            raise LightupError(f"{where}holds commands for a replay it does not hold")
        return
    if len(present) < len(BUFFER):
        missing = sorted(set(BUFFER) - set(present))
        raise LightupError(f"{where}holds part of a replay: {', '.join(missing)} missing")
    obs, actions, rewards = (
        tensors["buffer.observations"],
        tensors["buffer.actions"],
        tensors["buffer.rewards"],
    )
    lengths, terminated = tensors["buffer.lengths"], tensors["buffer.terminated"]

    def bad(what: str) -> LightupError:
        return LightupError(f"{where}holds a replay whose {what}; use a checkpoint written by lightup")

    if lengths.ndim != 1 or lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise bad("episode lengths are not a list of integers")
    if len(lengths) == 0 or int(lengths.min()) < 1:
        raise bad("episode lengths are not all at least 1")
    steps = int(lengths.sum())
    if obs.ndim != 2 or obs.shape[1] != obs_dim:
        raise bad(f"observations are of shape {tuple(obs.shape)}, not (steps, {obs_dim}) as its env's")
    if not (len(obs) == len(actions) == len(rewards) == steps):
        raise bad(
            f"{len(lengths)} episodes of {steps} steps in all disagree with its {len(obs)} observations, "
            f"{len(actions)} actions and {len(rewards)} rewards"
        )
    if terminated.ndim != 1 or len(terminated) != len(lengths):
        raise bad(f"{len(terminated)} end flags disagree with its {len(lengths)} episodes")
    explored = tensors.get("buffer.explored")  # absent in checkpoints written before it
    if explored is not None and (
        explored.dtype != torch.bool or explored.ndim != 1 or len(explored) != len(lengths)
    ):
        raise bad(f"exploration flags are not {len(lengths)} booleans, one per episode")
    if not discrete:
        if actions.ndim != 2 or actions.shape[1] != n_actions or actions.dtype != torch.float32:
            raise bad(f"actions are not float32 vectors of the env's {n_actions} dimensions")
        if steps and not bool((actions.abs() <= 1).all()):  # also false for NaN
            raise bad("actions go outside [-1, 1]")
    elif actions.ndim != 1 or actions.dtype.is_floating_point or actions.dtype == torch.bool:
        raise bad("actions are not a list of integers")
    elif steps and (int(actions.min()) < 0 or int(actions.max()) >= n_actions):
        raise bad(f"actions go outside the env's {n_actions} buttons (0 to {n_actions - 1})")
    if not (bool(torch.isfinite(obs).all()) and bool(torch.isfinite(rewards.double()).all())):
        raise bad("observations or rewards are not all finite")
    if not isinstance(commanded, list) or len(commanded) != len(lengths):
        raise bad(f"commands ({_count(commanded)}) disagree with its {len(lengths)} episodes")
    for value in commanded:  # NaN: an episode played with no command
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and math.isinf(value))
            or (isinstance(value, int) and abs(value) > 10**12)
        ):
            raise bad(f"commands hold {value!r}, not a number")


def _count(value: Any) -> str:
    return f"{len(value)}" if isinstance(value, list) else type(value).__name__


def load_weights(
    module: torch.nn.Module, state: dict[str, torch.Tensor], prefix: str, where: str = ""
) -> None:
    """``module.load_state_dict(state)``; weights missing, extra or of another shape (``prefix``: their
    names' in the file) are a one-line error naming the first, not torch's message of many lines; so are
    weights that are not finite or not of a floating type (`lightup.checkpoint.check_parameters`)."""
    check_parameters(module, state, where or "checkpoint ", prefix)
    try:
        module.load_state_dict(state)
    except RuntimeError as err:
        details = [line.strip() for line in str(err).splitlines()[1:] if line.strip()]
        first = details[0] if details else str(err).splitlines()[0]
        raise LightupError(
            f"{where}holds {prefix}* weights that do not fit its config ({first[:300]}); use a checkpoint "
            "written by lightup"
        ) from None


def load_optimizer(optimizer: torch.optim.Optimizer, state: dict, prefix: str, where: str = "") -> None:
    """``optimizer.load_state_dict(state)``, then each moment (``exp_avg``, ...) checked against the shape
    of its parameter: torch takes any shape and fails at the first update, deep in a run."""
    optimizer.load_state_dict(state)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    for index, param in enumerate(params):
        for key, value in optimizer.state.get(param, {}).items():
            if not isinstance(value, torch.Tensor) or value.ndim == 0:
                continue  # the step count
            if value.shape != param.shape or not value.dtype.is_floating_point:
                raise LightupError(
                    f"{where}holds the optimizer state {prefix}{index}.{key} of shape {tuple(value.shape)} "
                    f"({value.dtype}) for a parameter of shape {tuple(param.shape)}; use a checkpoint "
                    "written by lightup"
                )
