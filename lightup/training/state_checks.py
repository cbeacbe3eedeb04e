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
    if int(lengths.max()) > len(obs):  # checked before the sum, which a huge length makes wrap around
        raise bad(f"episode lengths go past its {len(obs)} observations")
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
    """``optimizer.load_state_dict(state)`` for the fresh ``optimizer`` that the run's config builds, once the
    file's optimizer is seen to be that one: the same hyperparameters in each group (all but the scheduled
    learning rate, which must be a finite positive number) and, per parameter, the same state (keys, shapes,
    dtypes, finite values). torch takes any of these and fails at the first update deep in a run (amsgrad
    with no ``max_exp_avg_sq``), or trains wrong without a word (``maximize``, a negative lr)."""

    def altered(what: str) -> LightupError:
        return LightupError(
            f"{where}holds optimizer settings ({prefix}*) that differ from the run's config ({what}): "
            "an altered file; use a checkpoint written by lightup"
        )

    expected_groups = optimizer.state_dict()["param_groups"]
    groups = state.get("param_groups")
    if not isinstance(groups, list) or len(groups) != len(expected_groups):
        raise altered(f"{_count(groups)} parameter groups, not {len(expected_groups)}")
    for number, (group, expected) in enumerate(zip(groups, expected_groups, strict=True)):
        if not isinstance(group, dict) or set(group) != set(expected):
            keys = sorted(set(group) ^ set(expected)) if isinstance(group, dict) else "not an object"
            raise altered(f"group {number} keys differ: {keys}")
        for key, value in group.items():
            if key in KERNEL_KEYS:  # how it computes, not what: the config's kernel, set below
                continue
            if key == "lr":  # scheduled (`lightup.training.update`): any finite positive value
                if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
                    raise altered(f"group {number} lr {value!r} is not a finite positive number")
            elif not _same(value, expected[key]):
                raise altered(f"group {number} {key} {value!r}, not {expected[key]!r}")
    kept = _state_kept(optimizer)
    saved = state.get("state")
    if not isinstance(saved, dict):
        raise altered("its state is not a mapping")
    for index, values in saved.items():
        if not isinstance(index, int) or not 0 <= index < len(kept):
            raise altered(f"state for parameter {index!r} of {len(kept)}")
        want = kept[index]
        if set(values) != set(want):
            raise altered(f"parameter {index} state {sorted(values)}, not {sorted(want)}")
        for key, value in values.items():
            if isinstance(want[key], type):  # a plain number torch keeps (none in torch 2.x's Adam)
                if not isinstance(value, want[key]):
                    raise altered(f"parameter {index} {key} {value!r}")
                continue
            if not isinstance(value, torch.Tensor) or (tuple(value.shape), value.dtype) != want[key]:
                got = (tuple(value.shape), value.dtype) if isinstance(value, torch.Tensor) else value
                raise LightupError(
                    f"{where}holds the optimizer state {prefix}{index}.{key} as {got!r}, not {want[key]!r} "
                    "as its parameter needs; use a checkpoint written by lightup"
                )
            if value.is_floating_point() and not bool(value.isfinite().all()):
                raise LightupError(
                    f"{where}holds non-finite values in the optimizer state {prefix}{index}.{key}: a corrupt "
                    "file or a run that diverged; use an earlier checkpoint"
                )
            wrong = _out_of_range(key, value)
            if wrong:
                raise LightupError(
                    f"{where}holds the optimizer state {prefix}{index}.{key} out of range ({wrong}): an "
                    "altered file; use a checkpoint written by lightup"
                )
    groups = [
        {**group, **{k: expected[k] for k in KERNEL_KEYS if k in expected}}
        for group, expected in zip(groups, expected_groups, strict=True)
    ]
    optimizer.load_state_dict({**state, "param_groups": groups})


def _out_of_range(key: str, value: torch.Tensor) -> str:
    """What is wrong with a finite Adam state value that no optimizer step writes, else "": a step count
    below 0 or not whole (torch's Adam divides by ``1 - beta ** (step + 1)``: -1 divides by zero), a
    second moment below 0 (its square root is NaN, and the policy's weights after it)."""
    whole = (value >= 0) & (value == value.floor()) if value.is_floating_point() else None
    if key == "step" and whole is not None and not bool(whole.all()):
        return f"{_first(value[~whole])} is not a whole number of steps from 0"
    if key in ("exp_avg_sq", "max_exp_avg_sq") and not bool((value >= 0).all()):
        return f"{_first(value[value < 0])} where a mean of squares is at least 0"
    return ""


def _first(value: torch.Tensor) -> str:
    """The first number of ``value``, as it is shown in an error."""
    return f"{float(value.flatten()[0]):g}"


def check_log_alpha(value: torch.Tensor, where: str = "") -> None:
    """The entropy temperature's logarithm in a checkpoint is one finite number in `LOG_ALPHA_RANGE`: NaN
    or 1e30 would load, and the run would then blame its policy's outputs for the NaN that follows."""
    low, high = LOG_ALPHA_RANGE
    if value.ndim != 0 or not value.is_floating_point():
        raise LightupError(
            f"{where or 'checkpoint '}holds a log_alpha of shape {tuple(value.shape)} and type "
            f"{value.dtype}, not one floating-point number (an altered file); use a checkpoint written by "
            "lightup"
        )
    if not low <= float(value) <= high:  # also false for NaN
        raise LightupError(
            f"{where or 'checkpoint '}holds the entropy temperature log_alpha {float(value):g}, out of range "
            f"(from {low:g} to {high:g}): an altered file; use a checkpoint written by lightup"
        )


LOG_ALPHA_RANGE = (-1000.0, 80.0)
"""Where a run's log alpha can be: above 88.7 its exp overflows float32 (an infinite temperature); far below,
the temperature is 0 already, its gradient too, so Adam's steps (lr each, at most) stop near -104."""


KERNEL_KEYS = ("foreach", "fused", "capturable", "differentiable")
"""Optimizer settings that choose how a step is computed, not what it computes: a resumed run steps with
the kernels its config chooses (a checkpoint from before `optimizer_kernel` resumes with foreach), whatever
the file's groups say."""


def _same(a: Any, b: Any) -> bool:
    """Two hyperparameters are equal: numbers by value (not a bool for a number), sequences item by item
    (JSON gives ``betas`` as a list), anything else by type and value. NaN equals nothing."""
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and a == b


def _state_kept(optimizer: torch.optim.Optimizer) -> list[dict[str, Any]]:
    """What ``optimizer`` keeps per parameter after a step, (shape, dtype) by key, in state_dict order:
    learnt from a copy of it stepped once on zeros of its parameters' shapes (its own state is untouched)."""
    groups, dummies = [], []
    for group in optimizer.param_groups:
        params = [torch.zeros_like(p, requires_grad=True) for p in group["params"]]
        for p in params:
            p.grad = torch.zeros_like(p)
        dummies += params
        groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": params})
    probe = type(optimizer)(groups)
    probe.step()
    return [
        {
            k: (tuple(v.shape), v.dtype) if isinstance(v, torch.Tensor) else type(v)
            for k, v in probe.state[p].items()
        }
        for p in dummies
    ]


def check_outputs(policy: torch.nn.Module, where: str = "") -> None:
    """A forward pass of the loaded ``policy`` on a small batch gives finite outputs: finite but huge
    weights (3e38) pass `check_parameters` and then overflow, and the run would crash in its first sampling
    (torch.multinomial) rather than say which file is at fault."""
    device = next(iter(policy.parameters())).device
    steps = max(1, min(int(policy.context_len), 4))
    shape = (2, steps)
    if policy.discrete:
        prev = torch.full(shape, policy.start_action, dtype=torch.long, device=device)
    else:
        prev = torch.zeros((*shape, policy.act_dim), device=device)
    states = torch.linspace(-1, 1, 2 * steps * policy.obs_dim, device=device).reshape(*shape, policy.obs_dim)
    timesteps = torch.arange(steps, device=device).expand(shape)
    training = policy.training
    policy.eval()
    try:
        with torch.no_grad():
            out = policy(
                torch.ones(shape, device=device),
                states,
                prev,
                timesteps,
                torch.ones(shape, dtype=torch.bool, device=device),
            )
    finally:
        policy.train(training)
    if not bool(torch.isfinite(out).all()):
        raise LightupError(
            f"{where}holds weights whose outputs are not finite (NaN or infinity) on a small batch: a "
            "corrupt file or a run that diverged; use an earlier checkpoint"
        )
