"""Advantage weighting (AWR, Peng et al. 2019): the value network and the weights exp(A / beta)."""

from __future__ import annotations

import torch
from torch import Tensor


def build_value_net(obs_dim: int, n_out: int = 1, hidden: int = 128) -> torch.nn.Module:
    """The values of a state for advantage weighting: an MLP from the observation to ``n_out`` numbers (the
    state's value, then Q(s, a) of each action when the baseline is the policy's)."""
    return torch.nn.Sequential(
        torch.nn.Linear(obs_dim, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, n_out),
    )


def advantage_weights(advantages: Tensor, mask: Tensor, beta: float, max_weight: float = 20.0) -> Tensor:
    """AWR's weights exp(A / beta) (B, T), with A normalised to mean 0 and std 1 over the real steps and the
    weights capped at ``max_weight`` (Peng et al. 2019 cap at 20); 0 at padded steps."""
    n = mask.sum().clamp(min=1)
    mean = (advantages * mask).sum() / n
    std = (((advantages - mean) ** 2 * mask).sum() / n).sqrt()
    normalised = (advantages - mean) / (std + 1e-8)
    return torch.exp(normalised / beta).clamp(max=max_weight) * mask
