"""An env's own exception, met while lightup plays it, as one line that names the env (`EnvRaised`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym

from lightup.errors import EnvRaised, LightupError, error_line


def call_env(name: str, call: Callable, *args: Any, **kwargs: Any) -> Any:
    """``call(*args, **kwargs)``, an env's reset or step: an exception of the env's own becomes `EnvRaised`
    naming ``name``, with the env's as its cause."""
    try:
        return call(*args, **kwargs)
    except LightupError:
        raise
    except Exception as err:  # noqa: BLE001 (any error of the env's own)
        raise EnvRaised(f"env {name} raised while playing episodes ({error_line(err)})") from err


class NamedEnvErrors(gym.Wrapper):
    """``env`` whose reset and step raise `EnvRaised` (`call_env`) in place of the env's own exceptions: for
    loops lightup does not own (Stable-Baselines3's), which would show them as a traceback."""

    def __init__(self, env: gym.Env, name: str):
        super().__init__(env)
        self.name = name

    def reset(self, **kwargs):
        return call_env(self.name, self.env.reset, **kwargs)

    def step(self, action):
        return call_env(self.name, self.env.step, action)
