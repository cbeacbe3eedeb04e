"""Action distributions of a policy's head: categorical (discrete) and tanh-squashed Gaussian (continuous).

The continuous head gives a mean and a log-std per action dimension (P = 2A); an action is tanh(u) with
u ~ N(mean, std), so it lies in (-1, 1), and the env's bounds are reached by rescaling the env
(`lightup.envs.adapters`). Its log-density follows from the change of variables y = tanh(u):
log p(y) = sum_i [log N(u_i; mean_i, std_i) - log(1 - tanh(u_i)^2)], with
log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), the form that stays finite for large |u| (the one SAC
implementations use, e.g. Stable-Baselines3's and CleanRL's).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Categorical, Distribution, Normal, constraints

LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
EDGE = 1.0 - 1e-6
"""Actions are read back at most this far out: at exactly +-1, u = atanh(y) is infinite."""


def log_det_tanh(u: Tensor) -> Tensor:
    """log(1 - tanh(u)^2), elementwise, without cancellation for large |u|."""
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


class TanhNormal(Distribution):
    """A diagonal Gaussian squashed by tanh: event shape (A,), batch shape the leading dims of ``mean``."""

    arg_constraints = {"mean": constraints.real, "std": constraints.positive}
    support = constraints.independent(constraints.interval(-1.0, 1.0), 1)
    has_rsample = True

    def __init__(self, mean: Tensor, log_std: Tensor):
        self.mean_, self.std = mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp()
        self.base = Normal(mean, self.std, validate_args=False)
        super().__init__(mean.shape[:-1], mean.shape[-1:], validate_args=False)

    @property
    def mode(self) -> Tensor:
        """The squashed mean: the greedy action."""
        return torch.tanh(self.mean_)

    def rsample_with_log_prob(self, sample_shape: tuple[int, ...] = ()) -> tuple[Tensor, Tensor]:
        """A reparameterised draw and its log-density, computed from u (no atanh of a rounded tanh)."""
        u = self.base.rsample(sample_shape)
        return torch.tanh(u), (self.base.log_prob(u) - log_det_tanh(u)).sum(-1)

    def rsample(self, sample_shape: tuple[int, ...] = ()) -> Tensor:
        return torch.tanh(self.base.rsample(sample_shape))

    def log_prob(self, value: Tensor) -> Tensor:
        u = torch.atanh(value.clamp(-EDGE, EDGE))
        return (self.base.log_prob(u) - log_det_tanh(u)).sum(-1)

    def entropy(self) -> Tensor:
        """A one-draw estimate of the entropy, -log p(y) at y drawn with the reparameterisation (it has no
        closed form; SAC and Online DT estimate it so), differentiable in the parameters."""
        return -self.rsample_with_log_prob()[1]


def action_distribution(params: Tensor, discrete: bool) -> Distribution:
    """Distribution over actions from parameters (..., P): categorical, or tanh-squashed diagonal Gaussian."""
    if discrete:
        return Categorical(logits=params)
    mean, log_std = params.chunk(2, dim=-1)
    return TanhNormal(mean, log_std)


def greedy_action(params: Tensor, discrete: bool) -> Tensor:
    """The most likely action (discrete) or the squashed mean (continuous)."""
    if discrete:
        return params.argmax(dim=-1)
    return torch.tanh(params.chunk(2, dim=-1)[0])


def with_temperature(params: Tensor, temperature: float, discrete: bool) -> Tensor:
    """Parameters of a sampling temperature: logits divided by it, or the std multiplied by it."""
    if temperature == 1.0:
        return params
    if discrete:
        return params / temperature
    mean, log_std = params.chunk(2, dim=-1)
    return torch.cat([mean, log_std + math.log(temperature)], dim=-1)
