"""The policies the doctor examines: our Decision Transformer, the reference MLP, or a user's factory."""

from __future__ import annotations

from dataclasses import dataclass

from lightup.models import DecisionTransformer, DTConfig, MLPConfig, ReturnConditionedMLP, SequencePolicy
from lightup.models.factory import check_factory, load_factory

__all__ = ["DTFactory", "check_factory", "load_factory", "mlp_factory"]


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
