"""Healthy policies written the way a user would: `SequencePolicy` subclasses that are not lightup's own.

The doctor must pass them (no false alarms), and benchmarks/doctor_margins.py measures their checks' margins
beside our Decision Transformer and the reference MLP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightup.doctor.subjects import DTFactory, mlp_factory
from lightup.models import DecisionTransformer, DTConfig, MLPConfig, ReturnConditionedMLP
from lightup.models.policy import SequencePolicy


class GRUPolicy(SequencePolicy):
    """A recurrent return-conditioned policy: a GRU over (R_t, s_t, one-hot a_{t-1}) per step, reading
    a_t from its hidden state. No timestep input; the default (recompute over the last K steps) rollout
    interface."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool, context_len: int = 4, hidden: int = 32):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, context_len
        self.embed = nn.Linear(1 + obs_dim + act_dim + 1, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, act_dim)
        nn.init.normal_(self.head.weight, std=0.01)  # near-uniform initial policy
        nn.init.zeros_(self.head.bias)

    def forward(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor, mask: Tensor
    ) -> Tensor:
        one_hot = F.one_hot(prev_actions, self.act_dim + 1).to(states.dtype)
        x = torch.relu(self.embed(torch.cat([returns_to_go.unsqueeze(-1), states, one_hot], dim=-1)))
        h, _ = self.gru(x)  # (B, T, hidden): causal by construction; right padding never reaches a real step
        return self.head(h)  # (B, T, A)


def gru_factory(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return GRUPolicy(obs_dim, act_dim, discrete)


def gru_with_a_complex_parameter(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    """The GRU policy with an unused complex parameter (which fused optimizer kernels refuse)."""
    policy = GRUPolicy(obs_dim, act_dim, discrete)
    policy.phase = torch.nn.Parameter(torch.zeros(2, dtype=torch.complex64))
    return policy


def dt_without_timesteps(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    """Our Decision Transformer at the doctor's size with its timestep embedding off."""
    return DecisionTransformer(
        DTConfig(
            obs_dim,
            act_dim,
            discrete,
            context_len=4,
            n_layer=1,
            n_head=2,
            n_embd=32,
            timestep_embedding=False,
        )
    )


def mlp_with_prev_action(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return ReturnConditionedMLP(
        MLPConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete, use_prev_action=True)
    )


HEALTHY = {
    "dt-stacked": DTFactory("stacked"),
    "dt-interleaved": DTFactory("interleaved"),
    "dt-no-timesteps": dt_without_timesteps,
    "mlp": mlp_factory,
    "mlp-prev-action": mlp_with_prev_action,
    "gru": gru_factory,
}
"""The healthy models every static check must pass, at any initialisation."""
