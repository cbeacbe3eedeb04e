"""The supervised action loss of a return-conditioned policy, with padding masked out."""

from __future__ import annotations

from torch import Tensor
from torch.distributions import Distribution

from lightup.models.policy import action_distribution

# Continuous targets at exactly +-1 have infinite tanh-Gaussian log-density.
_EDGE = 1.0 - 1e-5


def action_log_prob(
    params: Tensor, actions: Tensor, mask: Tensor, discrete: bool
) -> tuple[Tensor, Distribution]:
    """Log-probability (B, T) of the taken ``actions`` under ``params`` (B, T, P); 0 at padded steps."""
    dist = action_distribution(params, discrete)
    if discrete:
        safe = actions.masked_fill(~mask, 0)  # padded targets may hold any value, even an invalid index
    else:
        safe = actions.masked_fill(~mask.unsqueeze(-1), 0.0).clamp(-_EDGE, _EDGE)
    return dist.log_prob(safe) * mask, dist


def masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` (B, T) over real steps only."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def action_nll(params: Tensor, actions: Tensor, mask: Tensor, discrete: bool) -> Tensor:
    """Mean negative log-likelihood of the taken actions over real (unpadded) steps."""
    log_prob, _ = action_log_prob(params, actions, mask, discrete)
    return -log_prob.sum() / mask.sum().clamp(min=1)
