"""Static checks that each sequence of a batch is a rollout of its own: its outputs depend on its own inputs
alone (not on the other sequences beside it), and the same inputs give the same outputs (in eval mode).

A rollout batches one step of each of n envs, training a few hundred windows: a model that normalises over
the batch (a batch norm in its statistics, a mean over dim 0, a reshape that mixes rows) gives an env's
action from the other envs' states and commands; one whose dropout or noise stays on in eval mode acts
randomly where the trainer asks for its greedy action; one whose eval mode computes another function than
its train mode, or whose forward without autograd (rollouts) another than with it (the loss), acts with a
policy the loss never trained.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from lightup.doctor import limits
from lightup.doctor.check_base import (
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

ROWS = 32  # the batch of `rows_independent`: the ladder's training batch (the recipes' are 64 to 512)


@check
def rows_independent(subject: Subject) -> Finding:
    """Each sequence's outputs are the same alone, in its batch of 32, and with the batch's rows reordered.
    32 rows, as a training batch has: a model may take statistics over the batch only when it is large
    enough to give them ("B >= 16"), which a rollout's few envs, or a batch of 6, never meet."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, ROWS, window(policy), seed=31))
    n = batch["states"].shape[0]
    order = torch.randperm(n, generator=torch.Generator().manual_seed(31))
    with torch.no_grad():
        base = policy(**batch)
        shuffled = policy(**{k: v[order] for k, v in batch.items()})
        diff = rel_diff(base[order][batch["mask"][order]], shuffled[batch["mask"][order]])
        worst, where = diff, "rows reordered"
        for i in range(n):
            alone = policy(**{k: v[i : i + 1] for k, v in batch.items()})[0]
            real = batch["mask"][i]
            diff = rel_diff(base[i][real], alone[real])
            if diff > worst:
                worst, where = diff, f"row {i} alone against in its batch of {n}"
    why = (
        "a sequence's outputs change with the other sequences in its batch: statistics across the batch "
        "(a batch norm, a mean over dim 0) or a reshape that mixes rows"
    )
    return Finding.measured(limits.EXACT_OUTPUTS, worst, where, why, "each row is its own")


@check
def deterministic(subject: Subject) -> Finding:
    """In eval mode the same inputs give the same outputs, through ``forward`` and through ``push``."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, 4, window(policy), seed=32, pad=False))
    with torch.no_grad():
        first, second = policy(**batch), policy(**batch)
        worst, where = rel_diff(first, second), "forward called twice"
        pushed = []
        for _ in range(2):
            policy.begin(4)
            step = {k: v[:, 0] for k, v in batch.items() if k != "mask"}
            pushed.append(policy.push(**step))
        diff = rel_diff(pushed[0], pushed[1])
        if diff > worst:
            worst, where = diff, "push called twice, after begin"
    why = "the same inputs give different outputs in eval mode: dropout or noise left on outside training"
    return Finding.measured(limits.EXACT_OUTPUTS, worst, where, why, "the same inputs, the same outputs")


def without_dropout(policy: nn.Module) -> tuple[nn.Module, int]:
    """A copy of ``policy`` with its dropout at 0 (torch's dropout modules, and float attributes named for
    a dropout rate, as an attention's ``dropout_p``), and how many were set."""
    quiet, silenced = copy.deepcopy(policy), 0
    for module in quiet.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd) and module.p > 0:
            module.p, silenced = 0.0, silenced + 1
        for name, value in vars(module).items():
            if "drop" in name.lower() and isinstance(value, float) and 0.0 < value < 1.0:
                setattr(module, name, 0.0)
                silenced += 1
    return quiet, silenced


@check
def train_matches_eval(subject: Subject) -> Finding:
    """A model computes the same function in train and eval mode once its dropout is set to 0: the loss
    trains the train-mode function and rollouts act with the eval-mode one. (A model whose train mode stays
    random with its dropout at 0, noise of its own, is not compared: its modes differ by design.)"""
    policy = build(subject)
    batch = inputs(random_batch(policy, 4, window(policy), seed=33))
    real = batch["mask"]
    where = ""
    with torch.no_grad():
        policy.train()
        trained = seeded(policy, batch, 0)
        if rel_diff(trained[real], seeded(policy, batch, 1)[real]) > limits.SAME:
            policy, silenced = without_dropout(policy)
            trained = seeded(policy, batch, 0)
            if rel_diff(trained[real], seeded(policy, batch, 1)[real]) > limits.SAME:
                return Finding(
                    "pass", "train mode is random (noise besides dropout): its modes differ by design"
                )
            where = f"dropout set to 0 ({silenced} rates)"
        acted = policy.eval()(**batch)
    why = (
        "eval mode (rollouts) computes another function than train mode (the loss): a temperature or "
        "a mask applied in one mode only, or statistics a batch norm keeps for eval"
    )
    return Finding.measured(
        limits.EXACT_OUTPUTS, rel_diff(trained[real], acted[real]), where, why, "train and eval modes agree"
    )


GRAD_MODES = (("torch.no_grad", torch.no_grad), ("torch.inference_mode", torch.inference_mode))
"""The modes without autograd a policy acts in: rollouts run under inference mode, evaluation code often
under no_grad; the loss runs ``forward`` with autograd on."""


@check
def grad_mode_agrees(subject: Subject) -> Finding:
    """``forward`` and ``push`` compute the same with autograd on (as the loss calls ``forward``) and off
    (under ``torch.no_grad`` and ``torch.inference_mode``, as rollouts act), in eval mode on the same inputs:
    a model that reads ``torch.is_grad_enabled()`` to tell acting from training (a temperature, a cache used
    only without autograd) acts with another policy than the one the loss trains. Every other check runs
    without autograd, so none would see it. A path that differs between two calls with autograd on (dropout
    left on, a begin that keeps the old cache) is not compared: `deterministic` and `kv_cache` judge it."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, 4, window(policy), seed=34))
    real = batch["mask"]
    steps = min(real.shape[1], 3)

    def run() -> list[Tensor]:
        """forward's outputs at real steps, then push's at each of the first steps after begin (each call
        on copies of the inputs: one that changes them in place fails `inputs_unchanged`, not this)."""
        out = [policy(**{k: v.clone() for k, v in batch.items()})[real].detach().clone()]
        policy.begin(4)
        for t in range(steps):
            step = {k: v[:, t].clone() for k, v in batch.items() if k != "mask"}
            out.append(policy.push(**step).detach().clone())
        return out

    labels = ["forward"] + [f"push at step {t}" for t in range(steps)]
    with torch.enable_grad():  # autograd on first: a cache built in inference mode cannot be updated after
        on, again = run(), run()
    repeats = [rel_diff(a, b) <= limits.SAME for a, b in zip(on, again, strict=True)]
    worst, where = 0.0, ""
    for label, mode in GRAD_MODES:
        with mode():
            off = run()
        for name, a, b, same in zip(labels, on, off, repeats, strict=True):
            diff = rel_diff(a, b) if same else 0.0
            if diff > worst or not where:
                worst, where = diff, f"{name} with autograd on vs under {label}"
    left_out = [name for name, same in zip(labels, repeats, strict=True) if not same]
    if left_out:
        where += f"; {', '.join(left_out)} not compared (not the same twice with autograd on)"
    why = (
        "the policy computes another function without autograd (rollouts) than with it (the loss): a "
        "branch on torch.is_grad_enabled() or on inference mode"
    )
    return Finding.measured(limits.EXACT_OUTPUTS, worst, where, why, "autograd on and off agree")
