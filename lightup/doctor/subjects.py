"""The policies the doctor examines: our Decision Transformer, the reference MLP, or a user's factory."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from lightup.doctor.checks import PolicyFactory
from lightup.errors import LightupError
from lightup.models import DecisionTransformer, DTConfig, MLPConfig, ReturnConditionedMLP, SequencePolicy


@dataclass(frozen=True)
class DTFactory:
    """Our Decision Transformer at the size the ladder trains (that of the trainer tests' small config)."""

    layout: str = "stacked"
    context_len: int = 4
    n_layer: int = 1
    n_head: int = 2
    n_embd: int = 32

    def __call__(self, obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
        return DecisionTransformer(
            DTConfig(
                obs_dim=obs_dim,
                act_dim=act_dim,
                discrete=discrete,
                context_len=self.context_len,
                n_layer=self.n_layer,
                n_head=self.n_head,
                n_embd=self.n_embd,
                layout=self.layout,  # type: ignore[arg-type]
            )
        )


def mlp_factory(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    """The known-good reference: the trainer's ``--policy mlp``."""
    return ReturnConditionedMLP(MLPConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete))


def load_factory(spec: str) -> PolicyFactory:
    """``"package.module:factory"`` -> the callable; a bad path is a one-line LightupError."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise LightupError(f"--policy {spec!r} must look like module:factory, e.g. mypkg.models:make_policy")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise LightupError(f"--policy {spec!r}: cannot import module {module_name!r} ({err})") from None
    except Exception as err:  # the user's module raised while importing
        raise LightupError(
            f"--policy {spec!r}: importing {module_name!r} raised {type(err).__name__}: {err}"
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


def check_factory(factory: PolicyFactory, spec: str) -> None:
    """Build one policy to fail early, in one line, when the factory breaks the contract."""
    try:
        policy = factory(3, 4, True)
    except Exception as err:
        raise LightupError(
            f"--policy {spec!r}: factory(obs_dim=3, act_dim=4, discrete=True) raised {type(err).__name__}: "
            f"{str(err).splitlines()[0] if str(err) else ''}"
        ) from None
    if not isinstance(policy, SequencePolicy):
        raise LightupError(
            f"--policy {spec!r}: the factory returned a {type(policy).__name__}, not a "
            "lightup.models.SequencePolicy"
        )
