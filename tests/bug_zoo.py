"""Deliberately broken variants of our Decision Transformer and trainer pieces: each one a bug from the
origin day or its near kin, one kind each. `tests/test_doctor.py` asserts that the doctor flags every one of
them by the named check, for the named reason: the check's measured quantity past its limit (or, for a
check with no scalar, the named finding), never a crash.

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
from lightup.models.policy import SequencePolicy, action_distribution
from lightup.training.replay import Episode
from lightup.training.returns import returns_to_go


def small(cls: type[DecisionTransformer], layout: str = "stacked", n_layer: int = 1) -> Callable:
    """A factory building ``cls`` at the doctor's default size (``n_layer`` 1, as the ladder trains)."""

    def factory(obs_dim: int, act_dim: int, discrete: bool) -> DecisionTransformer:
        return cls(
            DTConfig(
                obs_dim=obs_dim,
                act_dim=act_dim,
                discrete=discrete,
                context_len=4,
                n_layer=n_layer,
                n_head=2,
                n_embd=32,
                layout=layout,
            )
        )

    return factory


# --- inputs that do not reach the output (everywhere, or at some positions) ---


class NoTimestepEmbedding(DecisionTransformer):
    """The config says there is a timestep embedding; the model never adds it."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.embed_timestep = None


class FirstReturnEverywhere(DecisionTransformer):
    """Every position of the window reads the window's first return-to-go (a broadcast of rtg[:, :1])."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go[:, :1].expand_as(returns_to_go), states, prev_actions, timesteps)


class FirstReturnEverywhereUncached(FirstReturnEverywhere):
    """The same bug in a model that acts through the exact recompute interface (no cache), as a user's model
    does: acting, too, each step reads the return-to-go of its window's first step, the episode's first
    for the first K steps."""

    begin = SequencePolicy.begin
    push = SequencePolicy.push
    reset = SequencePolicy.reset


class StateOneStepBehind(DecisionTransformer):
    """Position t reads s_{t-1} (a shift meant for the actions applied to the states): the newest state
    never reaches the output."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        behind = torch.cat([states[:, :1], states[:, :-1]], dim=1)
        return super()._embed(returns_to_go, behind, prev_actions, timesteps)


class FirstPrevActionEverywhere(DecisionTransformer):
    """Every position reads the window's first previous action."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states, prev_actions[:, :1].expand_as(prev_actions), timesteps)


class FirstTimestepEverywhere(DecisionTransformer):
    """Every position reads the timestep of the window's first step: changing all timesteps still changes
    the output, so only a check by position sees it."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states, prev_actions, timesteps[:, :1].expand_as(timesteps))


class TimestepCappedAtOne(DecisionTransformer):
    """Timesteps clamped to [0, 1] before the embedding (the wrong bound): past the first step the model
    cannot tell one step from another."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states, prev_actions, timesteps.clamp(0, 1))


class ReturnScaledTwice(DecisionTransformer):
    """The return scale applied a second time (divided by 1e4): the command barely reaches the output."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go * 1e-4, states, prev_actions, timesteps)


class StateScaledAway(DecisionTransformer):
    """Observations divided by a normaliser 1e4 times too large: the state barely reaches the output."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states * 1e-4, prev_actions, timesteps)


# --- the start token ---


class SamplableStartToken(DecisionTransformer):
    """The head has act_dim + 1 outputs, so the start token can be sampled as an action."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.head = nn.Linear(config.n_embd, config.act_dim + 1)
        nn.init.normal_(self.head.weight, std=0.002)
        nn.init.zeros_(self.head.bias)


class StartTokenClampedToLastAction(DecisionTransformer):
    """Previous actions clamped into [0, A - 1]: the start token is the last real action."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states, prev_actions.clamp(max=self.act_dim - 1), timesteps)


class StartTokenWrapsToActionZero(DecisionTransformer):
    """Previous actions taken modulo A: the start token is action 0."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states, prev_actions % self.act_dim, timesteps)


# --- masks and readouts ---


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


class MaskOffByOneWhenPadded(DecisionTransformer):
    """The explicit mask (built only when a window is padded) is ``tril(1)``: each token sees the next one.
    Unpadded windows take the plain causal path and hide it."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        length = x.shape[1]
        allowed = None
        if not bool(mask.all()):
            key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
            later = torch.ones(length, length, dtype=torch.bool, device=x.device).tril(1)
            allowed = (later & key_real) | torch.eye(length, dtype=torch.bool, device=x.device)
        for block in self.blocks:
            x = block(x, allowed)
        return self._readout(x)


class ReadoutAtReturnToken(DecisionTransformer):
    """Interleaved: a_t is read at the return token R_t instead of the state token s_t."""

    def _readout(self, h):
        tps = self.config.tokens_per_step
        h = h.view(h.shape[0], -1, tps, h.shape[-1])[:, :, tps - 2]
        return self.head(self.ln_f(h))


class ReadoutOneStepBehind(DecisionTransformer):
    """a_t is read from the hidden state of step t - 1 (a shift meant for targets applied to outputs)."""

    def _readout(self, h):
        h = torch.cat([h[:, :1], h[:, :-1]], dim=1)
        return self.head(self.ln_f(h))


class ReadoutOfEveryToken(DecisionTransformer):
    """Interleaved: the head reads every token, so forward returns 3T outputs per window."""

    def _readout(self, h):
        return self.head(self.ln_f(h))


# --- parameters that never train ---


class DetachedReturnEmbedding(DecisionTransformer):
    """The return embedding's output is detached: its weights never learn."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.embed_return.register_forward_hook(lambda module, args, out: out.detach())


class FrozenStateEmbedding(DecisionTransformer):
    """The state embedding was frozen (requires_grad False) by a fine-tuning helper, and nobody said so."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.embed_state.requires_grad_(False)


class GradientScaledToNothing(DecisionTransformer):
    """A gradient hook meant for clipping multiplies the state embedding's gradient by 1e-12: it is
    finite and non-zero, yet Adam's epsilon keeps the weights where they started."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        for p in self.embed_state.parameters():
            p.register_hook(lambda g: g * 1e-12)


class LayerNormResetEachForward(DecisionTransformer):
    """forward re-initialises the final layer norm (a leftover of weight init in the wrong place): it gets
    gradients, and every step of training is undone."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        with torch.no_grad():
            self.ln_f.weight.fill_(1.0)
            self.ln_f.bias.zero_()
        return super().forward(returns_to_go, states, prev_actions, timesteps, mask)


# --- heads and sampling ---


class TemperatureOnProbabilities(DecisionTransformer):
    """Sampling applies a temperature (0.5) to probabilities instead of logits: softmax(p / T) is nearly
    uniform whatever the logits, so rollouts do not sample what the loss trains."""

    def distribution(self, params: Tensor):
        return Categorical(logits=params.softmax(-1) / 0.5)


class LogitsTakenForProbabilities(DecisionTransformer):
    """The sampler feeds shifted logits as probabilities (the missing exp of the origin day)."""

    def distribution(self, params: Tensor):
        return Categorical(probs=params - params.min(-1, keepdim=True).values + 1e-3)


class LargeHeadInit(DecisionTransformer):
    """The head initialised like the other layers times 500: the policy starts nearly deterministic."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        nn.init.normal_(self.head.weight, std=1.0)


# --- inputs read over part of their range, part of the episode, or some of their dimensions ---


class ReturnRectified(DecisionTransformer):
    """Returns-to-go clipped at 0 (a model written for positive rewards): every negative command looks the
    same, so an env of costs (Acrobot, MountainCar) cannot be commanded."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go.clamp(min=0), states, prev_actions, timesteps)


class StateReadEarlyOnly(DecisionTransformer):
    """The state reaches the model only in the first 30 steps of an episode (a mask built from the timestep
    instead of the padding)."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states * (timesteps < 30)[..., None], prev_actions, timesteps)


class LastStateDimDropped(DecisionTransformer):
    """The state embedding reads every observation dimension but the last (a slice off by one)."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        states = torch.cat([states[..., :-1], torch.zeros_like(states[..., -1:])], dim=-1)
        return super()._embed(returns_to_go, states, prev_actions, timesteps)


# --- a sequence's outputs from other sequences, or from chance ---


class ReturnsNormalisedOverBatch(DecisionTransformer):
    """Returns-to-go standardised with the batch's mean and spread at each position: an env's command is
    read against the other envs' commands."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        if returns_to_go.shape[0] > 1:
            mean, std = returns_to_go.mean(0, keepdim=True), returns_to_go.std(0, keepdim=True)
            returns_to_go = (returns_to_go - mean) / (std + 1e-3)
        return super()._embed(returns_to_go, states, prev_actions, timesteps)


class DropoutInEval(DecisionTransformer):
    """Dropout on the tokens that ignores eval mode (``training=True`` passed by hand)."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        tokens = super()._embed(returns_to_go, states, prev_actions, timesteps)
        return torch.nn.functional.dropout(tokens, 0.1, training=True)


# --- the cache ---


class CacheNotAdvancing(DecisionTransformer):
    """push never moves the ring position on: every step overwrites the same slot, so the cache holds only
    the newest step."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        params = super().push(returns_to_go, states, prev_actions, timesteps)
        self._pos -= 1
        return params


class CacheRingNeverWraps(DecisionTransformer):
    """The ring position stops at K - 1 instead of wrapping: past K steps each step overwrites the last slot
    and the cache keeps a stale window. Only episodes longer than K show it."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        self._pos = min(self._pos, self.context_len - 1)
        return super().push(returns_to_go, states, prev_actions, timesteps)


class CacheResetIgnored(DecisionTransformer):
    """reset does nothing: a new episode attends to the end of the previous one."""

    def reset(self, done: Tensor) -> None:
        pass


class CacheResetClearsAll(DecisionTransformer):
    """reset clears every sequence when any one ends: with envs resetting at different times, the others
    lose their history."""

    def reset(self, done: Tensor) -> None:
        super().reset(torch.ones_like(done))


class CacheWithoutStepMask(DecisionTransformer):
    """Interleaved: push lets each token see the later tokens of its own step (the within-step mask is
    dropped). The readout token is the last of its step, so one layer hides it; two layers show it."""

    def begin(self, n: int) -> None:
        super().begin(n)
        self._step_bias = None


# --- the continuous-action twin ---


class ContinuousStartReadsAction(DecisionTransformer):
    """Continuous actions: the start embedding is never used, so the (meaningless) previous action at an
    episode start reaches the output."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        if self.discrete:
            return super()._embed(returns_to_go, states, prev_actions, timesteps)
        a = self.embed_action(prev_actions)
        r, s = self.embed_return(returns_to_go.unsqueeze(-1)), self.embed_state(states)
        return self._tokens(r, s, a, self.embed_timestep(timesteps.clamp(0, self.config.max_episode_len - 1)))


class ContinuousActionDetached(DecisionTransformer):
    """Continuous actions: the previous-action embedding is detached, so its weights never learn."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        if not config.discrete:
            self.embed_action.register_forward_hook(lambda module, args, out: out.detach())


# --- the loss and the returns ---


def unmasked_nll(params: Tensor, actions: Tensor, mask: Tensor, discrete: bool) -> Tensor:
    """The training loss averaged over every step, padding included."""
    return -action_distribution(params, discrete).log_prob(actions).mean()


def nll_without_last_step(params: Tensor, actions: Tensor, mask: Tensor, discrete: bool) -> Tensor:
    """The loss cuts the last step of every window off (one row lost per batch, as on the origin day)."""
    nll = -action_distribution(params[:, :-1], discrete).log_prob(actions[:, :-1])
    m = mask[:, :-1].to(nll.dtype)
    return (nll * m).sum() / m.sum().clamp(min=1)


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


class ReturnsSoFarEpisode(Episode):
    """The cumulative sum runs forward: R_t holds the rewards received up to t, not those still to come."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.returns_to_go = np.cumsum(self.rewards, dtype=np.float64)


@dataclass(frozen=True)
class Bug:
    name: str
    subject: Subject
    caught_by: str
    """The static check that must flag it."""
    reason: str = ""
    """For a check with no measured quantity: words its detail must hold."""


def bugs() -> list[Bug]:
    """The zoo: the bugs of this module, then those of `bug_zoo_more` (kinds found later)."""
    from bug_zoo_more import more_bugs

    good = DTFactory()
    return [
        Bug("timestep embedding removed", Subject(small(NoTimestepEmbedding)), "timesteps_matter"),
        Bug("first return-to-go everywhere", Subject(small(FirstReturnEverywhere)), "returns_by_position"),
        Bug(
            "first return-to-go everywhere, acting without a cache",
            Subject(small(FirstReturnEverywhereUncached)),
            "returns_by_position",
        ),
        Bug("state one step behind", Subject(small(StateOneStepBehind, "interleaved")), "states_by_position"),
        Bug(
            "first previous action everywhere",
            Subject(small(FirstPrevActionEverywhere)),
            "prev_actions_by_position",
        ),
        Bug("first timestep everywhere", Subject(small(FirstTimestepEverywhere)), "timesteps_by_position"),
        Bug(
            "timesteps capped at one",
            Subject(small(TimestepCappedAtOne, "interleaved")),
            "timesteps_by_position",
        ),
        Bug("return scaled twice", Subject(small(ReturnScaledTwice)), "returns_by_position"),
        Bug("returns-to-go rectified", Subject(small(ReturnRectified)), "returns_by_position"),
        Bug("state read early in episodes only", Subject(small(StateReadEarlyOnly)), "states_by_position"),
        Bug(
            "last state dimension dropped",
            Subject(small(LastStateDimDropped, "interleaved")),
            "states_by_position",
        ),
        Bug(
            "returns-to-go normalised over the batch",
            Subject(small(ReturnsNormalisedOverBatch)),
            "rows_independent",
        ),
        Bug("dropout in eval mode", Subject(small(DropoutInEval, "interleaved")), "deterministic"),
        Bug("state scaled away", Subject(small(StateScaledAway, "interleaved")), "states_by_position"),
        Bug(
            "start token samplable",
            Subject(small(SamplableStartToken)),
            "start_token_never_sampled",
            "can be sampled",
        ),
        Bug(
            "start token is the last action",
            Subject(small(StartTokenClampedToLastAction)),
            "start_token_distinct",
        ),
        Bug(
            "start token is action 0 (interleaved)",
            Subject(small(StartTokenWrapsToActionZero, "interleaved")),
            "start_token_distinct",
        ),
        Bug("no causal mask", Subject(small(NoCausalMask)), "causal_masking"),
        Bug("no causal mask (interleaved)", Subject(small(NoCausalMask, "interleaved")), "causal_masking"),
        Bug("causal mask off by one when padded", Subject(small(MaskOffByOneWhenPadded)), "causal_masking"),
        Bug(
            "readout at the return token",
            Subject(small(ReadoutAtReturnToken, "interleaved")),
            "states_by_position",
        ),
        Bug("readout one step behind", Subject(small(ReadoutOneStepBehind)), "states_by_position"),
        Bug(
            "readout of every token",
            Subject(small(ReadoutOfEveryToken, "interleaved")),
            "output_shape",
            "expected (B, T, A)",
        ),
        Bug(
            "a parameter detached from the graph",
            Subject(small(DetachedReturnEmbedding)),
            "gradients",
            "no gradient",
        ),
        Bug("a frozen state embedding", Subject(small(FrozenStateEmbedding)), "gradients", "frozen"),
        Bug("a gradient scaled to nothing", Subject(small(GradientScaledToNothing)), "overfit_batch"),
        Bug("a layer norm reset every forward", Subject(small(LayerNormResetEachForward)), "overfit_batch"),
        Bug(
            "temperature on probabilities",
            Subject(small(TemperatureOnProbabilities)),
            "sampling_matches_loss",
        ),
        Bug(
            "logits taken for probabilities",
            Subject(small(LogitsTakenForProbabilities)),
            "sampling_matches_loss",
        ),
        Bug("head initialised large", Subject(small(LargeHeadInit)), "initial_entropy"),
        Bug("cache not advancing its position", Subject(small(CacheNotAdvancing)), "kv_cache"),
        Bug("cache ring never wraps", Subject(small(CacheRingNeverWraps, "interleaved")), "kv_cache"),
        Bug("cache reset ignored", Subject(small(CacheResetIgnored)), "kv_cache"),
        Bug("cache reset clears every sequence", Subject(small(CacheResetClearsAll)), "kv_cache"),
        Bug(
            "cache without the within-step mask (2 layers)",
            Subject(small(CacheWithoutStepMask, "interleaved", n_layer=2)),
            "kv_cache",
        ),
        Bug(
            "continuous: the start reads an action",
            Subject(small(ContinuousStartReadsAction)),
            "continuous_actions",
        ),
        Bug(
            "continuous: action embedding detached",
            Subject(small(ContinuousActionDetached)),
            "continuous_actions",
            "get no gradient",
        ),
        Bug(
            "padding not masked in the loss", Subject(good, loss=unmasked_nll), "padded_targets_carry_no_loss"
        ),
        Bug("loss drops the last step", Subject(good, loss=nll_without_last_step), "real_targets_carry_loss"),
        Bug(
            "target return leaks into the returns",
            Subject(good, episode_cls=CommandLeakEpisode),
            "relabelling",
            "expected",
        ),
        Bug(
            "returns-to-go off by one step",
            Subject(good, episode_cls=OffByOneEpisode),
            "relabelling",
            "expected",
        ),
        Bug(
            "returns-to-go summed forward",
            Subject(good, episode_cls=ReturnsSoFarEpisode),
            "relabelling",
            "expected",
        ),
        Bug(
            "learning rate 100x too high", Subject(good, lr=0.1, train_overrides={"lr": 0.1}), "overfit_batch"
        ),
    ] + more_bugs()
