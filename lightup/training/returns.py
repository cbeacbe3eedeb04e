"""Returns-to-go: computed once, here, from the rewards actually received (hindsight relabelling)."""

from __future__ import annotations

import numpy as np

from lightup.ranges import HUGE


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


def next_return_to_go(rtg, reward, gamma: float = 1.0):
    """The return-to-go one step on, after ``reward``: (R_t - r_t) / gamma, from R_t = r_t + gamma R_{t+1}.

    What a rollout feeds the policy after each step, so that a command met exactly equals the hindsight
    returns-to-go of `returns_to_go` at every step (with gamma 1: the command less the rewards so far).
    Below 1, gamma divides it again at every step: it is held within +-`HUGE` (past any return), where it
    would otherwise overflow to inf over a long episode (0.1 ** -309)."""
    if gamma == 1.0:
        return rtg - reward
    return np.clip((rtg - reward) / gamma, -HUGE, HUGE)


def commanded_returns_to_go(rewards: np.ndarray, command: float, gamma: float = 1.0) -> np.ndarray:
    """The returns-to-go a rollout fed the policy over an episode that started at ``command``: the command,
    then `next_return_to_go` after each reward; float64 (T,)."""
    rewards = np.asarray(rewards, dtype=np.float64)
    if gamma == 1.0:
        return command - np.concatenate([[0.0], np.cumsum(rewards)[:-1]])
    out = np.empty_like(rewards)
    rtg = float(command)
    for i, reward in enumerate(rewards):
        out[i] = rtg
        rtg = next_return_to_go(rtg, reward, gamma)
    return out


def at_commands(returns_to_go, timesteps, start_returns, commands, gamma: float = 1.0):
    """Hindsight returns-to-go (B, T) of windows, at timesteps t of their episodes, turned into the ones a
    rollout would have fed the same steps had each episode started at ``commands`` (B,) in place of its
    ``start_returns`` (B,): `commanded_returns_to_go` of each episode, at t. The two differ by the same
    amount at every step, (command - start return) / gamma^t, so any consistent scale works (tensors or
    arrays)."""
    shift = (commands - start_returns)[:, None]
    return returns_to_go + (shift if gamma == 1.0 else shift / gamma**timesteps)


def lambda_returns(rewards, values, starts, lengths, bootstrap, gamma: float, lam) -> np.ndarray:
    """TD(lambda) returns of episodes stored one after another in flat arrays; float64 like ``rewards``.

    G_t = r_t + gamma ((1 - lam) V_{t+1} + lam G_{t+1}) within each episode, with G_T = V_T = ``bootstrap``
    after its last step (0 where the episode terminated; a value estimate where a time limit cut it).
    ``values`` (N,) are V(s_t) at every stored step; ``starts`` and ``lengths`` (E,) place the episodes.
    lam 1 gives the discounted returns plus the bootstrap; lam 0 one-step TD targets. Several values at
    once: ``values`` (N, k), ``bootstrap`` (E, k) and ``lam`` a number or (k,) give returns (N, k)."""
    rewards, values = np.asarray(rewards, dtype=np.float64), np.asarray(values, dtype=np.float64)
    lam = np.asarray(lam, dtype=np.float64)
    out = np.empty_like(values)
    # Longest episodes first: the episodes still under way at step t are then the first ``alive[t]``, a
    # slice, where a mask would take an index array and a gather and a scatter more per step.
    order = np.argsort(-lengths, kind="stable")
    starts, lengths = starts[order], lengths[order]
    longest = int(lengths.max(initial=0))
    alive = np.searchsorted(-lengths, -np.arange(longest), side="left")  # episodes longer than t
    g = np.asarray(bootstrap, dtype=np.float64)[order]  # G_{t+1} per episode
    v_next = g.copy()  # V_{t+1} per episode
    for t in range(longest - 1, -1, -1):  # every episode at its step t, at once
        m = alive[t]
        i = starts[:m] + t
        r = rewards[i] if values.ndim == 1 else rewards[i, None]
        g[:m] = r + gamma * ((1 - lam) * v_next[:m] + lam * g[:m])
        v_next[:m] = values[i]
        out[i] = g[:m]
    return out
