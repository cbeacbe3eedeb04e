"""The `SequencePolicy` contract: what the trainer and the doctor need from any return-conditioned model.

Shapes: B sequences, T steps, S = ``obs_dim``, A = ``act_dim`` (number of actions if discrete, action
dimensions if continuous), P = ``n_params`` (A logits if discrete, 2A = mean and log-std if continuous).

Inputs, per step t of an episode:
- ``returns_to_go`` float32 (B, T): the (scaled) return still to collect from step t on, R_t.
- ``states`` float32 (B, T, S): the observation s_t.
- ``prev_actions``: the action a_{t-1} taken before s_t. Discrete: int64 (B, T), where the value A is the
  start token ("no previous action", used at t = 0); it is an input only and is never sampled or predicted,
  because the head has A outputs. Continuous: float32 (B, T, A) in [-1, 1]; ignored where timesteps == 0.
- ``timesteps`` int64 (B, T): t, counted from the start of the episode.
- ``mask`` bool (B, T): True for real steps, False for padding. Padding gives no loss, and a real step
  never attends to a padded one.

Output: ``forward`` returns action-distribution parameters float32 (B, T, P): position t gives the
distribution of a_t. ``distribution(params)`` turns them into a ``torch.distributions`` object.

Rollouts use the incremental interface: ``begin(n)``, then per env step ``push(...)`` with one step for each
of the n sequences (shapes without T) returning the (n, P) parameters of the newest step, and
``reset(done)`` to start fresh sequences where an episode ended. The default implementation here keeps the
last ``context_len`` steps of each sequence and recomputes ``forward`` over them: exact and slow. Models
with a cache override it (see `DecisionTransformer`). A cache belongs to the weights it was built with, so a
caller that changes the weights calls ``begin`` again and replays the sequences under way
(`lightup.training.rollout.Rollout.refresh`); implementations may snapshot weights at ``begin``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn
from torch.distributions import Distribution

from lightup.models.heads import LOG_STD_MAX, LOG_STD_MIN, action_distribution, greedy_action

__all__ = ["LOG_STD_MAX", "LOG_STD_MIN", "SequencePolicy", "action_distribution", "greedy_action"]


class SequencePolicy(nn.Module, ABC):
    """A return-conditioned sequence model: see the module docstring for shapes and dtypes."""

    obs_dim: int
    act_dim: int
    discrete: bool
    context_len: int

    @property
    def n_params(self) -> int:
        return self.act_dim if self.discrete else 2 * self.act_dim

    @property
    def start_action(self) -> int:
        """The index of the start token in ``prev_actions`` (discrete only)."""
        assert self.discrete, "the start token index exists for discrete actions only"
        return self.act_dim

    @abstractmethod
    def forward(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor, mask: Tensor
    ) -> Tensor:
        """Training forward: (B, T) inputs -> (B, T, P) action-distribution parameters."""

    def distribution(self, params: Tensor) -> Distribution:
        return action_distribution(params, self.discrete)

    # --- incremental interface (default: exact recompute over the last context_len steps) ---

    def begin(self, n: int) -> None:
        """Start n empty sequences."""
        device = next(self.parameters()).device
        k = self.context_len
        act_shape = (n, k) if self.discrete else (n, k, self.act_dim)
        self._hist = {
            "returns_to_go": torch.zeros(n, k, device=device),
            "states": torch.zeros(n, k, self.obs_dim, device=device),
            "prev_actions": torch.zeros(
                act_shape, dtype=torch.long if self.discrete else torch.float32, device=device
            ),
            "timesteps": torch.zeros(n, k, dtype=torch.long, device=device),
        }
        self._lengths = torch.zeros(n, dtype=torch.long, device=device)

    def push(self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor) -> Tensor:
        """Append one step to each sequence: (n,) inputs -> (n, P) parameters for the newest step."""
        n, k = self._lengths.shape[0], self.context_len
        rows = torch.arange(n, device=self._lengths.device)
        full = self._lengths == k
        pos = self._lengths.clamp(max=k - 1)
        new = {
            "returns_to_go": returns_to_go,
            "states": states,
            "prev_actions": prev_actions,
            "timesteps": timesteps,
        }
        for name, buf in self._hist.items():
            # Sequences already holding k steps drop their oldest step.
            shifted = torch.roll(buf, shifts=-1, dims=1)
            full_b = full.view(n, *([1] * (buf.dim() - 1)))
            buf = torch.where(full_b, shifted, buf)
            buf[rows, pos] = new[name].to(buf.dtype)
            self._hist[name] = buf
        self._lengths = (self._lengths + 1).clamp(max=k)
        mask = torch.arange(k, device=rows.device)[None, :] < self._lengths[:, None]
        params = self.forward(**self._hist, mask=mask)  # (n, k, P)
        return params[rows, self._lengths - 1]

    def reset(self, done: Tensor) -> None:
        """Empty the sequences where ``done`` (bool (n,)) is True."""
        self._lengths = torch.where(done.to(self._lengths.device), 0, self._lengths)
