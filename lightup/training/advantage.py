"""Advantage weighting (AWR, Peng et al. 2019): the value net, its inputs, and the weights exp(A / beta)."""

from __future__ import annotations

import numpy as np
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


def history_inputs(
    observations: np.ndarray,
    actions: np.ndarray,
    t: np.ndarray,
    idx: np.ndarray,
    history: int,
    n_actions: int | None,
) -> np.ndarray:
    """The value net's input (float32 (..., F)) at the steps ``idx`` (any shape) of consecutive episodes:
    the step's observation, then for each of the ``history`` steps before it, that step's observation, its
    action (one-hot of ``n_actions`` for discrete actions, else as taken) and a 1 (all 0 before the
    episode's first step).

    ``observations`` (N, S), ``actions`` (N,) or (N, A) and ``t`` (N,), each step's index within its
    episode, hold the episodes one after another. Only the rows asked for are built: the buffer's steps
    times F can be far larger than a batch. A value of the observation alone (``history`` 0) cannot tell
    apart states that look alike but differ in what came before (a count of presses, a cue seen earlier),
    which the sequence policy can: its advantages would then push every such state toward the same action.
    """
    idx = np.asarray(idx)
    parts = [np.asarray(observations[idx], dtype=np.float32)]
    for back in range(1, history + 1):
        valid = (t[idx] >= back)[..., None]
        before = np.maximum(idx - back, 0)
        taken = actions[before]
        taken = np.eye(n_actions, dtype=np.float32)[taken] if n_actions is not None else taken
        taken = taken.reshape(*idx.shape, -1)
        parts += [np.where(valid, observations[before], 0.0), np.where(valid, taken, 0.0), valid]
    return np.concatenate(parts, axis=-1, dtype=np.float32)
