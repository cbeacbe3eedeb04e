"""Gamble: a one-step game where conditioning on the best return picks the worst action."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightup.envs.common import METADATA, check_render_mode

# action -> ((probability, reward), ...). The values are those of the gambling environment in the
# authors' code (keirp/stochastic_offline_envs, envs/gambling/gambling.py), folded into one step.
OUTCOMES: dict[int, tuple[tuple[float, float], ...]] = {
    0: ((0.5, 5.0), (0.5, -15.0)),
    1: ((0.5, 1.0), (0.5, -6.0)),
    2: ((1.0, 1.0),),
}
NAMES = {0: "big gamble", 1: "small gamble", 2: "safe"}


def expected_return(action: int) -> float:
    """The expected return of playing ``action`` (the game has one step)."""
    return sum(p * r for p, r in OUTCOMES[action])


class GambleEnv(gym.Env):
    """
    ## Description
    The gambling example of Paster, McIlraith and Ba, "You Can't Count on Luck: Why Decision Transformers
    and RvS Fail in Stochastic Environments" (NeurIPS 2022): two slot machines and one sure thing.
    The highest return, +5, comes only from the big gamble, whose expected return is the worst (-5).
    A policy that conditions on the return it wants (a Decision Transformer asked for +5) therefore picks
    the action with the worst expected return: the return of one episode says as much about luck as
    about the action. Trained on uniformly random play and asked for +1, it still picks the small gamble
    a third of the time (P(action 1 | return 1) = 0.5 / 1.5), for an expected return of -1/6.

    ## Action Space
    `Discrete(3)`: 0 = big gamble, 1 = small gamble, 2 = safe.

    ## Observation Space
    `Box(0, 1, (1,), float32)`: always `[0]`.

    ## Rewards
    - action 0: +5 or -15, each with probability 1/2 (expected -5);
    - action 1: +1 or -6, each with probability 1/2 (expected -2.5);
    - action 2: +1 for sure (expected +1).

    ## Starting State
    `[0]`. The outcome of a gamble is drawn from `self.np_random`.

    ## Episode End
    Terminated after one step.

    ## Arguments
    None. (The authors' version takes two steps: the first picks a machine, the second pays out.)

    ## Optimal and Random Returns
    optimal: 1 (always safe); uniformly random: `(-5 - 2.5 + 1) / 3 = -13/6`, about -2.17.
    `expected_return(action)` gives each action's expected return. `reward_threshold` is 0.9, that is
    0.9 times the best expected return; only a policy that plays safe at least 97% of the time reaches it.

    ## Version History
    * v0: Initial version.
    """

    metadata = METADATA
    reward_threshold = 0.9
    max_return = 5.0  # the highest return one episode can get: a won gamble

    def __init__(self, render_mode: str | None = None):
        self.render_mode = check_render_mode(render_mode)
        self.action_space = spaces.Discrete(len(OUTCOMES))
        self.observation_space = spaces.Box(0.0, 1.0, (1,), dtype=np.float32)
        self._done = False
        self._last = ""

    @staticmethod
    def expected_return(action: int) -> float:
        return expected_return(action)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._done = False
        self._last = ""
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        assert not self._done, "the episode is over; call reset"
        outcomes = OUTCOMES[int(action)]
        reward = outcomes[int(self.np_random.choice(len(outcomes), p=[p for p, _ in outcomes]))][1]
        self._done = True
        self._last = f"{NAMES[int(action)]}: {reward:+g}"
        return np.zeros(1, dtype=np.float32), float(reward), True, False, {}

    def describe(self, obs: np.ndarray) -> str:
        if self._done:
            return "the game is over"
        machines = ", ".join(
            f"{a} = {NAMES[a]} ({' or '.join(f'{r:+g}' for _, r in OUTCOMES[a])})" for a in OUTCOMES
        )
        return f"pick one: {machines}"

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        return self._last or "three machines: 0 big gamble, 1 small gamble, 2 safe"
