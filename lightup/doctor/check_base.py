"""What every static check shares: the `Subject` it examines, the `CheckResult` it returns, the `Limit` that
turns a measured quantity into a verdict with its margin, and the random batches the checks feed a policy.

Checks run on small random batches: discrete actions (or continuous ones, for a subject of continuous
actions), S = 3 observation dims, A = 4 actions. Differences are judged relative to the size of the outputs,
because a well-initialised policy starts with tiny logits (a near-uniform start). A check that has no
meaning for continuous actions says so and is skipped (`discrete_only`).
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy
from lightup.training.loss import action_nll
from lightup.training.replay import Episode

PolicyFactory = Callable[[int, int, bool], SequencePolicy]
"""``factory(obs_dim, act_dim, discrete) -> SequencePolicy``: a fresh, randomly initialised policy. The
static checks also take a built policy in its place (they then work at its sizes)."""

OBS, ACT = 3, 4
Verdict = Literal["pass", "fail", "inconclusive", "skipped"]


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
    frozen: tuple[str, ...] = ()
    """Parameters frozen on purpose (requires_grad False), by name or by module prefix; any other frozen
    parameter fails the `gradients` check."""
    seed: int = 0
    """Seed of the initialisation the static checks build (the margins script varies it)."""
    discrete: bool = True
    """The kind of actions the checks build the factory's policies for (a built policy keeps its own)."""
    ladder: bool = True
    """Climb the ladder too (False: static checks only, as for a deeper copy of a model whose ladder size
    has one layer, where a bug in the flow between layers cannot show)."""


@dataclass(frozen=True)
class Limit:
    """Where a check's measured quantity puts a model. Healthy models measure on the healthy side of
    ``pass_at``, broken ones past ``fail_at`` (benchmarks/results/doctor_margins.md); between the two the
    verdict is inconclusive. The margin is the ratio of the value to ``fail_at``, oriented so that a margin
    above 1 lies on the healthy side."""

    quantity: str
    fail_at: float
    pass_at: float
    higher_is_healthy: bool = True
    next_step: str = "run the ladder, whose rungs need this to learn"
    """What to run when the verdict is inconclusive."""

    def margin(self, value: float) -> float:
        if math.isnan(value):
            return 0.0
        num, den = (value, self.fail_at) if self.higher_is_healthy else (self.fail_at, value)
        return math.inf if den == 0 else num / den

    def judge(self, value: float) -> Verdict:
        if math.isnan(value):
            return "fail"
        if self.higher_is_healthy:
            return "pass" if value >= self.pass_at else "fail" if value < self.fail_at else "inconclusive"
        return "pass" if value <= self.pass_at else "fail" if value > self.fail_at else "inconclusive"

    def describe(self, value: float) -> str:
        op = ">=" if self.higher_is_healthy else "<="
        return (
            f"{self.quantity} {value:.3g} (limit {op} {self.fail_at:.3g}, margin {self.margin(value):.3g}x)"
        )


@dataclass
class Finding:
    """What a check function returns: its verdict and detail, and the measured quantity behind it."""

    verdict: Verdict
    detail: str
    value: float | None = None
    limit: Limit | None = None
    also: dict[str, float] = field(default_factory=dict)
    """Other quantities the check measured on the way (name -> value)."""

    @classmethod
    def measured(cls, limit: Limit, value: float, where: str, why: str, ok: str) -> Finding:
        """The verdict of ``value`` against ``limit``: ``where`` names the input and position measured,
        ``why`` explains a failure, ``ok`` a pass."""
        verdict = limit.judge(value)
        text = f"{limit.describe(value)}{', ' + where if where else ''}"
        if verdict == "fail":
            text = f"{text}: {why}"
        elif verdict == "inconclusive":
            text = (
                f"inconclusive: {text}, between broken (past {limit.fail_at:.3g}) and healthy models "
                f"(past {limit.pass_at:.3g}); {limit.next_step}"
            )
        else:
            text = f"{ok}: {text}"
        return cls(verdict, text, value, limit)


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    seconds: float = 0.0
    verdict: Verdict = "pass"
    value: float | None = None
    """The measured quantity (None for a check with no scalar)."""
    quantity: str = ""
    """What ``value`` measures."""
    limit: float | None = None
    """The failing limit of the quantity (``Limit.fail_at``)."""
    pass_at: float | None = None
    """The limit it must reach to pass (``Limit.pass_at``); between the two, inconclusive."""
    margin: float | None = None
    also: dict[str, float] = field(default_factory=dict)
    """Other quantities the check measured on the way (name -> value)."""

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "passed": self.passed,
            "verdict": self.verdict,
            "detail": self.detail,
            "value": self.value,
            "quantity": self.quantity,
            "limit": self.limit,
            "pass_at": self.pass_at,
            "margin": self.margin,
            "also": self.also,
            "seconds": self.seconds,
        }


def check(fn: Callable[[Subject], Finding | tuple[bool, str]]) -> Callable[[Subject], CheckResult]:
    """Run a check, time it, and turn an exception into a failure that names it."""
    name = fn.__name__

    def run(subject: Subject) -> CheckResult:
        t0 = time.perf_counter()
        try:
            found = fn(subject)
        except Exception as err:  # a crash is a finding, not a doctor bug: report it on the check's line
            first = str(err).splitlines()[0] if str(err) else ""
            found = Finding("fail", f"raised {type(err).__name__}: {first}")
        if isinstance(found, tuple):
            found = Finding("pass" if found[0] else "fail", found[1])
        lim = found.limit
        return CheckResult(
            name,
            found.verdict in ("pass", "skipped"),
            found.detail,
            time.perf_counter() - t0,
            found.verdict,
            found.value,
            "" if lim is None else lim.quantity,
            None if lim is None else lim.fail_at,
            None if lim is None else lim.pass_at,
            None if lim is None or found.value is None else lim.margin(found.value),
            found.also,
        )

    run.__name__ = name
    run.__doc__ = fn.__doc__
    return run


def build(
    subject: Subject,
    seed: int | None = None,
    obs_dim: int | None = None,
    act_dim: int | None = None,
    discrete: bool | None = None,
) -> SequencePolicy:
    """A fresh policy from the subject's factory (at S = 3, A = 4 unless sizes are given, for the subject's
    kind of actions unless ``discrete`` says; seeded with ``seed``, by default the subject's). A subject
    given as a built policy yields a copy of it: the checks then work at its own sizes, and a rung that
    needs other sizes is told so."""
    torch.manual_seed(subject.seed if seed is None else seed)
    if isinstance(subject.factory, SequencePolicy):
        policy = copy.deepcopy(subject.factory)
        wanted = (obs_dim or policy.obs_dim, act_dim or policy.act_dim)
        if (policy.obs_dim, policy.act_dim) != wanted:
            raise LightupError(
                f"a built policy (obs_dim {policy.obs_dim}, act_dim {policy.act_dim}) cannot play "
                f"an env with obs_dim {wanted[0]}, act_dim {wanted[1]}: pass a factory instead"
            )
    else:
        kind = subject.discrete if discrete is None else discrete
        policy = subject.factory(obs_dim or OBS, act_dim or ACT, kind)
    assert isinstance(policy, SequencePolicy), f"the factory returned a {type(policy).__name__}"
    return policy


def discrete_only(policy: SequencePolicy, why: str) -> Finding | None:
    """A skip, with its reason, for a check that has no meaning for a continuous-action policy; else None."""
    return None if policy.discrete else Finding("skipped", f"skipped for continuous actions: {why}")


def random_actions(policy: SequencePolicy, shape: tuple[int, ...], g: torch.Generator) -> Tensor:
    """Actions of the policy's kind: indices (shape), or vectors in [-0.9, 0.9] (shape + (A,))."""
    if policy.discrete:
        return torch.randint(0, policy.act_dim, shape, generator=g)
    return torch.rand(*shape, policy.act_dim, generator=g) * 1.8 - 0.9


def start_value(policy: SequencePolicy) -> int | float:
    """What ``prev_actions`` holds at an episode start: the start token, or (ignored there) zeros."""
    return policy.start_action if policy.discrete else 0.0


def row_changes(a: Tensor, b: Tensor) -> Tensor:
    """For each row of (B, ...) outputs, its largest change relative to the largest output of either batch
    (inf where either is not finite)."""
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return torch.full((a.shape[0],), math.inf)
    scale = max(float(a.abs().max()), float(b.abs().max()), 1e-12)
    return (a - b).abs().reshape(a.shape[0], -1).amax(1) / scale


def rel_diff(a: Tensor, b: Tensor) -> float:
    """max |a - b| relative to the larger output; inf where either is not finite."""
    return float(row_changes(a.reshape(1, -1), b.reshape(1, -1))[0])


def random_batch(
    policy: SequencePolicy, b: int, t: int, seed: int, pad: bool = True, mid_episode: bool = False
) -> dict[str, Tensor]:
    """A batch shaped like the trainer's windows: (B, T) with some rows right-padded, episodes starting at
    step 0 (start token) in some rows and mid-episode in others (in every row if ``mid_episode``: then
    every previous action is a real one); ``actions`` are the targets."""
    g = torch.Generator().manual_seed(seed)
    act = policy.act_dim
    if mid_episode:
        start = torch.randint(1, 6, (b, 1), generator=g)
    else:
        start = torch.randint(0, 6, (b, 1), generator=g) * (torch.rand(b, 1, generator=g) < 0.6)
    timesteps = start + torch.arange(t)[None, :]
    actions = random_actions(policy, (b, t), g)
    prev = torch.cat([random_actions(policy, (b, 1), g), actions[:, :-1]], dim=1)
    if policy.discrete:
        prev[timesteps == 0] = act  # the start token (continuous: ignored there by the contract)
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


def batch_loss(subject: Subject, policy: SequencePolicy, batch: dict[str, Tensor]) -> Tensor:
    """The subject's training loss of ``policy`` on ``batch`` (its ``actions`` the targets)."""
    return subject.loss(policy(**inputs(batch)), batch["actions"], batch["mask"], policy.discrete)


MODES = ("eval", "train")
"""The modes a property of the training path must hold in: rollouts act in eval mode, the loss trains in
train mode, and a model may compute its mask or its statistics differently in each (a mask applied in eval
only, a batch norm whose training statistics span the time axis and the padding)."""


@contextmanager
def all_rngs(seed: int) -> Iterator[None]:
    """Every global RNG a model may draw from seeded with ``seed``, and restored after: torch's, Python's
    `random` and numpy's. A model that drops steps or adds noise with `random.random()` or `np.random` in
    train mode (not torch's RNG) would otherwise meet other draws in each of two forwards compared, and a
    check's verdict would change from one run to the next."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        random.seed(seed)
        np.random.seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def seeded(policy: SequencePolicy, batch: dict[str, Tensor], seed: int) -> Tensor:
    """``policy(**batch)`` with every global RNG seeded (and restored after, `all_rngs`): in train mode, two
    batches of the same shapes then meet the same dropout masks, so any difference between their outputs
    comes from the inputs that differ."""
    with all_rngs(seed):
        return policy(**batch)


WINDOW = 8
"""The longest window the checks feed a policy: every position of a context of up to 8 steps, and the first 8
of a longer one. Longer than the 6 of the limits' calibration (benchmarks/results/doctor_margins.md), so
that a bug past position 6 (a mask or a slice sized for an older, shorter context) shows; not the whole of a
K = 20 window: at late positions of a longer window the interleaved layout's return reaches the output more
weakly (a relative change of 5e-5 to 1e-4 at positions 10 to 19, one layer, against 2e-4 and up within 8),
into the zone of `limits.BY_POSITION` where a healthy model would be inconclusive."""


def window(policy: SequencePolicy, most: int = WINDOW) -> int:
    """The window length the checks use: the policy's context length, at most ``most`` steps."""
    return min(policy.context_len, most)
