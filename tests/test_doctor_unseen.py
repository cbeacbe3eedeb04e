"""The doctor's static checks on kinds of bugs no earlier test named, found by a probe of user models, and on
healthy designs it blamed: an entropy over the envs' axis, a position counted back from the last real step
(the window's padding tells the earlier steps where the episode ends), a mode-dependent bug hidden behind
dropout, a state mask sized for a shorter context, a cache whose timestep is clamped below the declared
longest episode; and, healthy, a timestep read in buckets and a model computing in bfloat16 inside. Each
broken model fails the named check because its measured quantity is past its limit; each healthy one
passes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_doctor_gradients import ReversedReturnEmbedding
from test_doctor_new_kinds import Recompute, assert_fails_past_limit, only
from torch import nn
from torch.distributions import Categorical

from lightup.doctor import limits
from lightup.doctor.checks import Subject
from lightup.models import DecisionTransformer, DTConfig

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def subject(cls: type[DecisionTransformer], **config) -> Subject:
    """``cls`` at the doctor's size (one layer of 32, two heads, K 4), with ``config`` over it."""
    sizes = {"context_len": 4, "n_layer": 1, "n_head": 2, "n_embd": 32, **config}

    def factory(obs_dim: int, act_dim: int, discrete: bool) -> DecisionTransformer:
        return cls(DTConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete, **sizes))

    return Subject(name=cls.__name__, factory=factory)


# --- broken ---


class _EnvAxisCategorical(Categorical):
    def entropy(self):
        return -(self.probs * F.log_softmax(self.logits, dim=0)).sum(-1)


class EntropyOverEnvs(DecisionTransformer):
    """Its distribution samples and scores right, but takes the entropy's log-softmax over the batch."""

    def distribution(self, params):
        return _EnvAxisCategorical(logits=params) if self.discrete else super().distribution(params)


class PositionFromLastRealStep(Recompute, DecisionTransformer):
    """A learned position counted back from the window's last real step: written for left padding, so in a
    right-padded window each step learns how many real steps follow it."""

    def __init__(self, config):
        super().__init__(config)
        self.position = nn.Embedding(config.context_len, config.n_embd)
        nn.init.normal_(self.position.weight, std=0.02)

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        self._mask = mask
        return super().forward(returns_to_go, states, prev_actions, timesteps, mask)

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        t = states.shape[1]
        back = (self._mask.sum(1, keepdim=True) - 1 - torch.arange(t)[None, :]).clamp(0, t - 1)
        tokens = back.repeat_interleave(self.config.tokens_per_step, dim=1)
        return super()._embed(returns_to_go, states, prev_actions, timesteps) + self.position(tokens)


class ReturnsRescaledInTraining(DecisionTransformer):
    """With dropout: the training forward reads the return a tenth as large as rollouts give it."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        scale = 0.1 if self.training else 1.0
        return super()._embed(returns_to_go * scale, states, prev_actions, timesteps)


class ReturnsCentredOverBatchInTraining(DecisionTransformer):
    """With dropout: in train mode the returns are centred over the batch (windows leak into each other)."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        if self.training:
            real = mask.to(returns_to_go.dtype)
            mean = (returns_to_go * real).sum(0, keepdim=True) / real.sum(0, keepdim=True).clamp(min=1)
            returns_to_go = returns_to_go - mean
        return super().forward(returns_to_go, states, prev_actions, timesteps, mask)


class StateDroppedPastPosition12(Recompute, DecisionTransformer):
    """K 20, the state kept at window positions below 12 only (a mask sized for an older context)."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        keep = (torch.arange(states.shape[1]) < 12).to(states.dtype)[None, :, None]
        return super()._embed(returns_to_go, states * keep, prev_actions, timesteps)


class PushTimestepClampedAt511(DecisionTransformer):
    """push clamps the timestep at 511 (an older table's size), forward at the declared 1023."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        return super().push(returns_to_go, states, prev_actions, timesteps.clamp(max=511))


def test_an_entropy_over_the_envs_axis_fails_entropy_matches_probabilities():
    result = only(subject(EntropyOverEnvs), "entropy_matches_probabilities")
    assert_fails_past_limit(result, limits.ENTROPY)


def test_a_position_counted_from_the_last_real_step_fails_causal_masking_on_padding():
    result = only(subject(PositionFromLastRealStep), "causal_masking")
    assert_fails_past_limit(result, limits.EXACT_OUTPUTS)
    assert "made padding" in result.detail


@pytest.mark.parametrize("cls", [ReturnsRescaledInTraining, ReturnsCentredOverBatchInTraining])
def test_a_train_mode_bug_behind_dropout_fails_train_matches_eval(cls):
    result = only(subject(cls, dropout=0.1), "train_matches_eval")
    assert_fails_past_limit(result, limits.EXACT_OUTPUTS)
    assert "dropout set to 0" in result.detail


def test_a_state_mask_sized_for_a_shorter_context_fails_states_by_position():
    result = only(subject(StateDroppedPastPosition12, context_len=20), "states_by_position")
    assert_fails_past_limit(result, limits.BY_POSITION["states"])
    assert "position 12 of 20" in result.detail


def test_a_cache_clamping_timesteps_below_the_declared_longest_episode_fails_kv_cache():
    result = only(subject(PushTimestepClampedAt511), "kv_cache")
    assert_fails_past_limit(result, limits.CACHE)
    assert "from timestep 1012" in result.detail  # the run near the declared end (1024)


# --- healthy ---


def bucket(t: torch.Tensor) -> torch.Tensor:
    """Timesteps below 8 as they are, then one bucket per power of two (T5's relative positions)."""
    log = torch.floor(torch.log2(t.clamp(min=1).to(torch.float32))).to(torch.long)
    return torch.where(t < 8, t, 5 + log)


class BucketedTimestep(DecisionTransformer):
    """A timestep embedding read in log buckets, the same in forward and push: timesteps are read, though
    a step of 7 stays in its bucket late in an episode."""

    def __init__(self, config):
        super().__init__(config)
        self.embed_timestep = nn.Embedding(16, config.n_embd)
        nn.init.normal_(self.embed_timestep.weight, std=0.02)

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        r = self.embed_return(returns_to_go.unsqueeze(-1))
        a = self.embed_action(prev_actions)
        return self._tokens(r, self.embed_state(states), a, self.embed_timestep(bucket(timesteps)))

    def _embed_step(self, rtg, states, prev_actions, timesteps):
        with torch.no_grad():
            return self._embed(rtg[:, None], states[:, None], prev_actions[:, None], timesteps[:, None])[:, 0]


def in_bfloat16(cls: type[DecisionTransformer]) -> type[DecisionTransformer]:
    class BFloat16Inside(cls):
        """Forward and push under CPU autocast to bfloat16, the outputs cast back: a speed trick."""

        def forward(self, *args, **kwargs):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return super().forward(*args, **kwargs).float()

        def push(self, *args, **kwargs):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return super().push(*args, **kwargs).float()

    BFloat16Inside.__name__ = f"{cls.__name__}InBFloat16"
    return BFloat16Inside


def test_a_timestep_read_in_buckets_passes_timesteps_by_position():
    result = only(subject(BucketedTimestep, timestep_embedding=True), "timesteps_by_position")
    assert result.verdict == "pass", result.detail


def test_a_model_computing_in_bfloat16_is_not_blamed_for_its_gradients():
    """Its float32 output makes the loss a staircase at float64's step: measured at its output's."""
    result = only(subject(in_bfloat16(DecisionTransformer)), "gradients_are_the_losses")
    assert result.verdict == "pass", result.detail
    assert "its output in torch.float32" in result.detail


def test_a_reversed_gradient_in_bfloat16_still_fails():
    result = only(subject(in_bfloat16(ReversedReturnEmbedding)), "gradients_are_the_losses")
    assert_fails_past_limit(result, limits.GRADIENT_FLOAT32)
    assert "embed_return.weight" in result.detail


def test_dropout_alone_passes_train_matches_eval():
    result = only(subject(DecisionTransformer, dropout=0.1), "train_matches_eval")
    assert result.verdict == "pass", result.detail
    assert "dropout set to 0" in result.detail  # compared, not waved through
