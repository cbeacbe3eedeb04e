"""Building a policy by name: lightup's own models (``dt``, ``mlp``) or a user's factory ``module:attr``.

A factory is ``(obs_dim, act_dim, discrete) -> SequencePolicy``. Its module is imported only when a person
names it (a command-line flag, a Python call): a name read from a file is never imported on its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import torch

from lightup.errors import LightupError
from lightup.models.decision_transformer import DecisionTransformer, DTConfig
from lightup.models.mlp import MLPConfig, ReturnConditionedMLP
from lightup.models.policy import SequencePolicy
from lightup.ranges import RANGES

PolicyFactory = Callable[[int, int, bool], SequencePolicy]
BUILT_IN = ("dt", "mlp")
CONTEXT = RANGES["context_len"]


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
    check_contract(policy, name if is_factory_spec(name) else "the policy")
    return policy


def check_contract(policy: SequencePolicy, spec: str) -> None:
    """A user's policy called once, on two windows of two steps and one pushed step, before any training:
    what breaks the `SequencePolicy` contract is a one-line error naming it, not a crash rounds later (a
    head of the wrong width trains and never picks an action past its last output; a NaN output stops the
    first rollout; a context of 10**9 steps fills the memory). A forward that raises anything but a
    ``TypeError`` (its arguments) is the model's own bug, and its traceback is shown."""
    k = policy.context_len
    if not CONTEXT.holds(k):
        raise LightupError(f"{spec}: context_len must be {CONTEXT}, got {k!r}")
    if not any(p.requires_grad for p in policy.parameters()):
        raise LightupError(f"{spec}: the policy has no trainable parameters (nn.Parameter or submodules)")
    device = next(policy.parameters()).device
    n, t, want = 2, min(k, 2), policy.n_params
    first = torch.full((n,), policy.start_action) if policy.discrete else torch.zeros(n, policy.act_dim)
    prev = torch.stack([first, torch.zeros_like(first)], dim=1)[:, :t]
    batch = {
        "returns_to_go": torch.zeros(n, t),
        "states": torch.zeros(n, t, policy.obs_dim),
        "prev_actions": prev,
        "timesteps": torch.arange(t).expand(n, t),
        "mask": torch.ones(n, t, dtype=torch.bool),
    }
    batch = {key: value.to(device) for key, value in batch.items()}
    training = policy.training
    try:
        with torch.no_grad():
            policy.eval()
            try:
                out = policy(**batch)
            except TypeError as err:
                raise LightupError(
                    f"{spec}: forward(returns_to_go=, states=, prev_actions=, timesteps=, mask=) raised "
                    f"TypeError: {_line(err)}; take the contract's arguments by these names"
                ) from None
            _check_output(out, (n, t, want), "forward", spec)
            policy.begin(n)
            step = {key: value[:, 0] for key, value in batch.items() if key != "mask"}
            _check_output(policy.push(**step), (n, want), "push", spec)
    finally:
        policy.train(training)


def _check_output(out: Any, shape: tuple[int, ...], call: str, spec: str) -> None:
    """``out`` is finite floating-point parameters of ``shape`` (A logits, or A means and A log-stds)."""
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != shape or not out.is_floating_point():
        got = (
            f"{out.dtype} of shape {tuple(out.shape)}"
            if isinstance(out, torch.Tensor)
            else type(out).__name__
        )
        raise LightupError(
            f"{spec}: {call} gave {got}, not floating-point parameters of shape {shape} (the last: A "
            "logits, or A means then A log-stds for continuous actions)"
        )
    if not bool(torch.isfinite(out).all()):
        raise LightupError(f"{spec}: {call} gave NaN or inf parameters at initialisation, on zero inputs")


def spec_of(policy: SequencePolicy | PolicyFactory) -> str:
    """``module:qualname`` of a policy's factory (or class): what a run's config records of it."""
    target = (
        policy if not isinstance(policy, SequencePolicy) and hasattr(policy, "__qualname__") else type(policy)
    )
    return f"{target.__module__}:{target.__qualname__}"
