"""PressButton: press the button that lights up; in hard mode, count your presses."""

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


class PressButtonEnv(gym.Env):
    """
    ## Description
    A row of `size` buttons; each step one of them lights up and the agent presses one. It tests whether
    an agent reads its observation (normal mode) and whether it keeps memory across steps (hard mode,
    where the right button depends on how many presses came before, which the observation does not show).

    ## Action Space
    `Discrete(size)`: the button to press.

    ## Observation Space
    `Box(0, 1, (size,), float32)`: the one-hot of the lit button. There is no step counter. After the
    last press all lights go out (all zeros).

    ## Rewards
    +1 for pressing the right button, 0 otherwise. The right button is the lit one, or in hard mode
    `(lit + t) % size` where `t` is the 0-based index of the press.

    ## Starting State
    A uniformly random button is lit (button 0 with `fixed_light=True`), drawn from `self.np_random`.

    ## Episode End
    Terminated after `game_length` presses, or at the first wrong press with `end_on_miss=True`.
    Never truncated: `game_length <= 1023` stays under the registered 1024-step safety cap.

    ## Arguments
    - `size=2`: number of buttons, an integer from 2 to 1024.
    - `game_length=1`: presses per episode, an integer from 1 to 1023.
    - `hard_mode=False`: the right button is `(lit + t) % size`; needs `game_length >= 2` to differ from
      normal mode.
    - `fixed_light=False`: always light button 0, so the observation carries no information.
    - `end_on_miss=False`: end the episode at the first wrong press.

    ## Optimal and Random Returns
    With `L = game_length` and `n = size`:
    - optimal: `L` (press the right button every time; in hard mode, count presses);
    - uniformly random: `L / n`; with `end_on_miss`, `sum_{k=1..L} n^-k = (1 - n^-L) / (n - 1)`;
    - best memoryless policy in hard mode (without `end_on_miss`): `ceil(L / n)`, reached by pressing the
      lit button, which is right exactly on presses `t = 0, n, 2n, ...`.
    `reward_threshold` is `0.9 * L`. For `L >= 2`, `ceil(L / n) <= (L + 1) / 2 < 0.9 * L`, so in hard mode
    no memoryless policy reaches the threshold.

    ## Version History
    * v0: Initial version.
    """

    metadata = METADATA

    def __init__(
        self,
        size: int = 2,
        game_length: int = 1,
        hard_mode: bool = False,
        fixed_light: bool = False,
        end_on_miss: bool = False,
        render_mode: str | None = None,
    ):
        self.size = check_int("size", size, 2, MAX_BUTTONS)
        self.game_length = check_int("game_length", game_length, 1, MAX_GAME_STEPS)
        self.hard_mode = check_bool("hard_mode", hard_mode)
        self.fixed_light = check_bool("fixed_light", fixed_light)
        self.end_on_miss = check_bool("end_on_miss", end_on_miss)
        self.render_mode = check_render_mode(render_mode)

        self.action_space = spaces.Discrete(self.size)
        self.observation_space = spaces.Box(0.0, 1.0, (self.size,), dtype=np.float32)
        self._lit: int | None = None  # None: lights out, the game is over
        self._presses = 0
        self._return = 0.0

    @property
    def reward_threshold(self) -> float:
        return 0.9 * self.game_length

    @property
    def max_return(self) -> float:
        """The highest return one episode can get."""
        return float(self.game_length)

    def _draw_light(self) -> int:
        return 0 if self.fixed_light else int(self.np_random.integers(self.size))

    def _obs(self) -> np.ndarray:
        if self._lit is None:
            return np.zeros(self.size, dtype=np.float32)
        return one_hot(self._lit, self.size)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._lit = self._draw_light()
        self._presses = 0
        self._return = 0.0
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        assert self._lit is not None, "call reset before step"
        right = (self._lit + self._presses) % self.size if self.hard_mode else self._lit
        reward = 1.0 if int(action) == right else 0.0
        self._presses += 1
        self._return += reward
        terminated = self._presses >= self.game_length or (self.end_on_miss and reward == 0.0)
        self._lit = None if terminated else self._draw_light()
        return self._obs(), reward, terminated, False, {}

    def describe(self, obs: np.ndarray) -> str:
        if not np.any(obs):
            return f"no button is lit: the game is over ({self.size} buttons)"
        lit, press = int(np.argmax(obs)), self._presses + 1
        text = f"button {lit} of 0-{self.size - 1} is lit, press {press} of {self.game_length}"
        if self.hard_mode:
            text += f" (hard mode: the right button is lit + {self._presses}, mod {self.size})"
        return text

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        lights = " ".join("[*]" if i == self._lit else "[ ]" for i in range(self.size))
        return f"{lights}  presses {self._presses}/{self.game_length}, return so far {self._return:g}"
