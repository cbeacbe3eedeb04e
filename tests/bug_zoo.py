"""Deliberately broken variants of our Decision Transformer and trainer pieces: each one a bug from the
origin day or its near kin. `tests/test_doctor.py` asserts that the doctor flags every one of them and
names the check that should catch it.

Each entry of ``BUGS`` builds a `Subject` (a policy factory plus the trainer pieces the checks use).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.distributions import Categorical

from lightup.doctor.checks import Subject
from lightup.doctor.subjects import DTFactory
from lightup.models import DecisionTransformer, DTConfig
from lightup.models.policy import action_distribution
from lightup.training.replay import Episode
from lightup.training.returns import returns_to_go


def small(cls: type[DecisionTransformer], layout: str = "stacked") -> Callable:
    """A factory building ``cls`` at the doctor's default size."""

    def factory(obs_dim: int, act_dim: int, discrete: bool) -> DecisionTransformer:
        return cls(
            DTConfig(
                obs_dim=obs_dim,
                act_dim=act_dim,
                discrete=discrete,
                context_len=4,
                n_layer=1,
                n_head=2,
                n_embd=32,
                layout=layout,
            )
        )

    return factory


class NoTimestepEmbedding(DecisionTransformer):
    """The config says there is a timestep embedding; the model never adds it."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.embed_timestep = None


class TemperatureOnProbabilities(DecisionTransformer):
    """Sampling applies a temperature (0.5) to probabilities instead of logits: softmax(p / T) is nearly
    uniform whatever the logits, so rollouts do not sample what the loss trains."""

    def distribution(self, params: Tensor):
        return Categorical(logits=params.softmax(-1) / 0.5)


class SamplableStartToken(DecisionTransformer):
    """The head has act_dim + 1 outputs, so the start token can be sampled as an action."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.head = nn.Linear(config.n_embd, config.act_dim + 1)
        nn.init.normal_(self.head.weight, std=0.002)
        nn.init.zeros_(self.head.bias)


class NoCausalMask(DecisionTransformer):
    """Full attention in training: every step sees the whole window, future included."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        length = x.shape[1]
        key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
        allowed = key_real | torch.eye(length, dtype=torch.bool, device=x.device)
        for block in self.blocks:
            x = block(x, allowed)
        return self._readout(x)


class DetachedReturnEmbedding(DecisionTransformer):
    """The return embedding's output is detached: its weights never learn."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.embed_return.register_forward_hook(lambda module, args, out: out.detach())


class CacheNotAdvancing(DecisionTransformer):
    """push never moves the cache position on: every step overwrites the first slot."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        params = super().push(returns_to_go, states, prev_actions, timesteps)
        self._steps -= 1
        return params


def unmasked_nll(params: Tensor, actions: Tensor, mask: Tensor, discrete: bool) -> Tensor:
    """The training loss averaged over every step, padding included."""
    return -action_distribution(params, discrete).log_prob(actions).mean()


class CommandLeakEpisode(Episode):
    """The stored returns-to-go are the rollout's running command (target minus rewards so far), not the
    returns received: the target return leaks into the training data."""

    def __post_init__(self) -> None:
        super().__post_init__()
        before = np.concatenate([[0.0], np.cumsum(self.rewards, dtype=np.float64)[:-1]])
        self.returns_to_go = self.commanded - before


class OffByOneEpisode(Episode):
    """Returns-to-go shifted by one step: R_t holds r_{t+1} + ... instead of r_t + ..."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.returns_to_go = np.append(returns_to_go(self.rewards, self.gamma)[1:], 0.0)


@dataclass(frozen=True)
class Bug:
    name: str
    subject: Subject
    caught_by: str
    """The static check that must flag it."""


def bugs() -> list[Bug]:
    good = DTFactory()
    return [
        Bug("timestep embedding removed", Subject(small(NoTimestepEmbedding)), "timesteps_matter"),
        Bug(
            "temperature on probabilities",
            Subject(small(TemperatureOnProbabilities)),
            "sampling_matches_loss",
        ),
        Bug("start token samplable", Subject(small(SamplableStartToken)), "start_token_never_sampled"),
        Bug(
            "padding not masked in the loss", Subject(good, loss=unmasked_nll), "padded_targets_carry_no_loss"
        ),
        Bug(
            "target return leaks into the returns",
            Subject(good, episode_cls=CommandLeakEpisode),
            "relabelling",
        ),
        Bug("returns-to-go off by one step", Subject(good, episode_cls=OffByOneEpisode), "relabelling"),
        Bug("no causal mask", Subject(small(NoCausalMask)), "causal_masking"),
        Bug("no causal mask (interleaved)", Subject(small(NoCausalMask, "interleaved")), "causal_masking"),
        Bug("a parameter detached from the graph", Subject(small(DetachedReturnEmbedding)), "gradients"),
        Bug(
            "learning rate 100x too high", Subject(good, lr=0.1, train_overrides={"lr": 0.1}), "overfit_batch"
        ),
        Bug("cache not advancing its position", Subject(small(CacheNotAdvancing)), "kv_cache"),
    ]
