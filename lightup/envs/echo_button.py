"""EchoButton: press the button that was lit one step before, in episodes of random length."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightup.envs.common import MAX_BUTTONS, MAX_GAME_STEPS, METADATA, check_int, check_render_mode, one_hot


class EchoButtonEnv(gym.Env):
    """
    ## Description
    A memory test over long episodes that end at different times. Each step one of `size` buttons lights
    up; the agent must press the button that was lit `lag` steps before. The episode length is drawn
    anew at each reset, so vectorized copies end and restart at different steps. A policy must see the
    last `lag` observations at every step of an episode however long: a rollout cache that keeps a stale
    window past its context length, or that loses one env's history when another env resets, fails it.

    ## Action Space
    `Discrete(size)`: the button to press.

    ## Observation Space
    `Box(0, 1, (size,), float32)`: the one-hot of the lit button; all zeros after the last step.

    ## Rewards
    From step `lag` on, `1 / (length - lag)` for pressing the button lit `lag` steps before, else 0;
    the first `lag` presses give 0. Every episode can return 1 at most, whatever its length.

    ## Starting State
    A uniformly random button is lit and the length is drawn uniformly from `min_length` to
    `max_length`, both from `self.np_random`.

    ## Episode End
    Terminated after `length` presses. Never truncated: `max_length <= 1023` stays under the registered
    1024-step safety cap.

    ## Arguments
    - `size=2`: number of buttons, an integer from 2 to 1024.
    - `lag=1`: how many steps back the button to press was lit, an integer from 1 to 64.
    - `min_length=5`, `max_length=10`: the range of episode lengths, integers from `lag + 1` to 1023.

    ## Optimal and Random Returns
    - optimal: 1 (remember the last `lag` lights);
    - uniformly random, and any memoryless policy: `1 / size`.
    `reward_threshold` is 0.9.

    ## Version History
    * v0: Initial version.
    """

    metadata = METADATA
    max_return = 1.0  # the highest return one episode can get
    reward_threshold = 0.9

    def __init__(
        self,
        size: int = 2,
        lag: int = 1,
        min_length: int = 5,
        max_length: int = 10,
        render_mode: str | None = None,
    ):
        self.size = check_int("size", size, 2, MAX_BUTTONS)
        self.lag = check_int("lag", lag, 1, 64)
        self.min_length = check_int("min_length", min_length, self.lag + 1, MAX_GAME_STEPS)
        self.max_length = check_int("max_length", max_length, self.min_length, MAX_GAME_STEPS)
        self.render_mode = check_render_mode(render_mode)

        self.action_space = spaces.Discrete(self.size)
        self.observation_space = spaces.Box(0.0, 1.0, (self.size,), dtype=np.float32)
        self._lights: list[int] = []  # every button lit so far this episode
        self._length = self.min_length
        self._t = 0  # index of the step the agent is about to act on

    def _obs(self) -> np.ndarray:
        if self._t >= self._length:
            return np.zeros(self.size, dtype=np.float32)
        return one_hot(self._lights[-1], self.size)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._length = int(self.np_random.integers(self.min_length, self.max_length + 1))
        self._lights = [int(self.np_random.integers(self.size))]
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        assert self._t < self._length, "the episode is over; call reset"
        right = self._t >= self.lag and int(action) == self._lights[self._t - self.lag]
        reward = 1.0 / (self._length - self.lag) if right else 0.0
        self._t += 1
        terminated = self._t >= self._length
        if not terminated:
            self._lights.append(int(self.np_random.integers(self.size)))
        return self._obs(), reward, terminated, False, {}

    def describe(self, obs: np.ndarray) -> str:
        if not np.any(obs):
            return "the lights are out: the game is over"
        lit = int(np.argmax(obs))
        if self._t < self.lag:
            return f"button {lit} is lit (buttons 0-{self.size - 1}); remember it, this press is ignored"
        return f"button {lit} is lit; press the one lit {self.lag} step(s) before (buttons 0-{self.size - 1})"

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        lights = " ".join("[*]" if i == self._lights[-1] else "[ ]" for i in range(self.size))
        return f"{lights}  step {self._t} of {self._length}"
