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
from lightup.models.policy import action_distribution


@check
def output_shape(subject: Subject) -> tuple[bool, str]:
    """forward returns finite (B, T, P) parameters, P = the number of actions (2A if continuous)."""
    policy = build(subject).eval()
    batch = random_batch(policy, 4, window(policy), seed=1)
    with torch.no_grad():
        params = policy(**inputs(batch))
    want = (4, batch["mask"].shape[1], policy.n_params)
    if tuple(params.shape) != want:
        label = "(B, T, A)" if policy.discrete else "(B, T, 2A)"
        return False, f"forward gave shape {tuple(params.shape)}, expected {label} = {want}"
    if not torch.isfinite(params[batch["mask"]]).all():
        return False, "forward gave NaN or inf at real steps"
    return True, f"shape {want}, finite"


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
