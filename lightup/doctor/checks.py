"""Static checks: seconds on a CPU, no environment. Each takes a `Subject` and returns a `CheckResult`.

They test the `SequencePolicy` contract (see `lightup.models.policy`) and the trainer pieces a model meets
on the way (the loss, the hindsight relabelling), on small random batches: discrete actions, S = 3
observation dims, A = 4 actions. Differences are judged relative to the size of the outputs, because a
well-initialised policy starts with tiny logits (a near-uniform start).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy, action_distribution
from lightup.training.loss import action_nll
from lightup.training.replay import Episode, EpisodeBuffer

PolicyFactory = Callable[[int, int, bool], SequencePolicy]
"""``factory(obs_dim, act_dim, discrete) -> SequencePolicy``: a fresh, randomly initialised policy. The
static checks also take a built policy in its place (they then work at its sizes)."""

OBS, ACT = 3, 4
SAME = 1e-4  # relative difference below which two outputs count as equal (float32 noise is ~1e-6)
DIFFERENT = 1e-3  # relative difference above which two outputs count as different


@dataclass
class Subject:
    """What the doctor examines: a policy factory and the trainer pieces the checks exercise.

    The defaults are lightup's own pieces; the bug zoo (tests/bug_zoo.py) swaps in broken ones."""

    factory: PolicyFactory | SequencePolicy
    name: str = "policy"
    loss: Callable[[Tensor, Tensor, Tensor, bool], Tensor] = action_nll
    """(params, actions, mask, discrete) -> the mean training loss over real steps."""
    episode_cls: type[Episode] = Episode
    """Builds a stored episode and its hindsight returns-to-go."""
    lr: float = 1e-3
    """Learning rate of the overfitting checks and rungs (the trainer's --lr)."""
    train_overrides: dict = field(default_factory=dict)
    """TrainConfig fields the environment rungs use for this subject (and for the reference beside it)."""


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "seconds": self.seconds}


def build(
    subject: Subject, seed: int = 0, obs_dim: int | None = None, act_dim: int | None = None
) -> SequencePolicy:
    """A fresh policy from the subject's factory (at S = 3, A = 4 unless sizes are given). A subject given
    as a built policy yields a copy of it: the checks then work at its own sizes, and a rung that needs
    other sizes is told so."""
    torch.manual_seed(seed)
    if isinstance(subject.factory, SequencePolicy):
        policy = copy.deepcopy(subject.factory)
        wanted = (obs_dim or policy.obs_dim, act_dim or policy.act_dim)
        if (policy.obs_dim, policy.act_dim) != wanted:
            raise LightupError(
                f"a built policy (obs_dim {policy.obs_dim}, act_dim {policy.act_dim}) cannot play "
                f"an env with obs_dim {wanted[0]}, act_dim {wanted[1]}: pass a factory instead"
            )
    else:
        policy = subject.factory(obs_dim or OBS, act_dim or ACT, True)
    assert isinstance(policy, SequencePolicy), f"the factory returned a {type(policy).__name__}"
    assert policy.discrete, "the doctor checks discrete-action policies (as the trainer trains)"
    return policy


def rel_diff(a: Tensor, b: Tensor) -> float:
    """max |a - b| relative to the larger output; inf where either is not finite."""
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return math.inf
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    return float((a - b).abs().max()) / scale


def random_batch(policy: SequencePolicy, b: int, t: int, seed: int, pad: bool = True) -> dict[str, Tensor]:
    """A batch shaped like the trainer's windows: (B, T) with some rows right-padded, episodes starting at
    step 0 (start token) in some rows and mid-episode in others; ``actions`` are the targets."""
    g = torch.Generator().manual_seed(seed)
    act = policy.act_dim
    start = torch.randint(0, 6, (b, 1), generator=g) * (torch.rand(b, 1, generator=g) < 0.6)
    timesteps = start + torch.arange(t)[None, :]
    actions = torch.randint(0, act, (b, t), generator=g)
    prev = torch.cat([torch.randint(0, act, (b, 1), generator=g), actions[:, :-1]], dim=1)
    prev[timesteps == 0] = act  # the start token
    mask = torch.ones(b, t, dtype=torch.bool)
    if pad:
        lengths = torch.randint(1, t + 1, (b,), generator=g)
        lengths[0] = t
        mask = torch.arange(t)[None, :] < lengths[:, None]
    return {
        "returns_to_go": torch.randn(b, t, generator=g),
        "states": torch.randn(b, t, policy.obs_dim, generator=g),
        "prev_actions": prev,
        "timesteps": timesteps,
        "mask": mask,
        "actions": actions,
    }


def inputs(batch: dict[str, Tensor]) -> dict[str, Tensor]:
    return {k: v for k, v in batch.items() if k != "actions"}


def _timed(fn: Callable[[Subject], tuple[bool, str]]) -> Callable[[Subject], CheckResult]:
    """Run a check, time it, and turn an exception into a failure that names it."""
    name = fn.__name__

    def run(subject: Subject) -> CheckResult:
        t0 = time.perf_counter()
        try:
            passed, detail = fn(subject)
        except Exception as err:  # a crash is a finding, not a doctor bug: report it on the check's line
            passed, detail = (
                False,
                f"raised {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
            )
        return CheckResult(name, passed, detail, time.perf_counter() - t0)

    run.__name__ = name
    run.__doc__ = fn.__doc__
    return run


# --- the checks ---


@_timed
def output_shape(subject: Subject) -> tuple[bool, str]:
    """forward returns finite (B, T, P) parameters, P = the number of actions."""
    policy = build(subject).eval()
    batch = random_batch(policy, 4, min(policy.context_len, 6), seed=1)
    with torch.no_grad():
        params = policy(**inputs(batch))
    want = (4, batch["mask"].shape[1], policy.act_dim)
    if tuple(params.shape) != want:
        return False, f"forward gave shape {tuple(params.shape)}, expected (B, T, A) = {want}"
    if not torch.isfinite(params[batch["mask"]]).all():
        return False, "forward gave NaN or inf at real steps"
    return True, f"shape {want}, finite"


@_timed
def causal_masking(subject: Subject) -> tuple[bool, str]:
    """Changing the inputs after step t leaves the outputs up to step t unchanged."""
    policy = build(subject).eval()
    t_len = max(min(policy.context_len, 6), 2)
    batch = inputs(random_batch(policy, 4, t_len, seed=2, pad=False))
    with torch.no_grad():
        base = policy(**batch)
        for t in range(t_len - 1):
            other = {k: v.clone() for k, v in batch.items()}
            g = torch.Generator().manual_seed(100 + t)
            other["returns_to_go"][:, t + 1 :] = torch.randn(4, t_len - t - 1, generator=g) * 3
            other["states"][:, t + 1 :] = torch.randn(4, t_len - t - 1, policy.obs_dim, generator=g) * 3
            other["prev_actions"][:, t + 1 :] = (other["prev_actions"][:, t + 1 :] + 1) % policy.act_dim
            out = policy(**other)
            diff = rel_diff(base[:, : t + 1], out[:, : t + 1])
            if diff > SAME:
                return False, (
                    f"outputs at steps <= {t} changed (relative {diff:.1e}) when only later inputs changed: "
                    "the model sees the future (a missing or wrong causal mask)"
                )
    return True, f"outputs at each step independent of later steps (T = {t_len})"


@_timed
def kv_cache(subject: Subject) -> tuple[bool, str]:
    """begin/push/reset give what forward gives, past the context length and with a reset in the middle
    of the batch. Two semantics are exact: forward over the whole episode so far (a banded cache, as our
    Decision Transformer keeps) or over its last K steps (the `SequencePolicy` default); a policy must
    match one of them at every step."""
    policy = build(subject).eval()
    k = policy.context_len
    n, length = 3, k + 4
    g = torch.Generator().manual_seed(3)
    rtg = torch.randn(n, length, generator=g)
    states = torch.randn(n, length, policy.obs_dim, generator=g)
    actions = torch.randint(0, policy.act_dim, (n, length), generator=g)
    resets = {0: set(), 1: {2}, 2: {k + 1}}  # steps at which a new episode begins (besides step 0)
    episode_start = [0] * n
    worst = {"episode": 0.0, "window": 0.0}
    where = {"episode": "", "window": ""}

    def reference(i: int, lo: int, j: int) -> Tensor:
        steps = torch.arange(lo, j + 1)
        prev = torch.where(
            steps == episode_start[i], policy.start_action, actions[i, (steps - 1).clamp(min=0)]
        )
        return policy(
            rtg[i : i + 1, lo : j + 1],
            states[i : i + 1, lo : j + 1],
            prev[None],
            (steps - episode_start[i])[None],
            torch.ones(1, j + 1 - lo, dtype=torch.bool),
        )[0, -1]

    with torch.no_grad():
        policy.begin(n)
        for j in range(length):
            done = torch.tensor([j in resets[i] for i in range(n)])
            if done.any():
                policy.reset(done)
            for i in range(n):
                if j in resets[i]:
                    episode_start[i] = j
            ts = torch.tensor([j - episode_start[i] for i in range(n)])
            prev = torch.tensor(
                [policy.start_action if ts[i] == 0 else int(actions[i, j - 1]) for i in range(n)]
            )
            pushed = policy.push(rtg[:, j], states[:, j], prev, ts)
            for i in range(n):
                for kind, lo in (("episode", episode_start[i]), ("window", max(episode_start[i], j - k + 1))):
                    if worst[kind] == math.inf:
                        continue
                    try:
                        diff = rel_diff(pushed[i], reference(i, lo, j))
                    except Exception:  # e.g. a model whose forward takes at most K steps
                        diff = math.inf
                    if diff > worst[kind]:
                        worst[kind], where[kind] = diff, f"sequence {i}, step {j}"
    kind = min(worst, key=worst.get)
    if worst[kind] > SAME:
        return False, (
            f"push differs from forward (relative {worst['episode']:.1e} at {where['episode']} against the "
            f"whole episode, {worst['window']:.1e} at {where['window']} against the last K steps): check the "
            "cache position, the ring buffer and reset"
        )
    span = "the whole episode so far" if kind == "episode" else "the last K steps"
    return True, f"push equals forward over {span} for {length} steps (K = {k}), with resets"


@_timed
def gradients(subject: Subject) -> tuple[bool, str]:
    """Every parameter gets a finite, non-zero gradient from the training loss."""
    policy = build(subject).train()
    batch = random_batch(policy, 8, min(policy.context_len, 6), seed=4)
    params = policy(**inputs(batch))
    loss = subject.loss(params, batch["actions"], batch["mask"], True)
    loss.backward()
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
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            return False, f"{shown}: {what}"
    return True, f"{sum(1 for _ in policy.parameters())} parameter tensors get finite non-zero gradients"


@_timed
def start_token_never_sampled(subject: Subject) -> tuple[bool, str]:
    """The head has one output per action: the start token (index A) is an input only."""
    policy = build(subject).eval()
    batch = random_batch(policy, 4, min(policy.context_len, 4), seed=5)
    with torch.no_grad():
        params = policy(**inputs(batch))
        if params.shape[-1] != policy.act_dim:
            return False, (
                f"the head gives {params.shape[-1]} outputs for {policy.act_dim} actions: the start token "
                f"(index {policy.act_dim}) can be sampled or predicted"
            )
        dist = policy.distribution(params * 10)  # sharpen, so that mass anywhere would show
        support = dist.probs.shape[-1] if hasattr(dist, "probs") else policy.act_dim
        samples = dist.sample((64,))
    if support != policy.act_dim or int(samples.max()) >= policy.act_dim or int(samples.min()) < 0:
        return False, f"the action distribution covers {support} values; samples reach {int(samples.max())}"
    return True, f"{policy.act_dim} outputs for {policy.act_dim} actions; the start token is never sampled"


@_timed
def sampling_matches_loss(subject: Subject) -> tuple[bool, str]:
    """Rollouts sample from the distribution the loss trains (``policy.distribution`` vs the trainer's)."""
    policy = build(subject).eval()
    params = torch.randn(6, 3, policy.act_dim, generator=torch.Generator().manual_seed(6)) * 2
    actions = torch.randint(0, policy.act_dim, (6, 3), generator=torch.Generator().manual_seed(7))
    sampled = policy.distribution(params).log_prob(actions)
    trained = action_distribution(params, True).log_prob(actions)
    diff = float((sampled - trained).abs().max())
    if not diff < 1e-4:
        return False, (
            f"policy.distribution's log-probabilities differ from the trained ones by up to {diff:.2g} nats: "
            "rollouts do not sample what the loss fits (a temperature in the wrong space?)"
        )
    return True, "sampling and the loss use the same distribution"


@_timed
def returns_to_go_matter(subject: Subject) -> tuple[bool, str]:
    """Changing the returns-to-go changes the output (the command is not ignored)."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, 4, min(policy.context_len, 4), seed=8, pad=False))
    with torch.no_grad():
        high = policy(**{**batch, "returns_to_go": torch.ones_like(batch["returns_to_go"])})
        low = policy(**{**batch, "returns_to_go": -torch.ones_like(batch["returns_to_go"])})
    diff = rel_diff(high, low)
    if not diff > DIFFERENT:
        return False, f"outputs for returns-to-go +1 and -1 differ by only {diff:.1e} (relative)"
    return True, f"returns-to-go +1 vs -1 change the output by {diff:.1e} (relative)"


@_timed
def timesteps_matter(subject: Subject) -> tuple[bool, str]:
    """With a timestep embedding configured, changing the timesteps changes the output."""
    policy = build(subject).eval()
    config = getattr(policy, "config", None)
    if not getattr(config, "timestep_embedding", False):
        return True, "the policy declares no timestep embedding (nothing to check)"
    batch = inputs(random_batch(policy, 4, min(policy.context_len, 4), seed=9, pad=False))
    later = batch["timesteps"] + 7  # no step becomes 0, so the start token stays where it was
    later = torch.where(batch["timesteps"] == 0, 0, later)
    with torch.no_grad():
        a = policy(**batch)
        b = policy(**{**batch, "timesteps": later})
    diff = rel_diff(a, b)
    if not diff > DIFFERENT:
        return False, (
            f"config.timestep_embedding is on but other timesteps change the output by only {diff:.1e}: "
            "the embedding is not used"
        )
    return True, f"timesteps change the output by {diff:.1e} (relative)"


@_timed
def padded_targets_carry_no_loss(subject: Subject) -> tuple[bool, str]:
    """Padded targets and padded inputs do not change the training loss."""
    policy = build(subject).eval()
    batch = random_batch(policy, 8, max(min(policy.context_len, 6), 2), seed=10)
    mask = batch["mask"]
    assert not mask.all(), "the batch has padding"
    other = {k: v.clone() for k, v in batch.items()}
    pad = ~mask
    g = torch.Generator().manual_seed(11)
    other["actions"][pad] = (
        batch["actions"][pad] + 1 + torch.randint(0, policy.act_dim - 1, (int(pad.sum()),), generator=g)
    ) % policy.act_dim
    other["states"][pad] = torch.randn(int(pad.sum()), policy.obs_dim, generator=g) * 5
    other["returns_to_go"][pad] = torch.randn(int(pad.sum()), generator=g) * 5
    with torch.no_grad():
        a = subject.loss(policy(**inputs(batch)), batch["actions"], mask, True)
        b = subject.loss(policy(**inputs(other)), other["actions"], mask, True)
    diff = abs(float(a) - float(b))
    if not (math.isfinite(float(a)) and diff < 1e-5 * max(1.0, abs(float(a)))):
        return (
            False,
            f"changing padded targets and inputs moved the loss from {float(a):.4f} to {float(b):.4f}",
        )
    return True, "the loss ignores padded steps"


@_timed
def initial_entropy(subject: Subject) -> tuple[bool, str]:
    """At initialisation the action distribution is near uniform (entropy near log A)."""
    policy = build(subject).eval()
    batch = random_batch(policy, 8, min(policy.context_len, 4), seed=12)
    with torch.no_grad():
        entropy = policy.distribution(policy(**inputs(batch))).entropy()[batch["mask"]].mean()
    share = float(entropy) / math.log(policy.act_dim)
    if not share > 0.9:
        return False, (
            f"initial entropy is {share:.0%} of the maximum: the policy starts nearly deterministic "
            "(initialise the head small, as the Decision Transformer does)"
        )
    return True, f"initial entropy {share:.1%} of the maximum"


@_timed
def distinct_outputs(subject: Subject) -> tuple[bool, str]:
    """Different states give different outputs at initialisation (no collapsed embeddings)."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, 8, min(policy.context_len, 4), seed=13, pad=False))
    with torch.no_grad():
        params = policy(**batch)
        other = policy(**{**batch, "states": batch["states"].flip(0)})
    flat = params.reshape(-1, params.shape[-1])
    spread = rel_diff(flat, flat.mean(0, keepdim=True).expand_as(flat))
    diff = rel_diff(params, other)
    if not (spread > DIFFERENT and diff > DIFFERENT):
        return False, (
            f"outputs for different inputs are (nearly) identical (spread {spread:.1e}, states swapped "
            f"{diff:.1e}): collapsed embeddings or a zero head"
        )
    return True, f"outputs differ across inputs (spread {spread:.1e}; new states {diff:.1e})"


def overfit(subject: Subject, seed: int, steps: int = 400, target: float = 0.05) -> tuple[bool, str]:
    """Fit one fixed batch with Adam at the subject's learning rate; pass when the loss falls below target."""
    policy = build(subject, seed=seed).train()
    batch = random_batch(policy, 16, min(policy.context_len, 4), seed=100 + seed)
    optimizer = torch.optim.Adam(policy.parameters(), lr=subject.lr)
    first = value = None
    for step in range(1, steps + 1):
        loss = subject.loss(policy(**inputs(batch)), batch["actions"], batch["mask"], True)
        value = loss.item()
        if not math.isfinite(value):
            return False, f"the loss became {value} at step {step} (lr {subject.lr:g})"
        first = value if first is None else first
        if value < target:
            return True, f"loss {first:.3f} -> {value:.3f} in {step} steps"
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return False, (
        f"loss {first:.3f} -> {value:.3f} after {steps} steps (lr {subject.lr:g}); a model that cannot "
        f"memorise 16 windows cannot learn (too small, a broken gradient path, or a bad learning rate)"
    )


@_timed
def overfit_batch(subject: Subject) -> tuple[bool, str]:
    """The model memorises one fixed batch of 16 windows (loss below 0.05) within 400 Adam steps."""
    return overfit(subject, seed=0)


@_timed
def relabelling(subject: Subject) -> tuple[bool, str]:
    """Stored episodes get hindsight returns-to-go (R_t = r_t + ... + r_T, from the rewards received, not
    the command) and training windows pair them with the right states and previous actions."""
    rewards = np.array([0.0, 1.0, 0.0, 2.0, 1.0], np.float32)
    actions = np.array([1, 0, 3, 2, 1])
    obs = np.arange(len(rewards) * OBS, dtype=np.float32).reshape(len(rewards), OBS)
    ep = subject.episode_cls(obs, actions, rewards, True, commanded=10.0)
    want = [float(rewards[t:].sum()) for t in range(len(rewards))]
    got = [float(x) for x in ep.returns_to_go]
    if not np.allclose(got, want):
        return False, f"returns-to-go of rewards {rewards.tolist()} (commanded 10) are {got}, expected {want}"
    buffer = EpisodeBuffer(4)
    buffer.add(ep)
    batch = buffer.sample(32, 3, np.random.default_rng(0), return_scale=2.0, start_action=ACT)
    for b in range(32):
        n = int(batch["mask"][b].sum())
        steps = batch["timesteps"][b, :n].tolist()
        rtg = batch["returns_to_go"][b, :n].tolist()
        prev = batch["prev_actions"][b, :n].tolist()
        if not np.allclose(rtg, [want[s] / 2.0 for s in steps]):
            return (
                False,
                f"a window at steps {steps} holds returns-to-go {rtg}, "
                f"expected {[want[s] / 2 for s in steps]}",
            )
        if prev != [ACT if s == 0 else int(actions[s - 1]) for s in steps]:
            return False, f"a window at steps {steps} holds previous actions {prev}"
    return True, "hindsight returns-to-go and windows match hand-computed values"


STATIC_CHECKS: tuple[Callable[[Subject], CheckResult], ...] = (
    output_shape,
    causal_masking,
    kv_cache,
    gradients,
    start_token_never_sampled,
    sampling_matches_loss,
    returns_to_go_matter,
    timesteps_matter,
    padded_targets_carry_no_loss,
    initial_entropy,
    distinct_outputs,
    relabelling,
    overfit_batch,
)
CHECK_NAMES = tuple(c.__name__ for c in STATIC_CHECKS)


def run_static(subject: Subject, only: tuple[str, ...] = ()) -> list[CheckResult]:
    """Every static check (or those named in ``only``), in order; never raises."""
    return [check(subject) for check in STATIC_CHECKS if not only or check.__name__ in only]
