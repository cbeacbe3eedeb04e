"""More broken variants of our Decision Transformer, of kinds the first zoo (tests/bug_zoo.py) does not name:
masks wrong in one layer or at one position, inputs read from the next step, statistics over the time axis,
a mask or a temperature that holds in one mode only, a cache that drifts late in an episode, heads and
samplers of continuous actions. `bug_zoo.bugs` lists them with the rest, and `tests/test_doctor.py` asserts
each is flagged by the named check for the named reason.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Normal

from lightup.doctor.checks import Subject
from lightup.models import DecisionTransformer
from lightup.models.heads import TanhNormal
from lightup.models.policy import SequencePolicy


def _shifted(x: Tensor, last: Tensor) -> Tensor:
    """x (B, T, ...) read one step ahead: position t holds x[:, t + 1], the last position ``last``."""
    return torch.cat([x[:, 1:], last], dim=1)


class Recompute:
    """Acts through the `SequencePolicy` default (forward over the last K steps), as a user's model does."""

    begin = SequencePolicy.begin
    push = SequencePolicy.push
    reset = SequencePolicy.reset


# --- the causal mask, wrong in one layer or at one position ---


class MaskOffByOneInLastLayer(DecisionTransformer):
    """The last layer's mask is ``tril(1)`` (a mask rebuilt by hand there): each token sees the next one.
    The other layers are causal."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        length = x.shape[1]
        key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
        eye = torch.eye(length, dtype=torch.bool)
        full = torch.ones(length, length, dtype=torch.bool)
        causal, leaky = (full.tril() & key_real) | eye, (full.tril(1) & key_real) | eye
        for i, block in enumerate(self.blocks):
            x = block(x, leaky if i == len(self.blocks) - 1 else causal)
        return self._readout(x)


class MaskLeakAtFirstToken(DecisionTransformer):
    """The first token also sees the second (a 'fix' for a first row thought empty): one entry of the mask."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        length = x.shape[1]
        key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
        ok = torch.ones(length, length, dtype=torch.bool).tril()
        ok[0, 1] = True
        allowed = (ok & key_real) | torch.eye(length, dtype=torch.bool)
        for block in self.blocks:
            x = block(x, allowed)
        return self._readout(x)


class CausalOnlyInEval(DecisionTransformer):
    """The causal mask is applied in eval mode only (a flag meant for the fast path): the loss trains a
    model that sees the future, and rollouts act with one that cannot."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        if not self.training:
            return super().forward(returns_to_go, states, prev_actions, timesteps, mask)
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
        allowed = key_real | torch.eye(x.shape[1], dtype=torch.bool)
        for block in self.blocks:
            x = block(x, allowed)
        return self._readout(x)


# --- inputs read from the next step, or against the whole window ---


class ReturnFromNextStep(DecisionTransformer):
    """Position t reads R_{t+1} (a shift meant for the targets applied to the returns)."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        nxt = _shifted(returns_to_go, returns_to_go[:, -1:])
        return super()._embed(nxt, states, prev_actions, timesteps)


class ActionItWasGiven(DecisionTransformer):
    """Position t reads a_t (``prev_actions[t + 1]``) for a_{t-1}: it learns to copy the action it predicts
    from its input."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        nxt = _shifted(prev_actions, prev_actions[:, -1:])
        return super()._embed(returns_to_go, states, nxt, timesteps)


class TimestepFromNextStep(DecisionTransformer):
    """Position t reads the timestep of step t + 1."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states, prev_actions, _shifted(timesteps, timesteps[:, -1:] + 1))


class TimestepsFromLastSlot(DecisionTransformer):
    """Timesteps rebuilt from the window's last slot, assuming left padding (as the DT paper's get_action
    pads): with right padding the last slot is padding, and every real step gets the wrong timestep."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        t = timesteps.shape[1]
        rebuilt = (timesteps[:, -1:] - (t - 1) + torch.arange(t)).clamp(min=0)
        return super()._embed(returns_to_go, states, prev_actions, rebuilt)


class StatesNormalisedOverWindow(DecisionTransformer):
    """States standardised with the window's mean and spread over time: the future steps' states included."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        mean, std = states.mean(1, keepdim=True), states.std(1, keepdim=True, correction=0)
        return super()._embed(returns_to_go, (states - mean) / (std + 1e-3), prev_actions, timesteps)


class BatchNormOverTime(DecisionTransformer):
    """A BatchNorm1d on the state over all (B, T) steps: in training a step's state is read against the
    batch's later steps and its padding; in eval against running statistics (another function)."""

    def __init__(self, config):
        super().__init__(config)
        self.norm = nn.BatchNorm1d(config.obs_dim)

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        s = self.norm(states.reshape(-1, states.shape[-1])).reshape(states.shape)
        return super()._embed(returns_to_go, s, prev_actions, timesteps)


class StateReadAtFirstPositionsOnly(DecisionTransformer):
    """The state reaches the model at the first two positions of a window only (a mask by window position
    where one by padding was meant)."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        keep = (torch.arange(states.shape[1]) < 2).to(states.dtype)[None, :, None]
        return super()._embed(returns_to_go, states * keep, prev_actions, timesteps)


class PositionFromWindowEnd(Recompute, DecisionTransformer):
    """A learned position embedding indexed from the window's end (T - 1 - i), written for left-padded
    windows where the newest step always sits last; trained on right-padded ones, and acting on windows of
    growing length: each step's position changes as the window grows."""

    def __init__(self, config):
        super().__init__(config)
        self.position = nn.Embedding(config.context_len, config.n_embd)

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        x = super()._embed(returns_to_go, states, prev_actions, timesteps)
        t = states.shape[1]
        back = torch.arange(t - 1, -1, -1).repeat_interleave(self.config.tokens_per_step)
        return x + self.position(back)


# --- rollouts on another function than the loss ---


class ReturnSignFlippedInCache(DecisionTransformer):
    """push feeds -R (the rollout's command read as a cost): training and acting read opposite commands."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        return super().push(-returns_to_go, states, prev_actions, timesteps)


class CacheTimestepClampedEarly(DecisionTransformer):
    """push clamps timesteps at 255 (the table size of an older config), forward at max_episode_len - 1: the
    cache is exact for an episode's first 255 steps and drifts after."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        return super().push(returns_to_go, states, prev_actions, timesteps.clamp(max=255))


class TemperatureInEval(Recompute, DecisionTransformer):
    """forward divides the logits by a temperature 0.5 in eval mode only: rollouts act on a sharper policy
    than the loss trains (and push, recomputing forward, agrees with it)."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        out = super().forward(returns_to_go, states, prev_actions, timesteps, mask)
        return out if self.training else out / 0.5


class TemperatureAppliedTwice(DecisionTransformer):
    """distribution divides the logits by a temperature the rollout already applies."""

    def distribution(self, params: Tensor):
        return Categorical(logits=params / 0.7)


class PaddingActionLogit(DecisionTransformer):
    """distribution appends a logit of 0 for a padding action: A + 1 outcomes, one of them no action."""

    def distribution(self, params: Tensor):
        return Categorical(logits=torch.cat([params, torch.zeros_like(params[..., :1])], -1))


# --- continuous-action heads and samplers ---


class _NoTanhCorrection(TanhNormal):
    def log_prob(self, value: Tensor) -> Tensor:
        u = torch.atanh(value.clamp(-1 + 1e-6, 1 - 1e-6))
        return self.base.log_prob(u).sum(-1)


class _UnclampedStd(TanhNormal):
    def __init__(self, mean: Tensor, log_std: Tensor):
        super().__init__(mean, log_std)
        self.std = log_std.exp()
        self.base = Normal(mean, self.std, validate_args=False)


class ContinuousTanhTwice(DecisionTransformer):
    """Continuous: distribution squashes the mean before the tanh-Gaussian squashes it again."""

    def distribution(self, params: Tensor):
        mean, log_std = params.chunk(2, -1)
        return TanhNormal(torch.tanh(mean), log_std)


class CacheLogNeverTrimmed(DecisionTransformer):
    """The rollout cache also logs every step it is given and never drops one: exact, and a leak."""

    def begin(self, n: int) -> None:
        super().begin(n)
        self._log: list[Tensor] = []

    def push(self, returns_to_go, states, prev_actions, timesteps):
        self._log.append(states.clone())
        return super().push(returns_to_go, states, prev_actions, timesteps)


class ContinuousMeanSquashedInForward(DecisionTransformer):
    """Continuous: forward squashes the mean, and the head's tanh squashes it again: actions stay within
    +-tanh(1) = +-0.76 of the box's middle, whatever the policy learns."""

    def forward(self, *args, **kwargs):
        params = super().forward(*args, **kwargs)
        if self.discrete:
            return params
        mean, log_std = params.chunk(2, -1)
        return torch.cat([torch.tanh(mean), log_std], -1)


class ContinuousNoTanhCorrection(DecisionTransformer):
    """Continuous: the sampler's log-density leaves out the tanh's change of variables."""

    def distribution(self, params: Tensor):
        return _NoTanhCorrection(*params.chunk(2, -1))


class ContinuousStdUnclamped(DecisionTransformer):
    """Continuous: the sampler's std is not clamped as the loss's is."""

    def distribution(self, params: Tensor):
        return _UnclampedStd(*params.chunk(2, -1))


def more_bugs() -> list:
    """The bugs of this module as `bug_zoo.Bug` entries."""
    from bug_zoo import Bug, small

    return [
        Bug(
            "causal mask off by one in the last layer",
            Subject(small(MaskOffByOneInLastLayer, n_layer=2)),
            "causal_masking",
        ),
        Bug(
            "causal mask off by one in the last layer (interleaved)",
            Subject(small(MaskOffByOneInLastLayer, "interleaved", n_layer=2)),
            "causal_masking",
        ),
        Bug("first token sees the second", Subject(small(MaskLeakAtFirstToken)), "causal_masking"),
        Bug("causal mask in eval mode only", Subject(small(CausalOnlyInEval)), "causal_masking"),
        Bug("return-to-go from the next step", Subject(small(ReturnFromNextStep)), "causal_masking"),
        Bug(
            "the action it was given",
            Subject(small(ActionItWasGiven, "interleaved")),
            "causal_masking",
        ),
        Bug("timestep from the next step", Subject(small(TimestepFromNextStep)), "causal_masking"),
        Bug(
            "timesteps from the last slot (left padding assumed)",
            Subject(small(TimestepsFromLastSlot)),
            "causal_masking",
        ),
        Bug(
            "states normalised over the window", Subject(small(StatesNormalisedOverWindow)), "causal_masking"
        ),
        Bug("batch norm over time", Subject(small(BatchNormOverTime)), "causal_masking"),
        Bug(
            "batch norm over time: padding", Subject(small(BatchNormOverTime)), "padded_targets_carry_no_loss"
        ),
        Bug(
            "state read at the first positions only",
            Subject(small(StateReadAtFirstPositionsOnly)),
            "states_by_position",
        ),
        Bug("position from the window's end", Subject(small(PositionFromWindowEnd)), "kv_cache"),
        Bug("return sign flipped in the cache", Subject(small(ReturnSignFlippedInCache)), "kv_cache"),
        Bug("cache timestep clamped at 255", Subject(small(CacheTimestepClampedEarly)), "kv_cache"),
        Bug("temperature in eval mode only", Subject(small(TemperatureInEval)), "train_matches_eval"),
        Bug("batch norm statistics in eval", Subject(small(BatchNormOverTime)), "train_matches_eval"),
        Bug("temperature applied twice", Subject(small(TemperatureAppliedTwice)), "sampling_matches_loss"),
        Bug(
            "a logit for a padding action",
            Subject(small(PaddingActionLogit)),
            "start_token_never_sampled",
            "covers 5 values",
        ),
        Bug(
            "continuous: tanh applied twice",
            Subject(small(ContinuousTanhTwice), discrete=False),
            "sampling_matches_loss",
        ),
        Bug("cache log never trimmed", Subject(small(CacheLogNeverTrimmed)), "cache_bounded"),
        Bug(
            "continuous: mean squashed in forward",
            Subject(small(ContinuousMeanSquashedInForward), discrete=False),
            "continuous_reach",
        ),
        Bug(
            "continuous: no tanh correction in the sampler",
            Subject(small(ContinuousNoTanhCorrection), discrete=False),
            "sampling_matches_loss",
        ),
        Bug(
            "continuous: std not clamped in the sampler",
            Subject(small(ContinuousStdUnclamped), discrete=False),
            "sampling_matches_loss",
        ),
    ]
