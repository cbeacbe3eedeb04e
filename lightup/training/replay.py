"""A bounded buffer of whole episodes, and length-K training windows sampled from it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from lightup.training.returns import lambda_returns, returns_to_go


@dataclass
class Episode:
    observations: np.ndarray  # (T, S) float32
    actions: np.ndarray  # (T,) int64, or (T, A) float32
    rewards: np.ndarray  # (T,) float32
    terminated: bool  # the last step ended the episode (False: truncated by a time limit)
    gamma: float = 1.0
    commanded: float = float("nan")  # the target return the episode was played for, if any
    explored: bool = False  # its actions came from exploration's options (`lightup.training.explore`)
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


VALUE_ROWS_KEPT = 1 << 24
"""The most numbers of the value's rows of every stored step kept at once (64 MB of float32, each episode's,
and as much again while they are joined into one array for a round); past it they are built for each batch
and bootstrap chunk instead."""
VALUE_CHUNK = 8192
"""Steps per call of the value when the rows are not kept."""
OBSERVATION_BYTES = 2 << 30
"""The most bytes of stored observations (float32) a replay holds by default: 2 GiB, about 19,000 steps of
CarRacing-v3's 96 x 96 x 3 images (a replay of 300 such episodes would want 33 GB), a hundred million of
CartPole-v1's."""


def step_cap(buffer_steps: int | None, obs_dim: int) -> int:
    """The most steps a replay of ``obs_dim`` observations holds: ``buffer_steps`` if given, never more than
    `OBSERVATION_BYTES` of observations."""
    most = max(OBSERVATION_BYTES // (4 * max(obs_dim, 1)), 1)
    return most if buffer_steps is None else min(buffer_steps, most)


def episode_layout(episodes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Episodes stored one after another in flat arrays: (ends, starts) of each (E,), and each step's index
    within its episode (N,)."""
    lengths = np.array([e.length for e in episodes])
    ends = np.cumsum(lengths)
    starts = ends - lengths
    return ends, starts, np.arange(ends[-1]) - np.repeat(starts, lengths)


def episode_lambda_returns(episodes, values, ends, starts, gamma: float, lam) -> np.ndarray:
    """TD(lam) returns (`lightup.training.returns.lambda_returns`) of ``episodes`` laid out flat
    (`episode_layout`) from their steps' ``values`` (N,), or (N, k) with ``lam`` (k,): an episode a time
    limit cut is bootstrapped with the value of its last state (the state after it is not stored)."""
    cut = np.array([not e.terminated for e in episodes])
    bootstrap = np.where(cut if values.ndim == 1 else cut[:, None], values[ends - 1], 0.0)
    rewards = np.concatenate([e.rewards for e in episodes])
    return lambda_returns(rewards, values, starts, ends - starts, bootstrap, gamma, lam)


class EpisodeBuffer:
    """Keeps at most ``capacity`` episodes, and with ``max_steps`` at most that many steps (but at least one
    episode): the newest (``fifo``) or the highest returns (``top``).

    With ``value_gamma``, each stored step also keeps its return discounted by it (computed once, at `add`),
    and sampled windows carry them as ``value_targets``: what a learned value of the state is fit to, and as
    ``value_inputs`` what the value reads: ``value_inputs(observations, actions, t, idx)``, the rows of the
    flat steps ``idx`` given each stored step's index ``t`` within its episode
    (`lightup.training.advantage.history_inputs`), else the observations."""

    def __init__(
        self,
        capacity: int,
        kind: Literal["fifo", "top"] = "fifo",
        value_gamma: float | None = None,
        max_steps: int | None = None,
        value_inputs: Callable[..., np.ndarray] | None = None,
    ):
        assert capacity >= 1 and kind in ("fifo", "top") and (max_steps or 1) >= 1, (capacity, kind)
        self.capacity, self.kind, self.value_gamma, self.max_steps = capacity, kind, value_gamma, max_steps
        self.value_inputs = value_inputs
        self._episodes: list[Episode] = []
        self._n_steps = 0
        self._value_targets: list[np.ndarray] = []  # beside _episodes, with value_gamma
        # beside _episodes, with value_inputs: each episode's value rows, built once at `add` (a row reads
        # only its own episode), or None where keeping them would pass VALUE_ROWS_KEPT numbers in all
        self._episode_rows: list[np.ndarray | None] = []
        self._rows_size = 0  # numbers in the rows kept
        self._flat: dict[str, np.ndarray] | None = None  # every stored step in one array; see `_steps`

    @property
    def episodes(self) -> tuple[Episode, ...]:
        """The stored episodes, oldest first (read-only: `add` is the way in)."""
        return tuple(self._episodes)

    def __len__(self) -> int:
        return len(self._episodes)

    @property
    def n_steps(self) -> int:
        return self._n_steps

    def returns(self) -> np.ndarray:
        return np.array([e.ret for e in self._episodes], dtype=np.float64)

    def explored(self) -> np.ndarray:
        """Each stored episode's `Episode.explored` (bool (n,))."""
        return np.array([e.explored for e in self._episodes], dtype=bool)

    def start_returns(self) -> np.ndarray:
        """Each episode's `Episode.start_return`: what the command strategies look at."""
        return np.array([e.start_return for e in self._episodes], dtype=np.float64)

    def add(self, episode: Episode) -> None:
        episodes = self._episodes
        episodes.append(episode)
        self._n_steps += episode.length
        if self.value_gamma is not None:
            self._value_targets.append(returns_to_go(episode.rewards, self.value_gamma))
        if self.value_inputs is not None:
            self._episode_rows.append(self._rows_of(episode))
        self._flat = None
        while len(episodes) > self.capacity or (
            self.max_steps is not None and self._n_steps > self.max_steps and len(episodes) > 1
        ):
            # fifo drops the oldest; top the lowest return, among equals the oldest (fresh data flows in)
            drop = 0 if self.kind == "fifo" else min(range(len(episodes)), key=lambda i: (episodes[i].ret, i))
            self._n_steps -= episodes.pop(drop).length
            if self.value_gamma is not None:
                self._value_targets.pop(drop)
            if self.value_inputs is not None:
                rows = self._episode_rows.pop(drop)
                self._rows_size -= 0 if rows is None else rows.size

    def _rows_of(self, episode: Episode) -> np.ndarray | None:
        """The value rows of ``episode``'s steps, counted in ``_rows_size``; None if they do not fit."""
        t = np.arange(episode.length)
        width = self.value_inputs(episode.observations, episode.actions, t, t[:1]).shape[-1]  # one row's
        if self._rows_size + episode.length * width > VALUE_ROWS_KEPT:
            return None
        self._rows_size += episode.length * width
        return self.value_inputs(episode.observations, episode.actions, t, t)

    def _steps(self) -> dict[str, np.ndarray]:
        """Every stored step, episode after episode, in flat arrays (built on the first `sample` after an
        `add`, then reused: a round of updates samples many batches between two rounds of rollouts)."""
        if self._flat is None:
            eps = self._episodes
            ends, starts, t = episode_layout(eps)
            self._flat = {
                "ends": ends,
                "starts": starts,
                "returns_to_go": np.concatenate([e.returns_to_go for e in eps]),
                "observations": np.concatenate([e.observations for e in eps]),
                "actions": np.concatenate([e.actions for e in eps]),
                "start_returns": self.start_returns(),  # per episode
                "t": t,  # index within its episode
            }
            if self.value_gamma is not None:
                self._flat["value_targets"] = np.concatenate(self._value_targets)
        return self._flat

    def bootstrap_value_targets(self, value_of, lam) -> None:
        """Replace the value targets of every stored step, until the next `add`, with TD(lam) returns
        (`lightup.training.returns.lambda_returns`, discounted by ``value_gamma``) from the values
        ``value_of`` gives: the value's inputs (N, F) float32 to values (N,) in return units, or (N, k) of k
        values, each with its own lam of ``lam`` (k,), whose targets are then (N, k); a time limit's cut is
        bootstrapped (`episode_lambda_returns`)."""
        assert self.value_gamma is not None and self._episodes, "bootstrap needs value_gamma and episodes"
        steps = self._steps()
        n = int(steps["ends"][-1])
        if self._rows_kept():  # one call over every step's row
            values = np.asarray(value_of(steps["value_rows"]), dtype=np.float64)
        else:  # in chunks: the rows of every step do not fit at once
            chunks = [np.arange(i, min(i + VALUE_CHUNK, n)) for i in range(0, n, VALUE_CHUNK)]
            values = np.concatenate([value_of(self._value_rows(c)) for c in chunks]).astype(np.float64)
        steps["value_targets"] = episode_lambda_returns(
            self._episodes, values, steps["ends"], steps["starts"], self.value_gamma, lam
        )

    def _value_rows(self, idx: np.ndarray) -> np.ndarray:
        """What the value reads at the flat steps ``idx`` (float32 (*idx.shape, F))."""
        steps = self._steps()
        if self._rows_kept():
            return steps["value_rows"][idx]
        return self.value_inputs(steps["observations"], steps["actions"], steps["t"], idx)

    def _rows_kept(self) -> bool:
        """Every stored step's value row in one array after an `add`, where they fit in VALUE_ROWS_KEPT
        numbers (each episode's built once); True if they are kept. Without ``value_inputs`` the rows are the
        observations."""
        steps = self._steps()
        if "value_rows" not in steps:
            if self.value_inputs is None:
                steps["value_rows"] = steps["observations"].astype(np.float32)
            else:
                kept = self._episode_rows
                for i, rows in enumerate(kept):  # the episodes that did not fit when they came: now?
                    if rows is None:
                        kept[i] = self._rows_of(self._episodes[i])
                fit = all(rows is not None for rows in kept)
                steps["value_rows"] = np.concatenate(kept) if fit else None
        return steps["value_rows"] is not None

    def sample(
        self,
        batch_size: int,
        context_len: int,
        rng: np.random.Generator,
        return_scale: float,
        start_action: int,
        start_returns: bool = False,
    ) -> dict[str, torch.Tensor]:
        """Windows of up to K steps, each ending at a step drawn uniformly from all stored steps (so episodes
        are drawn in proportion to their length). Short windows are right-padded and masked.

        Returns tensors (B, K): returns_to_go (scaled), states (B, K, S), prev_actions, actions, timesteps,
        mask. prev_actions holds ``start_action`` at an episode's first step (discrete). With the buffer's
        ``value_gamma``: value_targets too, the discounted returns scaled as the returns-to-go ((B, K, k)
        after a bootstrap of k values), and value_inputs (B, K, F), what the value reads at each step. With
        ``start_returns``: start_returns (B,) too, the `Episode.start_return` of each window's episode
        (unscaled)."""
        assert self._episodes, "sample from an empty buffer"
        steps = self._steps()
        ends, starts = steps["ends"], steps["starts"]
        flat = rng.integers(0, ends[-1], size=batch_size)  # each window's last step, over all steps
        which = np.searchsorted(ends, flat, side="right")
        t_end = flat - starts[which]  # its index within its episode
        first_t = np.maximum(t_end - context_len + 1, 0)  # the window's first step, within the episode
        pos = np.arange(context_len)
        t = first_t[:, None] + pos  # (B, K) the step at each position, within the episode
        mask = t <= t_end[:, None]  # right-padded: positions past the window's last step
        idx = np.where(mask, starts[which][:, None] + t, 0)  # into the flat arrays (0: any valid index)
        rtg = np.where(mask, steps["returns_to_go"][idx] / return_scale, 0.0).astype(np.float32)
        states = np.where(mask[..., None], steps["observations"][idx], 0.0).astype(np.float32)
        all_actions = steps["actions"]
        dtype, act_axes = all_actions.dtype, (1,) * (all_actions.ndim - 1)  # continuous: one axis more
        actions = np.where(mask.reshape(*mask.shape, *act_axes), all_actions[idx], 0).astype(dtype)
        # The action before each step: the start token (discrete) or zeros at an episode's first step.
        has_prev = mask & (t > 0)
        before = all_actions[np.where(has_prev, idx - 1, 0)]
        fill = start_action if all_actions.ndim == 1 else 0
        prev = np.where(has_prev.reshape(*mask.shape, *act_axes), before, fill).astype(dtype)
        timesteps = np.where(mask, t, 0).astype(np.int64)
        extra = {}
        if self.value_gamma is not None:
            targets = steps["value_targets"][idx]  # (B, K), or (B, K, k) for k values
            keep = mask.reshape(mask.shape + (1,) * (targets.ndim - 2))
            values = np.where(keep, targets / return_scale, 0.0).astype(np.float32)
            extra["value_targets"] = torch.from_numpy(values)
            inputs = self._value_rows(idx)
            extra["value_inputs"] = torch.from_numpy(
                np.where(mask[..., None], inputs, 0.0).astype(np.float32)
            )
        if start_returns:
            extra["start_returns"] = torch.from_numpy(steps["start_returns"][which].astype(np.float32))
        return {
            "returns_to_go": torch.from_numpy(rtg),
            "states": torch.from_numpy(states),
            "prev_actions": torch.from_numpy(prev),
            "actions": torch.from_numpy(actions),
            "timesteps": torch.from_numpy(timesteps),
            "mask": torch.from_numpy(mask),
            **extra,
        }
