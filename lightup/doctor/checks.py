"""Static checks: seconds on a CPU, no environment. Each takes a `Subject` and returns a `CheckResult`
with its verdict (pass, fail or inconclusive), the measured quantity, its limit and the margin.

They test the `SequencePolicy` contract (see `lightup.models.policy`) and the trainer pieces a model meets
on the way (the loss, the hindsight relabelling), on small random batches. The checks live by concern:
`checks_outputs` (the head), `checks_inputs` (what reaches the output, by input and position),
`checks_rows` (each sequence its own, the same each time, in either mode, with autograd on or off),
`checks_contract` (inputs left as given, a state_dict that restores the policy), `checks_sampling` (what
rollouts draw), `checks_cache` (the incremental interface),
`checks_training` (gradients, padding, memorising), `checks_gradients` (the gradients are the loss's),
`checks_returns` (relabelling and the returns bookkeeping), `checks_continuous` (a factory's
continuous-action twin); their limits in `limits`, their shared pieces
in `check_base`; `zero_init` measures again, after a few steps of training, a check that a part initialised
to zero can fail.
"""

from __future__ import annotations

from collections.abc import Callable

from lightup.doctor.check_base import (
    ACT,
    OBS,
    CheckResult,
    Limit,
    PolicyFactory,
    Subject,
    build,
    inputs,
    random_batch,
    rel_diff,
)
from lightup.doctor.checks_cache import cache_bounded, kv_cache
from lightup.doctor.checks_continuous import continuous_actions, continuous_reach
from lightup.doctor.checks_contract import checkpoint_round_trip, inputs_unchanged
from lightup.doctor.checks_gradients import gradients_are_the_losses
from lightup.doctor.checks_inputs import (
    causal_masking,
    distinct_outputs,
    prev_actions_by_position,
    returns_by_position,
    returns_to_go_matter,
    start_token_distinct,
    states_by_position,
    timesteps_by_position,
    timesteps_matter,
)
from lightup.doctor.checks_outputs import (
    entropy_matches_probabilities,
    initial_entropy,
    output_shape,
    sampling_matches_loss,
    start_token_never_sampled,
)
from lightup.doctor.checks_returns import relabelling, return_bookkeeping
from lightup.doctor.checks_rows import (
    deterministic,
    grad_mode_agrees,
    rows_independent,
    train_matches_eval,
)
from lightup.doctor.checks_sampling import sampling_frequencies
from lightup.doctor.checks_training import (
    gradients,
    overfit,
    overfit_batch,
    padded_targets_carry_no_loss,
    real_targets_carry_loss,
)
from lightup.doctor.zero_init import remeasure

__all__ = [
    "ACT",
    "CHECK_NAMES",
    "OBS",
    "STATIC_CHECKS",
    "CheckResult",
    "Limit",
    "PolicyFactory",
    "Subject",
    "build",
    "inputs",
    "overfit",
    "random_batch",
    "rel_diff",
    "run_static",
]

STATIC_CHECKS: tuple[Callable[[Subject], CheckResult], ...] = (
    output_shape,
    inputs_unchanged,
    causal_masking,
    rows_independent,
    deterministic,
    train_matches_eval,
    grad_mode_agrees,
    checkpoint_round_trip,
    kv_cache,
    cache_bounded,
    gradients,
    gradients_are_the_losses,
    start_token_never_sampled,
    start_token_distinct,
    sampling_matches_loss,
    entropy_matches_probabilities,
    sampling_frequencies,
    returns_to_go_matter,
    timesteps_matter,
    returns_by_position,
    states_by_position,
    prev_actions_by_position,
    timesteps_by_position,
    padded_targets_carry_no_loss,
    real_targets_carry_loss,
    initial_entropy,
    distinct_outputs,
    relabelling,
    return_bookkeeping,
    continuous_actions,
    continuous_reach,
    overfit_batch,
)
CHECK_NAMES = tuple(c.__name__ for c in STATIC_CHECKS)


def run_static(subject: Subject, only: tuple[str, ...] = ()) -> list[CheckResult]:
    """Every static check (or those named in ``only``), in order; never raises. A check that a part
    initialised to zero can fail (an input gated by a zero, a zero head) and that fails is measured again
    after a few steps of training (`zero_init.remeasure`)."""
    return [
        remeasure(check, subject, check(subject))
        for check in STATIC_CHECKS
        if not only or check.__name__ in only
    ]
