"""Checks a zero-initialised part can fool, measured again after a few steps of training.

Some healthy designs start with a part set to zero on purpose: a zero gate on an input (adaLN-Zero,
ControlNet), a residual branch scaled by a learned zero (ReZero), a head initialised to zero (an exactly
uniform first policy). At initialisation such a part hides the inputs behind it and the gradients of the
parameters before it; the first update opens it. `gradients` and the checks that an input reaches the
output would blame the design for what is only its starting point.

Where one of those checks fails (or is inconclusive) at initialisation, `remeasure` runs it again on the
same policy after `WARM_STEPS` Adam steps of the subject's training loss on a random batch
(`checks_training.fit`, at the subject's learning rate). A bug (a detached, unused, clipped or frozen
input or parameter, a slice or a mask in the wrong place) is still there after training and fails again:
the verdict and the finding at initialisation stand. A zero-initialised design passes there: the verdict is
that pass, with a note that it failed at initialisation. Checks of the initial state by definition
(`initial_entropy`), of exact properties a zero part cannot make fail (a mask, a cache, the padding), and
of training itself are not measured again.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable

from lightup.doctor.check_base import CheckResult, Subject, all_rngs
from lightup.doctor.checks_training import fit
from lightup.models.policy import SequencePolicy

FOOLED_BY_ZERO_INIT = frozenset(
    {
        "gradients",
        "returns_to_go_matter",
        "timesteps_matter",
        "returns_by_position",
        "states_by_position",
        "prev_actions_by_position",
        "timesteps_by_position",
        "start_token_distinct",
        "distinct_outputs",
        "continuous_actions",
    }
)
"""The checks whose failure a part initialised to zero can cause in a healthy model: a gradient that is
zero, an input that does not reach the output, outputs that do not differ."""

WARM_STEPS = 10
"""Adam steps before the re-measure: one opens a zero gate, scale or head (its own gradient is not zero);
ten move it far enough (~1e-2 at the default learning rate) that the inputs behind it reach the output by
much more than the checks' limits."""


def warm(policy: SequencePolicy, subject: Subject, steps: int = WARM_STEPS) -> SequencePolicy:
    """``policy`` after ``steps`` Adam steps of the subject's loss on one random batch (in train mode; its
    mode restored after). Every global RNG is left as it was: the check that follows draws what it would
    have drawn on the policy at initialisation."""
    mode = policy.training
    with all_rngs(subject.seed):
        policy.train()
        fit(policy, subject, subject.seed, steps, target=-math.inf)
    policy.train(mode)
    return policy


@dataclasses.dataclass(frozen=True)
class Warmed:
    """A factory whose policies are its wrapped factory's, trained `WARM_STEPS` steps (`warm`)."""

    factory: Callable[[int, int, bool], SequencePolicy]
    subject: Subject

    def __call__(self, obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
        policy = self.factory(obs_dim, act_dim, discrete)
        return warm(policy, self.subject) if isinstance(policy, SequencePolicy) else policy


def warmed(subject: Subject) -> Subject:
    """The subject with its policies trained `WARM_STEPS` steps: a built policy's copy, or a factory's
    (its continuous-action twin too)."""
    if isinstance(subject.factory, SequencePolicy):
        return dataclasses.replace(subject, factory=warm(copy.deepcopy(subject.factory), subject))
    return dataclasses.replace(subject, factory=Warmed(subject.factory, subject))


def remeasure(check: Callable[[Subject], CheckResult], subject: Subject, result: CheckResult) -> CheckResult:
    """``result`` of ``check`` on ``subject``, or, where a zero-initialised part may have caused its failure
    and the check passes on the policy after `WARM_STEPS` Adam steps, that pass with a note."""
    if result.verdict in ("pass", "skipped") or result.name not in FOOLED_BY_ZERO_INIT:
        return result
    try:
        again = check(warmed(subject))
    except Exception:  # noqa: BLE001 (a policy that cannot train: the finding at initialisation stands)
        return result
    if again.verdict != "pass":
        cause = ", so not a part initialised to zero" if again.verdict == "fail" else ""
        result.detail += (
            f" (measured again after {WARM_STEPS} Adam steps of the training loss: {again.verdict}{cause})"
        )
        result.seconds += again.seconds
        return result
    again.detail = (
        f"{result.verdict} at initialisation, pass after {WARM_STEPS} Adam steps of the training loss (a "
        f"part initialised to zero hides it at first): {again.detail}; at initialisation: {result.detail}"
    )
    again.seconds += result.seconds
    if result.value is not None:
        again.also = {**again.also, f"{result.quantity} at initialisation": result.value}
    return again
