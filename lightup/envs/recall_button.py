"""RecallButton: see a button light up, wait through blank steps, press it when the cue comes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightup.envs.common import (
    MAX_BUTTONS,
    MAX_GAME_STEPS,
    METADATA,
    check_bool,
    check_int,
    check_render_mode,
    one_hot,
)


class RecallButtonEnv(gym.Env):
    """
    ## Description
    A memory test. One of `size` buttons lights up on the first step, then the lights stay off for
    `delay` steps, then a cue asks the agent to press the button it saw. The cue looks the same whatever
    button was lit, so a policy that sees only the current observation cannot beat chance.

    With `max_rounds > 1` an episode plays a random number of such rounds back to back (from `min_rounds`
    to `max_rounds`, drawn at reset), each with a new button: episodes then run longer than a short
    context and end at different steps in vectorized copies, and a policy must see the last `delay + 2`
    steps wherever it is in the episode (a rollout cache that keeps a stale window past its context
    length, or that loses one env's history when another env resets, fails it).

    ## Action Space
    `Discrete(size)`: the button to press. Only the presses made on cue steps count.

    ## Observation Space
    `Box(0, 1, (size + 1,), float32)`. Step 0 of a round: the one-hot of the lit button in the first `size`
    entries (last entry 0). Steps 1 to `delay`: all zeros. Step `delay + 1` (the cue): only the last entry
    is 1. After the episode ends: all zeros.

    ## Rewards
    `1 / rounds` if the press on a cue step is the button lit at the start of its round, else 0. Other
    presses give 0. An episode returns 1 at most, whatever its number of rounds.

    ## Starting State
    A uniformly random button is lit (and the number of rounds drawn), from `self.np_random`.

    ## Episode End
    Terminated after the last round's cue step, so an episode has `rounds * (delay + 2)` steps (fewer
    with `end_on_miss`). Never
    truncated: `max_rounds * (delay + 2) <= 1023` stays under the registered 1024-step safety cap.

    ## Arguments
    - `size=2`: number of buttons, an integer from 2 to 1024.
    - `delay=1`: blank steps between the light and the cue, an integer from 0 to 1021.
    - `min_rounds=1`, `max_rounds=1`: the range of rounds per episode, integers from 1, with
      `max_rounds * (delay + 2) <= 1023`.
    - `end_on_miss=False`: end the episode at the first wrong press on a cue step (the return still to
      collect at a cue is then above 0 exactly when that press is right).

    ## Optimal and Random Returns
    - optimal: 1 (remember the lit button);
    - uniformly random: `1 / size`;
    - any memoryless policy (a function of the current observation only): `1 / size`.
    `reward_threshold` is 0.9.

    ## Version History
    * v0: Initial version.
    """

    metadata = METADATA

    def __init__(
        self,
        size: int = 2,
        delay: int = 1,
        min_rounds: int = 1,
        max_rounds: int = 1,
        end_on_miss: bool = False,
        render_mode: str | None = None,
    ):
        self.size = check_int("size", size, 2, MAX_BUTTONS)
        self.delay = check_int("delay", delay, 0, MAX_GAME_STEPS - 2)
        self.min_rounds = check_int("min_rounds", min_rounds, 1)
        self.max_rounds = check_int("max_rounds", max_rounds, self.min_rounds, MAX_GAME_STEPS // (delay + 2))
        self.end_on_miss = check_bool("end_on_miss", end_on_miss)
        self.render_mode = check_render_mode(render_mode)

        self.action_space = spaces.Discrete(self.size)
        self.observation_space = spaces.Box(0.0, 1.0, (self.size + 1,), dtype=np.float32)
        self._lit = 0
        self._t = 0  # index of the step the agent is about to act on
        self._rounds = self.min_rounds

    max_return = 1.0  # the highest return one episode can get

    @property
    def reward_threshold(self) -> float:
        return 0.9

    @property
    def _cue_step(self) -> int:
        """The cue's step within a round."""
        return self.delay + 1

    @property
    def _length(self) -> int:
        return self._rounds * (self.delay + 2)

    def _obs(self) -> np.ndarray:
        within = self._t % (self.delay + 2)
        if self._t >= self._length:
            return np.zeros(self.size + 1, dtype=np.float32)  # after the end
        if within == 0:
            return one_hot(self._lit, self.size + 1)
        if within == self._cue_step:
            return one_hot(self.size, self.size + 1)
        return np.zeros(self.size + 1, dtype=np.float32)  # blank steps

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._lit = int(self.np_random.integers(self.size))
        if self.max_rounds > self.min_rounds:  # drawn only then: one round draws what it always drew
            self._rounds = int(self.np_random.integers(self.min_rounds, self.max_rounds + 1))
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        assert self._t < self._length, "the episode is over; call reset"
        cue = self._t % (self.delay + 2) == self._cue_step
        reward = 1.0 / self._rounds if cue and int(action) == self._lit else 0.0
        self._t += 1
        terminated = self._t >= self._length or (self.end_on_miss and cue and reward == 0.0)
        if cue and not terminated:
            self._lit = int(self.np_random.integers(self.size))  # the next round's button
        return self._obs(), reward, terminated, False, {}

    def describe(self, obs: np.ndarray) -> str:
        buttons = f"buttons 0-{self.size - 1}"
        if obs[-1] == 1.0:
            return f"the cue is on: press the button that was lit ({buttons})"
        if np.any(obs):
            return f"button {int(np.argmax(obs))} is lit ({buttons}); remember it, the cue comes later"
        if self._t >= self._length:
            return "the lights are out: the game is over"
        within = self._t % (self.delay + 2)
        return f"all lights are off (blank step {within} of {self.delay}); any press is ignored"

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        obs = self._obs()
        lights = " ".join("[*]" if v else "[ ]" for v in obs[:-1])
        cue = "cue: PRESS" if obs[-1] else "cue: wait"
        return f"{lights}  {cue}  (step {self._t} of {self._length - 1})"
