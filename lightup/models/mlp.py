"""`ReturnConditionedMLP`: the known-good reference, a small MLP over (R_t, s_t[, a_{t-1}]).

The "stupid decision transformer": swapped in for the transformer, it tells a model bug from a
training-loop bug. It has no memory and no timestep input, so each step is
independent and the incremental interface needs no cache.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy


@dataclass
class MLPConfig:
    obs_dim: int
    act_dim: int
    discrete: bool = True
    hidden: int = 128
    n_hidden_layers: int = 2
    use_prev_action: bool = False
    """Also feed a_{t-1} (one-hot with the start token; if continuous, the vector and a start flag)."""

    def __post_init__(self) -> None:
        for name in ("obs_dim", "act_dim", "hidden", "n_hidden_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise LightupError(f"MLPConfig.{name} must be an integer >= 1, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class ReturnConditionedMLP(SequencePolicy):
    def __init__(self, config: MLPConfig):
        super().__init__()
        self.config = config
        self.obs_dim, self.act_dim, self.discrete = config.obs_dim, config.act_dim, config.discrete
        self.context_len = 1
        n_in = 1 + config.obs_dim
        if config.use_prev_action:
            n_in += config.act_dim + 1  # the start token: an index (discrete), a flag (continuous)
        layers: list[nn.Module] = []
        for _ in range(config.n_hidden_layers):
            layers += [nn.Linear(n_in, config.hidden), nn.ReLU()]
            n_in = config.hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(n_in, self.n_params)
        nn.init.normal_(self.head.weight, std=0.01)  # near-uniform initial policy
        nn.init.zeros_(self.head.bias)

    def forward(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor, mask: Tensor
    ) -> Tensor:
        parts = [returns_to_go.unsqueeze(-1), states]
        if self.config.use_prev_action:
            if self.discrete:
                parts.append(F.one_hot(prev_actions, self.act_dim + 1).to(states.dtype))
            else:
                start = (timesteps == 0).unsqueeze(-1)
                parts += [torch.where(start, 0.0, prev_actions), start.to(states.dtype)]
        return self.head(self.body(torch.cat(parts, dim=-1)))  # (B, T, P)

    def begin(self, n: int) -> None:
        self._n = n

    def push(self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor) -> Tensor:
        mask = torch.ones(returns_to_go.shape[0], 1, dtype=torch.bool, device=returns_to_go.device)
        return self.forward(
            returns_to_go[:, None], states[:, None], prev_actions[:, None], timesteps[:, None], mask
        )[:, 0]

    def reset(self, done: Tensor) -> None:
        pass  # no memory to clear
