"""lightup: online Decision Transformers that learn, and the tools to see why they don't.

The API: ``from lightup import Trainer, TrainConfig, Agent, SequencePolicy, DecisionTransformer``.
Importing the package registers the diagnostic games under the ``lightup/`` namespace; the API's names are
imported on first use, so that `lightup play` never pays for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightup import envs as _envs  # noqa: F401  (registers the games)
from lightup.errors import LightupError

if TYPE_CHECKING:
    from lightup.models import DecisionTransformer, DTConfig, SequencePolicy
    from lightup.training.agent import Agent, play_episodes
    from lightup.training.callbacks import Callback
    from lightup.training.config import TrainConfig
    from lightup.training.trainer import Trainer

__version__ = "0.1.0"

_API = (
    "Trainer",
    "TrainConfig",
    "Callback",
    "Agent",
    "play_episodes",
    "SequencePolicy",
    "DecisionTransformer",
    "DTConfig",
)
__all__ = [
    "Agent",
    "Callback",
    "DTConfig",
    "DecisionTransformer",
    "LightupError",
    "SequencePolicy",
    "TrainConfig",
    "Trainer",
    "__version__",
    "play_episodes",
]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'lightup' has no attribute {name!r}")
    from lightup import models
    from lightup.training import agent, callbacks, config, trainer

    for module in (trainer, config, callbacks, agent, models):
        if hasattr(module, name):
            globals()[name] = value = getattr(module, name)
            return value
    raise AssertionError(f"lightup.{name} is listed in the API but defined nowhere")


def __dir__() -> list[str]:
    return sorted(__all__)
