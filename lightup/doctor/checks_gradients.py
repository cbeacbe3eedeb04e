"""A static check that the gradients the optimizer gets are those of the loss: each trainable tensor's
directional derivative by autograd against central finite differences of the loss itself.

`checks_training.gradients` sees a parameter with no gradient, a NaN or an all-zero one; it cannot see a
gradient of the wrong size or sign. A custom ``autograd.Function`` whose backward forgets a factor or flips a
sign, a ``detach`` on one of two paths to a tensor, a straight-through trick left in, a hook that rescales a
gradient: the model still trains, the other layers make up for part of it, and no output changes. Finite
differences need no knowledge of the model. In float64 (the policy and the batch are copied and converted)
they agree with a healthy model's autograd to about 1e-8; a model that cannot run in float64 is measured in
its own float32 with a looser step, and its verdict is inconclusive where the difference is no larger than
float32's rounding can make it. A model whose output is of lower precision than its inputs (it computes
under autocast, or casts its output to float32 itself) is measured at the step and against the limit of its
output's precision: its loss is a staircase at float64's step, whose finite differences are its rounding.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from lightup.doctor import limits
from lightup.doctor.check_base import Finding, Subject, batch_loss, build, check, inputs, random_batch, window

# Relative step along each unit direction: small against the weights, large against float64's rounding.
STEP = {torch.float64: 1e-5, torch.float32: 1e-3, torch.bfloat16: 3e-2, torch.float16: 3e-2}
# The least a tensor's error is measured against, as a share of the largest tensor's derivative.
FLOOR = {torch.float64: 1e-3, torch.float32: 0.1, torch.bfloat16: 0.1, torch.float16: 0.1}


def _in(dtype: torch.dtype, policy, batch: dict[str, Tensor]):
    """A copy of ``policy`` and ``batch`` with their floating tensors in ``dtype``."""
    policy = copy.deepcopy(policy).to(dtype)
    return policy, {k: v.to(dtype) if v.is_floating_point() else v for k, v in batch.items()}


def _errors(policy, subject: Subject, batch: dict[str, Tensor], dtype) -> tuple[dict[str, float], dict]:
    """Per trainable tensor: autograd's and the finite differences' derivative of the loss along one random
    unit direction (seeded), and the relative error of the first against the second; the step and the floor
    are those of ``dtype``, the precision of the policy's output."""
    named = [(n, p) for n, p in policy.named_parameters() if p.requires_grad]
    policy.zero_grad(set_to_none=True)
    batch_loss(subject, policy, batch).backward()
    g = torch.Generator().manual_seed(41)
    pairs = {}
    with torch.no_grad():
        for name, p in named:
            v = torch.randn(p.shape, generator=g, dtype=torch.float64).to(dtype)
            v /= v.norm().clamp(min=1e-30)
            auto = float((p.grad * v).sum()) if p.grad is not None else 0.0
            h = STEP[dtype] * max(float(p.norm()) / max(p.numel(), 1) ** 0.5, 1.0)
            p.add_(h * v)
            up = float(batch_loss(subject, policy, batch))
            p.sub_(2 * h * v)
            down = float(batch_loss(subject, policy, batch))
            p.add_(h * v)
            pairs[name] = (auto, (up - down) / (2 * h))
    # Each error relative to the tensor's own derivative, but never to less than a share of the largest:
    # rounding is a share of the loss, so a tensor whose derivative is tiny measures mostly noise.
    largest = max((max(abs(a), abs(f)) for a, f in pairs.values()), default=0.0)
    errors = {
        name: abs(a - f) / max(abs(a), abs(f), FLOOR[dtype] * largest)
        for name, (a, f) in pairs.items()
        if max(abs(a), abs(f)) > 0
    }
    return errors, pairs


@check
def gradients_are_the_losses(subject: Subject) -> Finding:
    """Each trainable tensor's gradient, along a random direction, is the derivative of the training loss
    measured by central finite differences (eval mode, float64 where the model runs in it)."""
    policy = build(subject).eval()
    batch = random_batch(policy, 4, window(policy), seed=42)
    try:
        model, data = _in(torch.float64, policy, batch)
        with torch.no_grad():
            out = model(**inputs(data)).dtype
        if out == torch.float64:
            errors, pairs = _errors(model, subject, data, torch.float64)
            limit, kind = limits.GRADIENT_EXACT, "float64"
        else:
            errors, pairs = _errors(model, subject, data, out if out in STEP else torch.float32)
            limit, kind = limits.GRADIENT_FLOAT32, f"float64 inputs, its output in {out} (at that precision)"
    except Exception:  # noqa: BLE001 (a model that builds or asserts float32 tensors of its own)
        errors, pairs = _errors(policy, subject, batch, torch.float32)
        limit, kind = limits.GRADIENT_FLOAT32, "float32 (the model does not run in float64)"
    if not errors:
        return Finding("pass", f"no trainable tensor has a derivative to compare ({len(pairs)} tensors)")
    name = max(errors, key=errors.get)
    auto, fd = pairs[name]
    where = f"{name}: autograd {auto:.4g}, finite differences {fd:.4g}, in {kind}, over {len(errors)} tensors"
    why = (
        "the optimizer gets another gradient than the loss's: a custom backward, a hook, a detach on one of "
        "two paths or a straight-through trick changes its size or sign"
    )
    found = Finding.measured(limit, errors[name], where, why, "gradients are the loss's derivatives")
    found.also = {"tensors_compared": float(len(errors))}
    return found
