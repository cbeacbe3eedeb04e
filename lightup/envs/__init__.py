"""The lightup games: small diagnostic Gymnasium envs, registered under ``lightup/`` on import.

``make_env`` wraps ``gymnasium.make`` so that a wrong id, option name or value is a one-line ``LightupError``.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

from lightup.envs.common import MAX_EPISODE_STEPS
from lightup.envs.gamble import GambleEnv
from lightup.envs.press_button import PressButtonEnv
from lightup.envs.probes import (
    CommandFollowEnv,
    ProbeActionObsRewardEnv,
    ProbeActionRewardEnv,
    ProbeConstantEnv,
    ProbeDelayedRewardEnv,
    ProbeObsRewardEnv,
)
from lightup.envs.recall_button import RecallButtonEnv
from lightup.errors import LightupError

# id -> (class, reward threshold for the default arguments)
_GAMES: dict[str, tuple[type[gym.Env], float]] = {
    "lightup/PressButton-v0": (PressButtonEnv, 0.9),
    "lightup/RecallButton-v0": (RecallButtonEnv, 0.9),
    "lightup/ProbeConstant-v0": (ProbeConstantEnv, 0.9),
    "lightup/ProbeObsReward-v0": (ProbeObsRewardEnv, 0.0),
    "lightup/ProbeDelayedReward-v0": (ProbeDelayedRewardEnv, 0.9),
    "lightup/ProbeActionReward-v0": (ProbeActionRewardEnv, 0.9),
    "lightup/ProbeActionObsReward-v0": (ProbeActionObsRewardEnv, 0.9),
    "lightup/CommandFollow-v0": (CommandFollowEnv, 0.9),
    "lightup/Gamble-v0": (GambleEnv, 0.9),
}
GAME_IDS: tuple[str, ...] = tuple(_GAMES)

for _id, (_cls, _threshold) in _GAMES.items():
    if _id not in gym.registry:  # importing twice (or reloading) must not re-register
        gym.register(
            id=_id, entry_point=_cls, max_episode_steps=MAX_EPISODE_STEPS, reward_threshold=_threshold
        )


def _option_names(spec: gym.envs.registration.EnvSpec) -> list[str] | None:
    """The env constructor's keyword names (without render_mode), or None if it takes **kwargs."""
    entry = spec.entry_point if callable(spec.entry_point) else load_env_creator(spec.entry_point)
    params = inspect.signature(entry).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name not in ("self", "render_mode")]


def make_env(env_id: str, render_mode: str | None = None, **options: Any) -> gym.Env:
    """``gymnasium.make(env_id, render_mode=..., **options)`` with one-line errors for user mistakes."""
    if env_id not in gym.registry:
        raise LightupError(
            f"unknown env id {env_id!r}; lightup games: {', '.join(GAME_IDS)} "
            "(any installed Gymnasium id such as CartPole-v1 also works)"
        )
    spec = gym.spec(env_id)
    valid = _option_names(spec)
    if valid is not None:
        for name in options:
            if name not in valid:
                raise LightupError(
                    f"unknown option {name!r} for {env_id}; valid options: {', '.join(valid) or '(none)'}"
                )
    return gym.make(env_id, render_mode=render_mode, **options)


def reward_threshold(env: gym.Env) -> float | None:
    """The return that counts as solved: the game's own (it depends on its options), else the spec's."""
    own = getattr(env.unwrapped, "reward_threshold", None)
    if own is not None:
        return float(own)
    return None if env.spec is None else env.spec.reward_threshold


def _parse_value(text: str) -> int | float | bool | str:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["size=4", "hard_mode=true", "rate=0.5"]`` -> ``{"size": 4, "hard_mode": True, "rate": 0.5}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise LightupError(f"option {pair!r} must look like name=value, e.g. size=4")
        if name.strip() in options:
            raise LightupError(f"option {name.strip()!r} is given twice")
        options[name.strip()] = _parse_value(value.strip())
    return options


__all__ = ["GAME_IDS", "make_env", "parse_options", "reward_threshold"]
