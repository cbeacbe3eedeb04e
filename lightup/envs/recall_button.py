"""RecallButton: see a button light up, wait through blank steps, press it when the cue comes."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightup.envs.common import MAX_BUTTONS, MAX_GAME_STEPS, METADATA, check_int, check_render_mode, one_hot


class RecallButtonEnv(gym.Env):
    """
    ## Description
    A memory test. One of `size` buttons lights up on the first step, then the lights stay off for
    `delay` steps, then a cue asks the agent to press the button it saw. The cue looks the same whatever
    button was lit, so a policy that sees only the current observation cannot beat chance.

    ## Action Space
    `Discrete(size)`: the button to press. Only the press made on the cue step counts.

    ## Observation Space
    `Box(0, 1, (size + 1,), float32)`. Step 0: the one-hot of the lit button in the first `size` entries
    (last entry 0). Steps 1 to `delay`: all zeros. Step `delay + 1` (the cue): only the last entry is 1.
    After the episode ends: all zeros.

    ## Rewards
    +1 if the press on the cue step is the button lit at step 0, else 0. Earlier presses give 0.

    ## Starting State
    A uniformly random button is lit, drawn from `self.np_random`.

    ## Episode End
    Terminated after the cue step, so every episode has `delay + 2` steps. Never truncated:
    `delay <= 1021` stays under the registered 1024-step safety cap.

    ## Arguments
    - `size=2`: number of buttons, an integer from 2 to 1024.
    - `delay=1`: blank steps between the light and the cue, an integer from 0 to 1021.

    ## Optimal and Random Returns
    - optimal: 1 (remember the lit button);
    - uniformly random: `1 / size`;
    - any memoryless policy (a function of the current observation only): `1 / size`.
    `reward_threshold` is 0.9.

    ## Version History
    * v0: Initial version.
    """

    metadata = METADATA

    def __init__(self, size: int = 2, delay: int = 1, render_mode: str | None = None):
        self.size = check_int("size", size, 2, MAX_BUTTONS)
        self.delay = check_int("delay", delay, 0, MAX_GAME_STEPS - 2)
        self.render_mode = check_render_mode(render_mode)

        self.action_space = spaces.Discrete(self.size)
        self.observation_space = spaces.Box(0.0, 1.0, (self.size + 1,), dtype=np.float32)
        self._lit = 0
        self._t = 0  # index of the step the agent is about to act on

    max_return = 1.0  # the highest return one episode can get

    @property
    def reward_threshold(self) -> float:
        return 0.9

    @property
    def _cue_step(self) -> int:
        return self.delay + 1

    def _obs(self) -> np.ndarray:
        if self._t == 0:
            return one_hot(self._lit, self.size + 1)
        if self._t == self._cue_step:
            return one_hot(self.size, self.size + 1)
        return np.zeros(self.size + 1, dtype=np.float32)  # blank steps, and after the end

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._lit = int(self.np_random.integers(self.size))
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        assert self._t <= self._cue_step, "the episode is over; call reset"
        terminated = self._t == self._cue_step
        reward = 1.0 if terminated and int(action) == self._lit else 0.0
        self._t += 1
        return self._obs(), reward, terminated, False, {}

    def describe(self, obs: np.ndarray) -> str:
        buttons = f"buttons 0-{self.size - 1}"
        if obs[-1] == 1.0:
            return f"the cue is on: press the button that was lit ({buttons})"
        if np.any(obs):
            return f"button {int(np.argmax(obs))} is lit ({buttons}); remember it, the cue comes later"
        if self._t > self._cue_step:
            return "the lights are out: the game is over"
        return f"all lights are off (blank step {self._t} of {self.delay}); any press is ignored"

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        obs = self._obs()
        lights = " ".join("[*]" if v else "[ ]" for v in obs[:-1])
        cue = "cue: PRESS" if obs[-1] else "cue: wait"
        return f"{lights}  {cue}  (step {self._t} of {self._cue_step})"
