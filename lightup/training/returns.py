"""Returns-to-go: computed once, here, from the rewards actually received (hindsight relabelling)."""

from __future__ import annotations

import numpy as np


def returns_to_go(rewards: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """R_t = sum_{i >= t} gamma^(i - t) r_i for one episode; float64 (T,).

    The Decision Transformer does not discount (gamma = 1). A truncated episode's returns-to-go are what
    was collected before the cut: the return still to come is unknown, and nothing is bootstrapped.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if gamma == 1.0:
        return np.cumsum(rewards[::-1])[::-1].copy()
    out = np.empty_like(rewards)
    running = 0.0
    for i in range(len(rewards) - 1, -1, -1):
        running = rewards[i] + gamma * running
        out[i] = running
    return out
