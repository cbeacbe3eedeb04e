"""The lightup games: small diagnostic Gymnasium envs, registered under ``lightup/`` on import.

``make_env`` wraps ``gymnasium.make`` so that a wrong id, option name or value is a one-line ``LightupError``,
and adapts the observations to flat vectors (`lightup.envs.adapters`). An id may name the module that
registers it, ``module:EnvId``, as ``gymnasium.make`` accepts it.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

from lightup.envs.adapters import adapt
from lightup.envs.common import MAX_EPISODE_STEPS
from lightup.envs.gamble import GambleEnv
from lightup.envs.press_button import PressButtonEnv
from lightup.envs.probes import (
    CommandFollowEnv,
    CommandFollowLaterEnv,
    ProbeActionObsRewardEnv,
    ProbeActionRewardEnv,
    ProbeConstantEnv,
    ProbeDelayedRewardEnv,
    ProbeObsRewardEnv,
)
from lightup.envs.probes_continuous import CommandFollowContinuousEnv, ProbeObsActionEnv, ProbeTargetActionEnv
from lightup.envs.recall_button import RecallButtonEnv
from lightup.envs.time_limit import DEFAULT_MAX_EPISODE_STEPS, time_limited
from lightup.errors import LightupError, error_line

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
    "lightup/ProbeTargetAction-v0": (ProbeTargetActionEnv, 0.95),
    "lightup/ProbeObsAction-v0": (ProbeObsActionEnv, 0.95),
    "lightup/CommandFollowContinuous-v0": (CommandFollowContinuousEnv, 0.95),
    "lightup/CommandFollowLater-v0": (CommandFollowLaterEnv, 0.9),
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


def _first_line(err: BaseException) -> str:
    """The error's type and first line, without the tail Gymnasium adds to an env constructor's TypeError
    (" was raised from the environment creator for ID with kwargs (...)"), which repeats the options."""
    return error_line(err, str(err).strip().split(" was raised from the environment creator for ")[0])


# Packages whose envs Gymnasium holds only once the package is imported, by the prefix of their ids, with
# how to install each.
REGISTERING_PACKAGES = {
    "MiniGrid-": ("minigrid", 'pip install -e ".[minigrid]"'),
    "BabyAI-": ("minigrid", 'pip install -e ".[minigrid]"'),
}


def import_registering_package(name: str) -> None:
    """Import the package that registers an id of a known family (MiniGrid's), as ``minigrid:`` before
    the id would, or a one-line error saying how to install it."""
    for prefix, (package, install) in REGISTERING_PACKAGES.items():
        if name.startswith(prefix) and name not in gym.registry:
            try:
                importlib.import_module(package)
            except ImportError:
                raise LightupError(
                    f"env {name} is registered by the package {package}, which is not installed: {install}"
                ) from None


def _registry_hint(name: str) -> str:
    """Gymnasium's own word on an id whose env it holds in other versions (LunarLander-v2 where it has
    LunarLander-v3), as " (Gymnasium: ...)"; else empty (its guesses at other names are often far off)."""
    try:
        gym.spec(name)
    except (gym.error.DeprecatedEnv, gym.error.VersionNotFound) as err:
        return f" (Gymnasium: {str(err).strip().splitlines()[0][:200]})"
    except gym.error.Error:  # no other version: the error this would add to stands without a hint
        pass
    return ""


TRUSTED_MODULES_VAR = "LIGHTUP_ENV_MODULES"
"""Environment variable: comma-separated modules that a ``module:EnvId`` read back from a run may import."""


def env_module(env_id: str) -> str | None:
    """The module named by a ``module:EnvId`` id, else None."""
    module, sep, _ = env_id.rpartition(":")
    return module if sep else None


def env_name(env_id: str) -> str:
    """The registered name of an env id: a ``module:EnvId`` id without its module."""
    return env_id.rpartition(":")[2]


def check_env_module_trusted(env_id: str) -> None:
    """An env id read from a file (a run's config or checkpoint) may name a module; importing it runs its
    code, so it is imported only if it already is, or if the user lists it in ``LIGHTUP_ENV_MODULES``."""
    module = env_module(env_id)
    if module is None or module in sys.modules:
        return
    trusted = {m.strip() for m in os.environ.get(TRUSTED_MODULES_VAR, "").split(",")}
    if module not in trusted:
        raise LightupError(
            f"this run's env {env_id!r} is registered by the module {module!r}, which lightup does not "
            f"import because a file names it; if you trust it, set {TRUSTED_MODULES_VAR}={module} and run "
            "again"
        )


def make_env(
    env_id: str,
    render_mode: str | None = None,
    adapters: Sequence[str] | None = None,
    max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS,
    **options: Any,
) -> gym.Env:
    """``gymnasium.make(env_id, render_mode=..., **options)`` with one-line errors for user mistakes, its
    observations adapted to flat vectors: by the named ``adapters`` (those a run recorded), or by those its
    observation space needs (None). The names applied are the env's ``obs_adapters`` (`adapters_of`). An env
    that declares no time limit is cut at ``max_episode_steps`` (`lightup.envs.time_limit`)."""
    module, name = env_module(env_id), env_name(env_id)
    if module is not None:
        try:
            importlib.import_module(module)
        except (Exception, SystemExit) as err:  # sys.exit() in a user's module too
            raise LightupError(
                f"env id {env_id!r}: importing its module {module!r} failed ({_first_line(err)}); "
                "check the module name and that it is on the Python path (PYTHONPATH)"
            ) from None
    if module is None:
        import_registering_package(name)
    if name not in gym.registry:
        if module is not None:
            raise LightupError(f"unknown env id {name!r}: importing {module!r} did not register it")
        raise LightupError(
            f"unknown env id {env_id!r}{_registry_hint(name)}; lightup games: {', '.join(GAME_IDS)} (any "
            "installed Gymnasium id such as CartPole-v1 also works, and module:EnvId for an env that a "
            "module registers on import)"
        )
    spec = gym.spec(name)
    try:
        valid = _option_names(spec)  # loads the entry point: its module's imports may fail
    except (Exception, SystemExit) as err:
        raise LightupError(
            f"env {env_id} could not be made ({_first_line(err)}); install what its module needs"
        ) from None
    if valid is not None:
        for option in options:
            if option not in valid:
                raise LightupError(
                    f"unknown option {option!r} for {env_id}; valid options: {', '.join(valid) or '(none)'}"
                )
    try:
        # render_mode only when asked for: a user's env need not take it
        env = gym.make(name, **options, **({} if render_mode is None else {"render_mode": render_mode}))
    except LightupError:
        raise
    except (Exception, SystemExit) as err:  # the env's constructor: any exception is its message to the user
        raise LightupError(f"env {env_id} could not be made ({_first_line(err)})") from None
    env, names = adapt(env, adapters)
    env.obs_adapters = names  # read by `adapters_of`
    return time_limited(env, max_episode_steps)


def adapters_of(env: gym.Env) -> tuple[str, ...]:
    """The adapters (observations, actions) that `make_env` applied to ``env`` (through any wrappers added
    since)."""
    try:
        return tuple(env.get_wrapper_attr("obs_adapters"))
    except AttributeError:
        return ()


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


# Keywords that `make_env` takes itself: as env options they would collide with lightup's own.
_RESERVED = {
    "max_episode_steps": "it is lightup's --max-episode-steps",
    "render_mode": "each command picks the render mode it needs",
    "adapters": "lightup picks the observation adapters",
    "env_id": "the env id is given on its own",
}


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``["size=4", "hard_mode=true", "rate=0.5"]`` -> ``{"size": 4, "hard_mode": True, "rate": 0.5}``."""
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise LightupError(f"option {pair!r} must look like name=value, e.g. size=4")
        if name.strip() in _RESERVED:
            raise LightupError(
                f"option {name.strip()!r} is not an env option ({_RESERVED[name.strip()]}); drop it"
            )
        if name.strip() in options:
            raise LightupError(f"option {name.strip()!r} is given twice")
        options[name.strip()] = _parse_value(value.strip())
    return options


__all__ = [
    "GAME_IDS",
    "adapters_of",
    "check_env_module_trusted",
    "env_module",
    "env_name",
    "make_env",
    "parse_options",
    "reward_threshold",
]
