"""Healthy policies of shapes the other tests do not use: an LSTM, a per-step MLP with no history at all, a
torch TransformerEncoder with a learned position embedding and dropout, a GRU reading a sinusoidal
timestep, our Decision Transformer at its default size, wide, with dropout, with a window of one step, with a
position embedding beside its timesteps, and with its own (equal) distributions; some for continuous
actions. The doctor must blame none of them (tests/test_doctor_healthy.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.distributions import Categorical, Independent, Normal, TanhTransform, TransformedDistribution

from lightup.doctor.checks import Subject
from lightup.models import DecisionTransformer, DTConfig
from lightup.models.policy import LOG_STD_MAX, LOG_STD_MIN, SequencePolicy


def prev_features(policy: SequencePolicy, prev_actions: Tensor, timesteps: Tensor) -> Tensor:
    """a_{t-1} as features: one-hot with the start token (discrete), the vector and a start flag
    (continuous, the vector zeroed at episode starts as the contract ignores it there)."""
    if policy.discrete:
        return F.one_hot(prev_actions, policy.act_dim + 1).float()
    start = (timesteps == 0).unsqueeze(-1)
    return torch.cat([torch.where(start, 0.0, prev_actions), start.float()], -1)


class UserPolicy(SequencePolicy):
    """Sizes, and a small head (a near-uniform start), as a user sets them."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool, context_len: int, hidden: int):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, context_len
        self.head = nn.Linear(hidden, self.n_params)
        nn.init.normal_(self.head.weight, std=0.01)
        nn.init.zeros_(self.head.bias)


class LSTMPolicy(UserPolicy):
    """A two-layer LSTM over (R_t, s_t, a_{t-1}), window 6."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool):
        super().__init__(obs_dim, act_dim, discrete, context_len=6, hidden=48)
        self.embed = nn.Linear(1 + obs_dim + act_dim + 1, 48)
        self.lstm = nn.LSTM(48, 48, num_layers=2, batch_first=True)

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = torch.cat([returns_to_go.unsqueeze(-1), states, prev_features(self, prev_actions, timesteps)], -1)
        return self.head(self.lstm(torch.tanh(self.embed(x)))[0])


class LastObservationMLP(UserPolicy):
    """A per-step MLP of two tanh layers over (R_t, s_t), window 4: no history, no timestep, no previous
    action. It must not be blamed for not reading what it has no use for."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool):
        super().__init__(obs_dim, act_dim, discrete, context_len=4, hidden=64)
        self.body = nn.Sequential(nn.Linear(obs_dim + 1, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh())

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        return self.head(self.body(torch.cat([returns_to_go.unsqueeze(-1), states], -1)))


class TorchTransformerPolicy(UserPolicy):
    """torch's TransformerEncoder (pre-norm, 3 heads, 2 layers, dropout 0.1), one token per step, a learned
    position embedding by window index, a causal mask; the default (recompute) rollout."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool):
        super().__init__(obs_dim, act_dim, discrete, context_len=5, hidden=48)
        self.inp = nn.Linear(1 + obs_dim + act_dim + 1, 48)
        self.position = nn.Embedding(5, 48)
        layer = nn.TransformerEncoderLayer(48, 3, 192, dropout=0.1, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        t = states.shape[1]
        x = torch.cat([returns_to_go.unsqueeze(-1), states, prev_features(self, prev_actions, timesteps)], -1)
        causal = torch.triu(torch.full((t, t), -math.inf), 1)
        return self.head(self.encoder(self.inp(x) + self.position(torch.arange(t)), causal, is_causal=True))


class GRUWithTime(UserPolicy):
    """A GRU that also reads a sinusoidal encoding of the timestep (declared nowhere)."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool):
        super().__init__(obs_dim, act_dim, discrete, context_len=4, hidden=32)
        self.embed = nn.Linear(1 + obs_dim + act_dim + 1 + 8, 32)
        self.gru = nn.GRU(32, 32, batch_first=True)

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        angle = timesteps.unsqueeze(-1).float() * torch.exp(-torch.arange(4) * math.log(1000.0) / 4)
        parts = [returns_to_go.unsqueeze(-1), states, prev_features(self, prev_actions, timesteps)]
        x = torch.cat([*parts, angle.sin(), angle.cos()], -1)
        return self.head(self.gru(torch.relu(self.embed(x)))[0])


class OwnDistributionDT(DecisionTransformer):
    """The trainer's laws written another way: from probabilities (discrete), by torch's TanhTransform
    with the same clamp of the log-std (continuous)."""

    def distribution(self, params: Tensor):
        if self.discrete:
            return Categorical(probs=params.softmax(-1))
        mean, log_std = params.chunk(2, -1)
        base = Normal(mean, log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).exp())
        return Independent(TransformedDistribution(base, [TanhTransform(cache_size=1)]), 1)


class PositionsAndTimestepsDT(DecisionTransformer):
    """Our Decision Transformer plus a learned position embedding by window index, at torch's default init
    (N(0, 1), fifty times the timestep embedding's), acting by recompute over the last K steps."""

    begin = SequencePolicy.begin
    push = SequencePolicy.push
    reset = SequencePolicy.reset

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.position = nn.Embedding(config.context_len, config.n_embd)

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        x = super()._embed(returns_to_go, states, prev_actions, timesteps)
        index = torch.arange(states.shape[1]).repeat_interleave(self.config.tokens_per_step)
        return x + self.position(index)


def dt(cls: type[DecisionTransformer] = DecisionTransformer, **sizes):
    """A factory of ``cls`` at ``sizes`` (DTConfig's defaults where none is given)."""

    def factory(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
        return cls(DTConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete, **sizes))

    return factory


SMALL = {"context_len": 4, "n_layer": 1, "n_head": 2, "n_embd": 32}

HEALTHY_SHAPES = {
    "lstm": Subject(LSTMPolicy),
    "last-observation mlp": Subject(LastObservationMLP),
    "torch transformer": Subject(TorchTransformerPolicy),
    "gru with time": Subject(GRUWithTime),
    "dt default size": Subject(dt()),
    "dt default size interleaved": Subject(dt(layout="interleaved")),
    "dt wide, 8 heads, interleaved": Subject(
        dt(context_len=8, n_layer=2, n_head=8, n_embd=128, layout="interleaved")
    ),
    "dt dropout 0.1": Subject(dt(**{**SMALL, "n_layer": 2}, dropout=0.1)),
    "dt window of one step": Subject(dt(context_len=1, n_layer=1, n_head=1, n_embd=16)),
    "dt with positions": Subject(dt(PositionsAndTimestepsDT, **SMALL)),
    "dt own distribution": Subject(dt(OwnDistributionDT, **SMALL)),
    "dt own distribution, continuous": Subject(dt(OwnDistributionDT, **SMALL), discrete=False),
    "dt default size interleaved, continuous": Subject(dt(layout="interleaved"), discrete=False),
    "lstm, continuous": Subject(LSTMPolicy, discrete=False),
    "torch transformer, continuous": Subject(TorchTransformerPolicy, discrete=False),
}
"""Healthy models of other shapes, as subjects (continuous ones with ``discrete=False``)."""
