"""Pieces every lightup game shares: argument checks, the safety step cap, one-hot observations."""

from __future__ import annotations

from typing import Any

import numpy as np

from lightup.errors import LightupError

# The registered TimeLimit, a safety cap: every lightup game ends itself by termination. Games are at most
# one step shorter, so the last step is never both terminated and truncated, nor silently cut short.
MAX_EPISODE_STEPS = 1024
MAX_GAME_STEPS = MAX_EPISODE_STEPS - 1
# Buttons of a game at most: its observation, its action head and a policy's embedding grow with it.
MAX_BUTTONS = 1024

# metadata shared by all games; render_fps only keeps Gymnasium's render checker quiet.
METADATA = {"render_modes": ["ansi"], "render_fps": 4}


def check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise a one-line ``LightupError`` that states the valid range."""
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)
    if is_int and value >= low and (high is None or value <= high):
        return int(value)
    valid = f">= {low}" if high is None else f"from {low} to {high}"
    raise LightupError(f"{name} must be an integer {valid}, got {value!r}")


def check_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool | np.bool_):
        return bool(value)
    raise LightupError(f"{name} must be true or false, got {value!r}")


def check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is None or render_mode in METADATA["render_modes"]:
        return render_mode
    raise LightupError(f"render_mode must be None or 'ansi', got {render_mode!r}")


def one_hot(index: int, size: int) -> np.ndarray:
    obs = np.zeros(size, dtype=np.float32)
    obs[index] = 1.0
    return obs
