"""Static checks of the training path: gradients reach and move every parameter, the loss ignores padding and
trains every real step, and one batch can be memorised."""

from __future__ import annotations

import math

import torch

from lightup.doctor import limits
from lightup.doctor.check_base import (
    ACT,
    MODES,
    Finding,
    Subject,
    batch_loss,
    build,
    check,
    inputs,
    random_batch,
    seeded,
    start_value,
    window,
)
from lightup.models.policy import SequencePolicy


def _shown(names: list[str]) -> str:
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def declared_frozen(name: str, frozen: tuple[str, ...]) -> bool:
    """Whether parameter ``name`` is declared frozen: named in full, or under a declared module prefix."""
    return any(name == f or name.startswith(f"{f}.") for f in frozen)


@check
def gradients(subject: Subject) -> tuple[bool, str]:
    """Every trainable parameter gets a finite, non-zero gradient from the training loss; parameters frozen
    (requires_grad False) without being declared (``--frozen NAME``) are a failure."""
    policy = build(subject).train()
    frozen = [n for n, p in policy.named_parameters() if not p.requires_grad]
    undeclared = [n for n in frozen if not declared_frozen(n, subject.frozen)]
    if undeclared:
        return False, (
            f"{_shown(undeclared)}: frozen (requires_grad False), so they never train; declare them with "
            "--frozen NAME if that is meant"
        )
    batch = random_batch(policy, 8, window(policy), seed=4)
    batch_loss(subject, policy, batch).backward()
    missing, zero, bad = [], [], []
    for name, p in policy.named_parameters():
        if not p.requires_grad:
            continue
        if p.grad is None:
            missing.append(name)
        elif not torch.isfinite(p.grad).all():
            bad.append(name)
        elif not p.grad.abs().max() > 0:
            zero.append(name)
    problems = [
        (missing, "no gradient (detached from the loss, or unused)"),
        (bad, "a NaN or inf gradient"),
        (zero, "an all-zero gradient"),
    ]
    for names, what in problems:
        if names:
            return False, f"{_shown(names)}: {what}"
    trained = sum(1 for p in policy.parameters() if p.requires_grad)
    note = f"; {len(frozen)} frozen as declared ({_shown(frozen)})" if frozen else ""
    return True, f"{trained} trainable parameter tensors get finite non-zero gradients{note}"


@check
def padded_targets_carry_no_loss(subject: Subject) -> Finding:
    """Padded targets and padded inputs do not change the training loss: the batch's padding (inputs that
    go on as if the episode did) against other targets and inputs there, and against what the trainer's
    replay puts there (timestep 0, the start token), in eval mode and in train mode (the mode the loss is
    trained in; both losses with the same dropout masks)."""
    policy = build(subject)
    batch = random_batch(policy, 8, max(window(policy), 2), seed=10)
    mask = batch["mask"]
    assert not mask.all(), "the batch has padding"
    other = {k: v.clone() for k, v in batch.items()}
    pad = ~mask
    g = torch.Generator().manual_seed(11)
    if policy.discrete:
        other["actions"][pad] = (
            batch["actions"][pad] + 1 + torch.randint(0, policy.act_dim - 1, (int(pad.sum()),), generator=g)
        ) % policy.act_dim
    else:
        other["actions"][pad] = -batch["actions"][pad]
    other["states"][pad] = torch.randn(int(pad.sum()), policy.obs_dim, generator=g) * 5
    other["returns_to_go"][pad] = torch.randn(int(pad.sum()), generator=g) * 5
    other["timesteps"][pad] = 0  # the replay's padding (lightup.training.replay.EpisodeBuffer.sample)
    other["prev_actions"][pad] = start_value(policy)
    worst, where = 0.0, ""
    with torch.no_grad():
        for mode in MODES:
            policy.train(mode == "train")
            a = float(subject.loss(seeded(policy, inputs(batch), 0), batch["actions"], mask, policy.discrete))
            if mode == "train":
                again = seeded(policy, inputs(batch), 0)
                if float(subject.loss(again, batch["actions"], mask, policy.discrete)) != a:
                    break  # its randomness is not torch's: train mode cannot be compared
            b = float(subject.loss(seeded(policy, inputs(other), 0), other["actions"], mask, policy.discrete))
            change = abs(a - b) / max(1.0, abs(a)) if math.isfinite(a) and math.isfinite(b) else math.inf
            if change > worst or not where:
                worst, where = change, f"{mode} mode: the loss moved from {a:.4f} to {b:.4f}"
    why = "changing padded targets and inputs moved the loss: padding reaches the real steps or the loss"
    return Finding.measured(limits.LOSS_OF_PADDING, worst, where, why, "the loss ignores padded steps")


@check
def real_targets_carry_loss(subject: Subject) -> Finding:
    """Changing the target action at any real position changes the training loss (no step dropped)."""
    g = torch.Generator().manual_seed(14)
    b, t = 8, 4
    params = torch.randn(b, t, ACT, generator=g) * 2
    actions = torch.randint(0, ACT, (b, t), generator=g)
    mask = torch.ones(b, t, dtype=torch.bool)
    with torch.no_grad():
        base = float(subject.loss(params, actions, mask, True))
        changes = []
        for pos in range(t):
            other = actions.clone()
            other[:, pos] = (other[:, pos] + 1) % ACT
            after = float(subject.loss(params, other, mask, True))
            ok = math.isfinite(base) and math.isfinite(after)
            changes.append(abs(after - base) / max(1.0, abs(base)) if ok else 0.0)
    pos = min(range(t), key=changes.__getitem__)
    why = f"the target at step {pos} carries no loss: a real step is dropped (an off-by-one slice?)"
    where = f"weakest at position {pos} of {t}"
    return Finding.measured(limits.LOSS_OF_TARGETS, changes[pos], where, why, "every real step is trained")


def fit(policy: SequencePolicy, subject: Subject, seed: int, steps: int, target: float = 0.05):
    """Adam on one fixed batch of 16 windows until the loss falls below ``target``: (steps taken or None,
    first loss, last loss). A non-finite loss stops it (None steps, that loss last)."""
    batch = random_batch(policy, 16, window(policy, 4), seed=100 + seed)
    optimizer = torch.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=subject.lr)
    first = value = math.nan
    for step in range(1, steps + 1):
        loss = batch_loss(subject, policy, batch)
        value = loss.item()
        first = value if step == 1 else first
        if not math.isfinite(value):
            return None, first, value
        if value < target:
            return step, first, value
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return None, first, value


def overfit(subject: Subject, seed: int, steps: int = 400, target: float = 0.05):
    """Fit one fixed batch with Adam at the subject's learning rate; pass when the loss falls below target."""
    policy = build(subject, seed=seed).train()
    took, first, value = fit(policy, subject, seed, steps, target)
    if not math.isfinite(value):
        return False, f"the loss became {value} (lr {subject.lr:g})"
    if took is None:
        return False, (
            f"loss {first:.3f} -> {value:.3f} after {steps} steps (lr {subject.lr:g}); a model that cannot "
            f"memorise 16 windows cannot learn (too small, a broken gradient path, or a bad learning rate)"
        )
    return True, f"loss {first:.3f} -> {value:.3f} in {took} steps"


@check
def overfit_batch(subject: Subject) -> Finding:
    """The model memorises one fixed batch of 16 windows (loss below 0.05) within 800 Adam steps
    (healthy models of other shapes take up to ~500), and every trainable parameter moves on the way."""
    policy = build(subject).train()
    before = {n: p.detach().clone() for n, p in policy.named_parameters() if p.requires_grad}
    took, first, value = fit(policy, subject, subject.seed, limits.OVERFIT_STEPS)
    if not math.isfinite(value):
        return Finding("fail", f"the loss became {value} (lr {subject.lr:g}): lower the learning rate")
    moved = {
        n: float((p.detach() - before[n]).abs().max()) / subject.lr
        for n, p in policy.named_parameters()
        if n in before
    }
    still = min(moved, key=moved.get) if moved else ""
    if moved and limits.MOVED.judge(moved[still]) != "pass":
        why = "it never trains (its gradient is zero, overwritten or scaled to nothing)"
        return Finding.measured(limits.MOVED, moved[still], f"parameter {still!r}", why, "")
    steps = math.inf if took is None else took  # inf: not within the budget
    why = (
        "a model that cannot memorise 16 windows cannot learn (too small, a broken gradient path, a readout "
        f"at the wrong position, or a bad learning rate {subject.lr:g})"
    )
    where = f"loss {first:.3f} -> {value:.3f}"
    if moved:
        where += f"; every parameter moved, {still!r} least ({moved[still]:.3g} learning rates)"
    found = Finding.measured(limits.OVERFIT, float(steps), where, why, "memorised")
    found.also = {limits.MOVED.quantity: moved[still]} if moved else {}
    return found
