"""Static checks of how a policy is called and kept: its inputs are the caller's, and its state_dict is all
of it.

The trainer hands ``forward`` the replay's window and ``push`` the rollout's step, and reuses both: a model
that changes them in place (a normalisation with ``mul_``) corrupts the batch for the loss and the caller's
next call, and every check that calls it twice on the same batch then fails without naming the cause. The
trainer also keeps the policy through its ``state_dict``: it checkpoints it (`lightup.training.state`) and
copies it into the rollout's policy; a tensor the forward uses that is kept as a plain attribute (not an
``nn.Parameter`` nor a registered buffer) is neither saved nor copied, nor seen by the optimizer.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from lightup.doctor import limits
from lightup.doctor.check_base import (
    MODES,
    Finding,
    Subject,
    build,
    check,
    inputs,
    random_batch,
    rel_diff,
    seeded,
    window,
)
from lightup.models.policy import SequencePolicy

Batch = dict[str, Tensor]


def _change(given: Batch, kept: Batch) -> tuple[float, str]:
    """The largest absolute change of an input from its copy taken before the call, and its name."""
    worst, name = 0.0, ""
    for k, v in given.items():
        same_shape = v.shape == kept[k].shape
        diff = (v.double() - kept[k].double()).abs().nan_to_num(nan=float("inf")) if same_shape else None
        change = float("inf") if diff is None else float(diff.max()) if diff.numel() else 0.0
        if change > worst:
            worst, name = change, k
    return worst, name


@check
def inputs_unchanged(subject: Subject) -> Finding:
    """``forward`` (in eval and train mode) and ``push`` leave the tensors they are given as they were."""
    policy = build(subject)
    batch = inputs(random_batch(policy, 4, window(policy), seed=35))
    worst, where = 0.0, ""
    with torch.no_grad():
        for mode in MODES:
            policy.train(mode == "train")
            given = {k: v.clone() for k, v in batch.items()}
            seeded(policy, given, 0)
            change, name = _change(given, batch)
            if change > worst:
                worst, where = change, f"{name} after forward in {mode} mode"
        policy.eval()
        policy.begin(4)
        for t in range(min(batch["mask"].shape[1], 3)):
            step = {k: v[:, t].clone() for k, v in batch.items() if k != "mask"}
            given = {k: v.clone() for k, v in step.items()}
            policy.push(**given)
            change, name = _change(given, step)
            if change > worst:
                worst, where = change, f"{name} after push at step {t}"
    why = (
        "the policy changes its inputs in place (a normalisation with mul_ or a masked assignment): the "
        "caller's batch is corrupted for the loss and the next call; clone before changing an input"
    )
    return Finding.measured(limits.INPUT_CHANGE, worst, where, why, "inputs left as given")


def unregistered(policy: nn.Module) -> list[str]:
    """Tensors kept as plain attributes of the policy's modules (neither parameters nor buffers): the
    state_dict, the optimizer and ``.to(device)`` never see them."""
    found = []
    for prefix, module in policy.named_modules():
        for name, value in vars(module).items():
            if isinstance(value, Tensor) and not name.startswith("_"):
                found.append(f"{prefix}.{name}" if prefix else name)
    return found


def _scrambled(policy: SequencePolicy) -> SequencePolicy:
    """A copy of a built policy with every floating tensor it holds moved by noise (parameters, buffers and
    plain tensor attributes alike): what a second initialisation would be to a factory's policy."""
    other = copy.deepcopy(policy)
    g = torch.Generator().manual_seed(37)
    with torch.no_grad():
        for module in other.modules():
            for value in vars(module).values():
                held = value.values() if isinstance(value, dict) else [value]
                for t in held:
                    if isinstance(t, Tensor) and t.is_floating_point() and t.numel():
                        t.add_(torch.randn(t.shape, generator=g, dtype=t.dtype) * 0.1)
    return other


@check
def checkpoint_round_trip(subject: Subject) -> Finding:
    """A policy of another initialisation given this one's state_dict (as a checkpoint restores it and
    the trainer copies it to the rollout's policy) computes the same outputs, through ``forward`` and
    ``push``, in eval mode: every tensor the model uses is a parameter or a registered buffer."""
    source = build(subject).eval()
    if isinstance(subject.factory, SequencePolicy):
        target = _scrambled(source)
    else:
        target = build(subject, seed=subject.seed + 1).eval()
    target.load_state_dict({k: v.clone() for k, v in source.state_dict().items()})
    batch = inputs(random_batch(source, 4, window(source), seed=36))
    real = batch["mask"]
    with torch.no_grad():  # each call on copies of the inputs (a change in place: `inputs_unchanged`)
        outs = [policy(**{k: v.clone() for k, v in batch.items()})[real] for policy in (source, target)]
        worst, where = rel_diff(*outs), "forward"
        pushed = []
        for policy in (source, target):
            policy.begin(4)
            pushed.append(policy.push(**{k: v[:, 0].clone() for k, v in batch.items() if k != "mask"}))
        diff = rel_diff(pushed[0], pushed[1])
        if diff > worst:
            worst, where = diff, "push"
    plain = unregistered(source)
    held = f"; tensors kept as plain attributes: {', '.join(plain[:3])}" if plain else ""
    why = (
        "a policy restored from the state_dict computes another function: a tensor the model uses is not "
        f"registered (make it an nn.Parameter or register_buffer), so it is never saved nor trained{held}"
    )
    where = f"{where}, a policy of seed {subject.seed + 1} given the state_dict of seed {subject.seed}"
    if isinstance(subject.factory, SequencePolicy):
        where = f"{where.split(',')[0]}, a copy with every tensor moved, given the state_dict"
    return Finding.measured(limits.EXACT_OUTPUTS, worst, where, why, "the state_dict restores the policy")
