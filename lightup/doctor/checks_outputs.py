"""Static checks of the output head: its shape, its support, the distribution rollouts sample, its entropy."""

from __future__ import annotations

import math

import torch

from lightup.doctor import limits
from lightup.doctor.check_base import (
    Finding,
    Subject,
    build,
    check,
    discrete_only,
    inputs,
    random_actions,
    random_batch,
    window,
)
from lightup.doctor.checks_continuous import plays_continuous, twin
from lightup.models.policy import SequencePolicy, action_distribution


def _head_problem(policy: SequencePolicy, kind: str) -> str:
    """What is wrong with the parameters ``forward`` and ``push`` give (their shape, their dtype, their
    values at real steps), or "" where nothing is; ``kind`` names the policy in the message."""
    batch = random_batch(policy, 4, window(policy), seed=1)
    label = "(B, T, A)" if policy.discrete else "(B, T, 2A)"
    with torch.no_grad():
        params = policy(**inputs(batch))
        want = (4, batch["mask"].shape[1], policy.n_params)
        if tuple(params.shape) != want:
            return f"{kind}forward gave shape {tuple(params.shape)}, expected {label} = {want}"
        # The contract's dtype (lightup.models.policy): a float16 head keeps ~3 digits of its logits.
        if params.dtype != torch.float32:
            return f"{kind}forward gave {params.dtype} parameters, the contract's are torch.float32"
        if not torch.isfinite(params[batch["mask"]]).all():
            return f"{kind}forward gave NaN or inf at real steps"
        policy.begin(4)
        pushed = policy.push(**{k: v[:, 0] for k, v in inputs(batch).items() if k != "mask"})
    if tuple(pushed.shape) != want[::2] or pushed.dtype != torch.float32:
        return (
            f"{kind}push gave {pushed.dtype} parameters of shape {tuple(pushed.shape)}, expected "
            f"torch.float32 of shape {want[::2]}"
        )
    return ""


@check
def output_shape(subject: Subject) -> tuple[bool, str]:
    """forward returns finite float32 (B, T, P) parameters, P = the number of actions (2A if continuous),
    and push float32 (n, P); so does the factory's continuous-action twin, where its config declares
    continuous actions (its head is otherwise checked by no other test: the ladder plays discrete actions
    first)."""
    policy = build(subject).eval()
    problem = _head_problem(policy, "")
    if problem:
        return False, problem
    want = f"shape {(4, window(policy), policy.n_params)} float32, finite"
    other = twin(subject) if policy.discrete and plays_continuous(subject) is None else None
    # Only a twin whose config declares continuous actions: a factory that ignores ``discrete`` (a
    # discrete-only model, with A outputs whatever it is asked) is not blamed for its head's shape.
    if other is not None and getattr(getattr(other, "config", None), "discrete", None) is False:
        problem = _head_problem(other.eval(), "the continuous-action policy's ")
        if problem:
            return False, problem
        want += f"; its continuous-action twin {(4, window(other), other.n_params)}"
    return True, want


@check
def start_token_never_sampled(subject: Subject) -> Finding | tuple[bool, str]:
    """The head has one output per action: the start token (index A) is an input only."""
    policy = build(subject).eval()
    skip = discrete_only(policy, "no start token index to sample (continuous_actions checks the start)")
    if skip is not None:
        return skip
    batch = random_batch(policy, 4, window(policy, 4), seed=5)
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


@check
def sampling_matches_loss(subject: Subject) -> Finding:
    """Rollouts sample from the distribution the loss trains (``policy.distribution`` vs the trainer's)."""
    policy = build(subject).eval()
    params = torch.randn(6, 3, policy.n_params, generator=torch.Generator().manual_seed(6)) * 2
    actions = random_actions(policy, (6, 3), torch.Generator().manual_seed(7))
    sampled = policy.distribution(params).log_prob(actions)
    trained = action_distribution(params, policy.discrete).log_prob(actions)
    diff = float((sampled - trained).abs().max())
    why = "rollouts do not sample what the loss fits (a temperature in the wrong space?)"
    return Finding.measured(limits.SAMPLING, diff, "", why, "sampling and the loss use the same distribution")


@check
def entropy_matches_probabilities(subject: Subject) -> Finding:
    """The entropy ``policy.distribution`` reports (logged by rollouts, and the entropy term with
    ``--entropy-at commands``) is -sum p log p of its own log-probabilities, row by row: one taken over the
    wrong axis (the envs', the steps') or from the raw logits shows here."""
    policy = build(subject).eval()
    skip = discrete_only(policy, "a tanh-Gaussian's entropy has no closed form: rollouts estimate it")
    if skip is not None:
        return skip
    params = torch.randn(6, 3, policy.n_params, generator=torch.Generator().manual_seed(16)) * 2
    with torch.no_grad():
        dist = policy.distribution(params)
        reported = dist.entropy()
        log_probs = torch.stack(
            [dist.log_prob(torch.full((6, 3), a, dtype=torch.long)) for a in range(policy.act_dim)], -1
        )
    own = -(log_probs.exp() * log_probs).sum(-1)
    if reported.shape != own.shape:
        return Finding(
            "fail",
            f"the distribution's entropy has shape {tuple(reported.shape)}, its log-probabilities' rows "
            f"{tuple(own.shape)}: an entropy over the wrong axis",
        )
    diff = float((reported - own).abs().max())
    why = "the reported entropy is not that of the distribution sampled (taken over the wrong axis?)"
    return Finding.measured(limits.ENTROPY, diff, "6 x 3 rows", why, "the entropy is the distribution's")


@check
def initial_entropy(subject: Subject) -> Finding:
    """At initialisation the action distribution is near uniform (entropy near log A)."""
    policy = build(subject).eval()
    skip = discrete_only(policy, "a tanh-Gaussian's entropy has no maximum to take a share of")
    if skip is not None:
        return skip
    batch = random_batch(policy, 8, window(policy, 4), seed=12)
    with torch.no_grad():
        entropy = policy.distribution(policy(**inputs(batch))).entropy()[batch["mask"]].mean()
    share = float(entropy) / math.log(policy.act_dim)
    why = (
        "the policy starts nearly deterministic (initialise the head small, as the Decision Transformer does)"
    )
    return Finding.measured(limits.INITIAL_ENTROPY, share, "", why, "near uniform")
