"""Exploration for sparse rewards: rollout episodes played with temporally extended random actions.

When most stored episodes end at the worst return (MountainCar-v0 before the flag is first reached, Acrobot-v1
before the tip first swings up), the replay holds nothing better to condition on or to weight, and a policy
near uniform rarely finds better by itself: uniformly random actions reach MountainCar-v0's flag in none of
200 episodes. Random actions each held for a heavy-tailed number of steps (ez-greedy's options, Dabney et al.
2021: P(duration >= n) = 1 / n) travel further. Each rollout episode is such an exploring episode with a
chance drawn when it starts:
- discrete actions: ``share`` x (the fraction of stored episodes at the worst return) x (`payoff`: less where
  the policy's own episodes beat the worst more often than exploring ones): at most ``share`` while nothing
  better has been found, near 0 once returns spread (CartPole-v1, LunarLander-v3);
- continuous actions (an option holds a uniform action of the box; opt in, ``--explore-share``): ``share`` x
  `gain`, how much more often exploring episodes reach the top tenth of stored returns than the policy's.
  Action costs make every continuous return differ (MountainCarContinuous-v0), so none sits at the worst.
The episodes are stored like the others; hindsight returns-to-go tell the policy what they were worth.
"""

from __future__ import annotations

import numpy as np
import torch

MAX_DURATION = 10_000
"""The longest an option holds its action (ez-greedy's cap)."""


def at_worst(returns: np.ndarray) -> np.ndarray:
    """Which ``returns`` equal (to a relative 1e-6) their minimum (bool, like ``returns``)."""
    if len(returns) == 0:
        return np.zeros(0, dtype=bool)
    return np.isclose(returns, returns.min(), rtol=1e-6, atol=1e-9)


def worst_share(returns: np.ndarray) -> float:
    """The fraction of ``returns`` at their minimum (`at_worst`); 0 if there are none."""
    return float(np.mean(at_worst(returns))) if len(returns) else 0.0


def payoff(returns: np.ndarray, explored: np.ndarray) -> float:
    """How exploring episodes fare against the policy's own, in [0, 1]: the rate at which stored exploring
    episodes rise above the worst return over the rate of the others, each counted with one success and one
    failure added (Laplace's rule, so a handful of episodes says little), at most 1; 1 while no stored
    episode is above the worst.

    Options that travel help where a goal lies far along a few actions (MountainCar-v0's flag: random
    actions held for heavy-tailed durations reach it in 1.5% of 200 episodes, uniform ones in none); they
    hurt where a goal needs varied actions in a row (MiniGrid-DoorKey-5x5-v0: 0.5% against uniform actions'
    8%). Where the policy's episodes find better than the worst more often than exploring ones, the chance
    to explore falls in proportion, so exploration is kept where it pays
    (benchmarks/results/explore_rates.md)."""
    above = ~at_worst(returns)
    if not above.any():  # nothing found yet by either: no evidence against exploring
        return 1.0
    rate = [(above[m].sum() + 1.0) / (m.sum() + 2.0) for m in (explored, ~explored)]
    return float(min(1.0, rate[0] / rate[1]))


TOP_SHARE = 0.1
"""Continuous actions: exploring pays where its episodes reach the top tenth of stored returns (`gain`)."""


def in_top(returns: np.ndarray, share: float = TOP_SHARE) -> np.ndarray:
    """Which ``returns`` lie above their (1 - ``share``) quantile (bool, like ``returns``)."""
    if len(returns) == 0:
        return np.zeros(0, dtype=bool)
    return returns > np.quantile(returns, 1.0 - share)


def gain(returns: np.ndarray, explored: np.ndarray, share: float = TOP_SHARE) -> float:
    """Continuous actions: how much more often stored exploring episodes reach the top ``share`` of stored
    returns (`in_top`) than the policy's own, in [0, 1]: the ratio of the two rates less 1, at most 1
    (twice the policy's rate or more: 1; no more often: 0). Each rate has two episodes' worth of prior at
    ``share``, the rate of either kind when neither is better, so a handful of episodes says little and a
    replay without exploring episodes gives 0. 1 while nothing is stored: the first episodes find out.

    Commands ask for the best returns stored, so an exploring episode replaces one of the policy's to
    advantage only where it lands among them more often. Action costs make every continuous return differ,
    so none sits at the worst (the bar discrete actions use, `payoff`). Held uniform actions reach
    MountainCarContinuous-v0's flag in about half of their episodes and uniform ones in none, so they hold
    its top; on Pendulum-v1 their returns' top tenth lies below uniform actions' (a rate of 0.27 times
    theirs over 60 episodes of each), yet the first episodes explore, and that cost it env steps to -200
    (benchmarks/results/learning_continuous.md)."""
    if len(returns) == 0:
        return 1.0
    top = in_top(returns, share)
    rate = [(top[m].sum() + 2.0 * share) / (m.sum() + 2.0) for m in (explored, ~explored)]
    return float(np.clip(rate[0] / rate[1] - 1.0, 0.0, 1.0))


class Explorer:
    """Per env of a rollout: whether its episode explores, and the option under way (action, steps left).
    An option's action is one of ``n_actions``, or with ``continuous`` a vector of ``n_actions`` numbers
    uniform in [-1, 1) (the policy's action box, which the env's bounds are rescaled from). Draws from torch's
    generator (saved in checkpoints), so runs and resumes stay the same."""

    def __init__(self, n_envs: int, n_actions: int, continuous: bool = False):
        self.n_actions, self.continuous = n_actions, continuous
        self.exploring = np.zeros(n_envs, dtype=bool)
        shape, dtype = option_action(n_envs, n_actions, continuous)
        self.action = np.zeros(shape, dtype=dtype)
        self.left = np.zeros(n_envs, dtype=np.int64)

    def begin(self, rows: np.ndarray, chance: float) -> None:
        """Episodes start in envs ``rows``: each explores with ``chance``, with no option under way."""
        self.left[rows] = 0
        if chance <= 0:
            self.exploring[rows] = False
            return
        self.exploring[rows] = torch.rand(len(rows)).numpy() < chance

    def act(self, actions: np.ndarray) -> np.ndarray:
        """``actions`` (N,) with those of exploring envs replaced by their options' actions (a new option,
        uniform action and heavy-tailed duration, where the last one ran out)."""
        if not self.exploring.any():
            return actions
        fresh = np.flatnonzero(self.exploring & (self.left == 0))
        if len(fresh):
            if self.continuous:
                self.action[fresh] = (2.0 * torch.rand(len(fresh), self.n_actions) - 1.0).numpy()
            else:
                self.action[fresh] = torch.randint(self.n_actions, (len(fresh),)).numpy()
            u = 1.0 - torch.rand(len(fresh), dtype=torch.float64).numpy()  # in (0, 1]
            self.left[fresh] = np.minimum(np.floor(1.0 / u), MAX_DURATION).astype(np.int64)
        exploring = self.exploring[:, None] if self.continuous else self.exploring
        out = np.where(exploring, self.action, actions)
        self.left[self.exploring] -= 1
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {
            "exploring": self.exploring.copy(),
            "explore_action": self.action.copy(),
            "explore_left": self.left.copy(),
        }

    def restore(self, state: dict[str, np.ndarray]) -> None:
        """From `state`'s arrays; a state without them (written before exploration) explores nowhere."""
        n = len(self.exploring)
        saved = (state.get("exploring"), state.get("explore_action"), state.get("explore_left"))
        if all(s is None for s in saved):
            self.exploring[:], self.action[:], self.left[:] = False, 0, 0
            return
        self.exploring[:], self.action[:], self.left[:] = saved[0][:n], saved[1][:n], saved[2][:n]


def option_action(n_envs: int, n_actions: int, continuous: bool) -> tuple[tuple[int, ...], type]:
    """The shape and dtype of the options' actions of ``n_envs`` envs: (N,) int64, or (N, A) float32."""
    return ((n_envs, n_actions), np.float32) if continuous else ((n_envs,), np.int64)


def explore_shapes(n_envs: int, n_actions: int, continuous: bool) -> dict[str, tuple[tuple[int, ...], type]]:
    """The arrays an `Explorer` adds to a rollout's state: name -> (shape, dtype)."""
    return {
        "exploring": ((n_envs,), bool),
        "explore_action": option_action(n_envs, n_actions, continuous),
        "explore_left": ((n_envs,), np.int64),
    }


EXPLORE_KEYS = tuple(explore_shapes(1, 1, False))
"""The names of the arrays an `Explorer` adds to a rollout's state."""


def options_out_of_range(state: dict[str, np.ndarray], n_actions: int, continuous: bool = False) -> bool:
    """A saved state's options (of `explore_shapes`, shapes already checked) hold an action that is not one
    of ``n_actions`` (not finite and within [-1, 1] for ``continuous``) or more steps left than an option
    can have."""
    left, action = state["explore_left"], state["explore_action"]
    if left.min() < 0 or left.max() > MAX_DURATION:
        return True
    if continuous:
        return bool(not np.isfinite(action).all() or np.abs(action).max() > 1.0)
    return bool(action.min() < 0 or action.max() >= n_actions)
