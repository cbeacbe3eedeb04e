"""Building a policy by name: lightup's own models (``dt``, ``mlp``) or a user's factory ``module:attr``.

A factory is ``(obs_dim, act_dim, discrete) -> SequencePolicy``. Its module is imported only when a person
names it (a command-line flag, a Python call): a name read from a file is never imported on its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from lightup.errors import LightupError
from lightup.models.decision_transformer import DecisionTransformer, DTConfig
from lightup.models.mlp import MLPConfig, ReturnConditionedMLP
from lightup.models.policy import SequencePolicy

PolicyFactory = Callable[[int, int, bool], SequencePolicy]
BUILT_IN = ("dt", "mlp")


def is_factory_spec(name: str) -> bool:
    """``module:attr`` (a user's factory), as opposed to a built-in model name."""
    module, sep, attr = name.partition(":")
    return bool(sep and module and attr)


def build_policy(name: str, obs_dim: int, act_dim: int, discrete: bool, **dt: Any) -> SequencePolicy:
    """A built-in model: ``mlp`` (the reference `ReturnConditionedMLP`) or ``dt`` (a `DecisionTransformer`
    with the `DTConfig` fields given in ``dt``)."""
    if name == "mlp":
        return ReturnConditionedMLP(MLPConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete))
    assert name == "dt", f"not a built-in policy: {name!r}"
    return DecisionTransformer(DTConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete, **dt))


def load_factory(spec: str) -> PolicyFactory:
    """``"package.module:factory"`` -> the callable; a bad path is a one-line LightupError."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LightupError(f"--policy {spec!r} must look like module:factory, e.g. mypkg.models:make_policy")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise LightupError(
            f"--policy {spec!r}: cannot import module {module_name!r} ({_line(err)})"
        ) from None
    except (Exception, SystemExit) as err:  # the user's module raised (or called sys.exit) while importing
        raise LightupError(
            f"--policy {spec!r}: importing {module_name!r} raised {type(err).__name__}: {_line(err)}"
        ) from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise LightupError(f"--policy {spec!r}: module {module_name!r} has no attribute {attr!r}")
    if not callable(factory):
        raise LightupError(
            f"--policy {spec!r}: {attr!r} is a {type(factory).__name__}, not a callable factory"
        )
    return factory  # type: ignore[return-value]


def _line(err: BaseException) -> str:
    """An error's message as one short line: a user's module may raise one of many lines, or none."""
    text = str(err).strip()
    return text.splitlines()[0][:300] if text else "(no message)"


def call_factory(
    factory: PolicyFactory, obs_dim: int, act_dim: int, discrete: bool, spec: str
) -> SequencePolicy:
    """``factory(obs_dim, act_dim, discrete)``; a one-line error when it raises or breaks the contract."""
    try:
        policy = factory(obs_dim, act_dim, discrete)
    except (Exception, SystemExit) as err:
        raise LightupError(
            f"--policy {spec!r}: factory(obs_dim={obs_dim}, act_dim={act_dim}, discrete={discrete}) raised "
            f"{type(err).__name__}: {_line(err)}"
        ) from None
    if not isinstance(policy, SequencePolicy):
        raise LightupError(
            f"--policy {spec!r}: the factory returned a {type(policy).__name__}, not a "
            "lightup.models.SequencePolicy"
        )
    return policy


def check_factory(factory: PolicyFactory, spec: str) -> None:
    """Build one policy to fail early, in one line, when the factory breaks the contract."""
    call_factory(factory, 3, 4, True, spec)


def resolve_policy(
    policy: SequencePolicy | PolicyFactory | None,
    name: str,
    obs_dim: int,
    act_dim: int,
    env_id: str,
    discrete: bool = True,
    **dt: Any,
) -> SequencePolicy:
    """The policy a trainer trains: ``policy`` itself, built by ``policy`` (a factory), or as ``name`` says
    (``dt``, ``mlp`` or ``module:factory``); it must fit the env's sizes and kind of actions."""
    if policy is None and is_factory_spec(name):
        policy = load_factory(name)  # named by the user (a flag or a config built in Python)
    if policy is None:
        return build_policy(name, obs_dim, act_dim, discrete, **dt)
    if not isinstance(policy, SequencePolicy):
        spec = name if is_factory_spec(name) else "policy"
        policy = call_factory(policy, obs_dim, act_dim, discrete, spec)
    if (policy.obs_dim, policy.act_dim, policy.discrete) != (obs_dim, act_dim, discrete):
        kind = "discrete actions" if discrete else "continuous action dimensions"
        raise LightupError(
            f"the policy reads obs_dim {policy.obs_dim} and has act_dim {policy.act_dim} (discrete "
            f"{policy.discrete}); {env_id} needs obs_dim {obs_dim} and {act_dim} {kind}"
        )
    return policy


def spec_of(policy: SequencePolicy | PolicyFactory) -> str:
    """``module:qualname`` of a policy's factory (or class): what a run's config records of it."""
    target = (
        policy if not isinstance(policy, SequencePolicy) and hasattr(policy, "__qualname__") else type(policy)
    )
    return f"{target.__module__}:{target.__qualname__}"
