"""A bounded buffer of whole episodes, and length-K training windows sampled from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from lightup.training.returns import returns_to_go


@dataclass
class Episode:
    observations: np.ndarray  # (T, S) float32
    actions: np.ndarray  # (T,) int64, or (T, A) float32
    rewards: np.ndarray  # (T,) float32
    terminated: bool  # the last step ended the episode (False: truncated by a time limit)
    gamma: float = 1.0
    commanded: float = float("nan")  # the target return the episode was played for, if any
    returns_to_go: np.ndarray = field(init=False)  # (T,) float64, recomputed from the rewards received

    def __post_init__(self) -> None:
        assert len(self.observations) == len(self.actions) == len(self.rewards) > 0, "episode arrays disagree"
        self.returns_to_go = returns_to_go(self.rewards, self.gamma)

    @property
    def length(self) -> int:
        return len(self.rewards)

    @property
    def ret(self) -> float:
        return float(self.rewards.sum())

    @property
    def start_return(self) -> float:
        """The return-to-go of its first step: the return discounted by gamma (``ret`` when gamma is 1).
        Commands are in these units, as they are the returns-to-go a rollout starts from."""
        return float(self.returns_to_go[0])


class EpisodeBuffer:
    """Keeps at most ``capacity`` episodes: the newest (``fifo``) or the highest returns (``top``)."""

    def __init__(self, capacity: int, kind: Literal["fifo", "top"] = "fifo"):
        assert capacity >= 1 and kind in ("fifo", "top"), (capacity, kind)
        self.capacity, self.kind = capacity, kind
        self.episodes: list[Episode] = []

    def __len__(self) -> int:
        return len(self.episodes)

    @property
    def n_steps(self) -> int:
        return sum(e.length for e in self.episodes)

    def returns(self) -> np.ndarray:
        return np.array([e.ret for e in self.episodes], dtype=np.float64)

    def start_returns(self) -> np.ndarray:
        """Each episode's `Episode.start_return`: what the command strategies look at."""
        return np.array([e.start_return for e in self.episodes], dtype=np.float64)

    def add(self, episode: Episode) -> None:
        self.episodes.append(episode)
        if len(self.episodes) <= self.capacity:
            return
        if self.kind == "fifo":
            self.episodes.pop(0)
        else:
            # Drop the lowest return; among equals the oldest, so fresh data keeps flowing in.
            worst = min(range(len(self.episodes)), key=lambda i: (self.episodes[i].ret, i))
            self.episodes.pop(worst)

    def sample(
        self,
        batch_size: int,
        context_len: int,
        rng: np.random.Generator,
        return_scale: float,
        start_action: int,
    ) -> dict[str, torch.Tensor]:
        """Windows of up to K steps, each ending at a step drawn uniformly from all stored steps (so episodes
        are drawn in proportion to their length). Short windows are right-padded and masked.

        Returns tensors (B, K): returns_to_go (scaled), states (B, K, S), prev_actions, actions, timesteps,
        mask. prev_actions holds ``start_action`` at an episode's first step (discrete)."""
        assert self.episodes, "sample from an empty buffer"
        lengths = np.array([e.length for e in self.episodes])
        ends = np.cumsum(lengths)
        flat = rng.integers(0, ends[-1], size=batch_size)
        which = np.searchsorted(ends, flat, side="right")
        first = self.episodes[0]
        obs_dim = first.observations.shape[1]
        discrete = first.actions.ndim == 1
        act_shape = () if discrete else first.actions.shape[1:]
        k = context_len
        rtg = np.zeros((batch_size, k), np.float32)
        states = np.zeros((batch_size, k, obs_dim), np.float32)
        actions = np.zeros((batch_size, k, *act_shape), first.actions.dtype)
        prev = np.zeros((batch_size, k, *act_shape), first.actions.dtype)
        if discrete:
            prev.fill(start_action)
        timesteps = np.zeros((batch_size, k), np.int64)
        mask = np.zeros((batch_size, k), bool)
        for b, (e_idx, f) in enumerate(zip(which, flat, strict=True)):
            ep = self.episodes[e_idx]
            t_end = f - (ends[e_idx] - ep.length)  # the window's last step
            start = max(0, t_end - k + 1)
            n = t_end - start + 1
            rtg[b, :n] = ep.returns_to_go[start : t_end + 1] / return_scale
            states[b, :n] = ep.observations[start : t_end + 1]
            actions[b, :n] = ep.actions[start : t_end + 1]
            if start > 0:
                prev[b, :n] = ep.actions[start - 1 : t_end]
            elif n > 1:
                prev[b, 1:n] = ep.actions[: n - 1]
            timesteps[b, :n] = np.arange(start, t_end + 1)
            mask[b, :n] = True
        return {
            "returns_to_go": torch.from_numpy(rtg),
            "states": torch.from_numpy(states),
            "prev_actions": torch.from_numpy(prev),
            "actions": torch.from_numpy(actions),
            "timesteps": torch.from_numpy(timesteps),
            "mask": torch.from_numpy(mask),
        }
