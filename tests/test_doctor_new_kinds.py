"""The doctor's static checks on kinds of bugs found by a probe of user models (each defined here, broken and
healthy): a sampler that does not follow its log_prob, a head of the wrong shape or dtype, a forward that
depends on autograd, a tensor the state_dict misses, statistics over large batches only, inputs changed in
place, positions past the sixth, draws from Python's and numpy's RNGs in train mode, and healthy designs
that start with a part set to zero. Each broken model fails the named check because its measured quantity
is past its limit (or, for a check with no scalar, with the named finding); each healthy one passes."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Categorical

from lightup.doctor import limits
from lightup.doctor.check_base import CheckResult, Limit
from lightup.doctor.checks import CHECK_NAMES, Subject, run_static
from lightup.doctor.zero_init import FOOLED_BY_ZERO_INIT, WARM_STEPS
from lightup.models import DecisionTransformer, DTConfig, SequencePolicy
from lightup.models.heads import TanhNormal

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def small(cls: type[DecisionTransformer], context_len: int = 4, n_layer: int = 1, layout: str = "stacked"):
    """A factory of ``cls`` at the doctor's size (the ladder's: one layer of 32, two heads)."""

    def factory(obs_dim: int, act_dim: int, discrete: bool) -> DecisionTransformer:
        config = DTConfig(
            obs_dim=obs_dim,
            act_dim=act_dim,
            discrete=discrete,
            context_len=context_len,
            n_layer=n_layer,
            n_head=2,
            n_embd=32,
            layout=layout,  # type: ignore[arg-type]
        )
        return cls(config)

    return factory


class Recompute:
    """Acts through the `SequencePolicy` default (forward over the last K steps), as a user's model does."""

    begin = SequencePolicy.begin
    push = SequencePolicy.push
    reset = SequencePolicy.reset


def causal_blocks(policy: DecisionTransformer, x, mask, keep, causal: bool = True):
    """The blocks over tokens ``x``, each token seeing itself, the real steps ``keep`` allows and (where
    ``causal``) none after its own."""
    key = (mask & keep).repeat_interleave(policy.config.tokens_per_step, dim=1)[:, None, None, :]
    length = x.shape[1]
    allowed = key & torch.ones(length, length, dtype=torch.bool).tril() if causal else key
    allowed = allowed | torch.eye(length, dtype=torch.bool)
    for block in policy.blocks:
        x = block(x, allowed)
    return policy._readout(x)


def assert_fails_past_limit(result: CheckResult, limit: Limit) -> None:
    """The check failed because its measured quantity is past ``limit``, not because the model raised."""
    assert result.verdict == "fail", result.detail
    assert not result.detail.startswith("raised"), result.detail
    assert result.quantity == limit.quantity and result.limit == limit.fail_at, result.detail
    assert result.value is not None and limit.judge(result.value) == "fail", result.detail
    assert result.margin is not None and result.margin < 1, result.detail


def only(subject: Subject, name: str) -> CheckResult:
    (result,) = run_static(subject, only=(name,))
    return result


# --- 1. draws from Python's `random` and numpy's global RNG in train mode ---


class StepDropPythonRandom(DecisionTransformer):
    """Healthy: in train mode each step is hidden from the later ones with probability 0.05, drawn with
    Python's `random` (and a numpy draw of noise on the states): causal in both modes."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        if not self.training:
            return super().forward(returns_to_go, states, prev_actions, timesteps, mask)
        b, t = returns_to_go.shape
        noise = torch.from_numpy(np.random.normal(0, 0.01, states.shape).astype(np.float32))
        x = self._embed(returns_to_go, states + noise, prev_actions, timesteps)
        keep = torch.tensor([[random.random() > 0.05 for _ in range(t)] for _ in range(b)])
        return causal_blocks(self, x, mask, keep)


class StepDropLeaksFuture(StepDropPythonRandom):
    """Broken: the same step dropout, but train mode builds its mask from the kept steps alone (no causal
    part): the loss trains a model that sees the future; eval mode is causal."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        if not self.training:
            return super().forward(returns_to_go, states, prev_actions, timesteps, mask)
        b, t = returns_to_go.shape
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        keep = torch.tensor([[random.random() > 0.1 for _ in range(t)] for _ in range(b)])
        return causal_blocks(self, x, mask, keep, causal=False)


TRAIN_MODE_CHECKS = (
    "causal_masking",
    "train_matches_eval",
    "padded_targets_carry_no_loss",
    "inputs_unchanged",
)


def test_a_model_drawing_from_python_and_numpy_rngs_in_train_mode_gets_the_same_verdicts_every_run():
    """Every global RNG is seeded for the forwards a check compares, and restored after: the healthy model
    passes on every run, and the broken one's train-mode leak is caught on every run (before, in 5 runs of
    8, the two seeded forwards met other Python draws and train mode went uncompared)."""
    for run in range(4):
        random.seed(1000 + run)  # the caller's draws differ from one run to the next
        np.random.seed(1000 + run)
        state = random.getstate()
        healthy = run_static(Subject(small(StepDropPythonRandom)), only=TRAIN_MODE_CHECKS)
        assert {r.name: r.detail for r in healthy if r.verdict != "pass"} == {}, run
        assert random.getstate() == state  # restored: the caller's own draws go on as they would
        leak = only(Subject(small(StepDropLeaksFuture)), "causal_masking")
        assert_fails_past_limit(leak, limits.EXACT_OUTPUTS)
        assert "train mode" in leak.detail


# --- 2. what rollouts sample ---


class GreedyCategorical(Categorical):
    def sample(self, sample_shape=()):
        mode = self.logits.argmax(-1)
        return mode.expand(torch.Size(sample_shape) + mode.shape)


class GreedySampler(DecisionTransformer):
    """Broken: sample() returns the argmax (left from debugging); log_prob is right."""

    def distribution(self, params):
        return GreedyCategorical(logits=params) if self.discrete else super().distribution(params)


class GumbelCategorical(Categorical):
    def sample(self, sample_shape=()):
        u = torch.rand(torch.Size(sample_shape) + self.logits.shape).clamp(1e-9, 1 - 1e-9)
        return (self.logits + torch.log(-torch.log(u))).argmax(-1)  # the noise's sign flipped


class WrongGumbel(DecisionTransformer):
    """Broken: a Gumbel-max sampler with the noise's sign flipped: another law than log_prob's."""

    def distribution(self, params):
        return GumbelCategorical(logits=params) if self.discrete else super().distribution(params)


class NoTanhSample(TanhNormal):
    def sample(self, sample_shape=()):
        with torch.no_grad():
            return self.base.sample(sample_shape)


class ContinuousSamplerNoTanh(DecisionTransformer):
    """Broken (its continuous twin): sample() returns the Gaussian draw without the tanh."""

    def distribution(self, params):
        return super().distribution(params) if self.discrete else NoTanhSample(*params.chunk(2, -1))


@pytest.mark.parametrize(
    "cls, limit",
    [
        (GreedySampler, limits.SAMPLE_TV),
        (WrongGumbel, limits.SAMPLE_TV),
        (ContinuousSamplerNoTanh, limits.SAMPLE_OUTSIDE),
    ],
    ids=["argmax", "gumbel sign", "continuous no tanh"],
)
def test_a_sampler_that_does_not_follow_its_log_prob_fails_sampling_frequencies(cls, limit):
    assert only(Subject(small(cls)), "sampling_matches_loss").verdict == "pass"  # log_prob alone is right
    assert_fails_past_limit(only(Subject(small(cls)), "sampling_frequencies"), limit)


def test_sampling_noise_of_a_healthy_sampler_is_far_below_the_limits():
    result = only(Subject(small(DecisionTransformer)), "sampling_frequencies")
    assert result.verdict == "pass", result.detail
    measured = {**result.also, result.quantity: result.value}
    for limit in (limits.SAMPLE_TV, limits.SAMPLE_KS):
        (value,) = [v for k, v in measured.items() if k.endswith(limit.quantity)]
        assert value < limit.fail_at / 4, (limit.quantity, value)


class DiscreteOnlyPolicy(SequencePolicy):
    """Healthy: a user's discrete-only model whose factory ignores ``discrete`` (A outputs, and a categorical
    of its own, whatever it is asked): it has no continuous-action twin to blame."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, 2
        self.body = nn.Sequential(nn.Linear(obs_dim + 1, 32), nn.Tanh(), nn.Linear(32, act_dim))

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        return self.body(torch.cat([returns_to_go.unsqueeze(-1), states], -1))

    def distribution(self, params):
        return Categorical(logits=params)


def test_a_discrete_only_model_is_not_blamed_for_a_continuous_twin_it_does_not_have():
    results = run_static(Subject(DiscreteOnlyPolicy), only=("output_shape", "sampling_frequencies"))
    assert [r.verdict for r in results] == ["pass", "pass"], [r.detail for r in results]


class MeanOnlyHead(DecisionTransformer):
    """Broken (its continuous twin): the head has A outputs whatever the action kind (no log-std)."""

    def __init__(self, config):
        super().__init__(config)
        self.head = nn.Linear(config.n_embd, config.act_dim)


class Float16Output(DecisionTransformer):
    """Broken: forward and push return float16 parameters (a half() for an export left in)."""

    def forward(self, *args, **kwargs):
        return super().forward(*args, **kwargs).half()

    def push(self, *args, **kwargs):
        return super().push(*args, **kwargs).half()


def test_the_head_of_the_continuous_twin_and_the_output_dtype_are_checked():
    shape = only(Subject(small(MeanOnlyHead)), "output_shape")
    assert shape.verdict == "fail" and "continuous-action policy's forward" in shape.detail, shape.detail
    assert "expected (B, T, 2A)" in shape.detail
    dtype = only(Subject(small(Float16Output)), "output_shape")
    assert dtype.verdict == "fail" and "torch.float16" in dtype.detail and "torch.float32" in dtype.detail


# --- 3. autograd on and off ---


class SharpenWhenNoGrad(DecisionTransformer):
    """Broken: logits / 0.5 whenever autograd is off, taking "no grad" for "acting"."""

    def forward(self, *args, **kwargs):
        out = super().forward(*args, **kwargs)
        return out if torch.is_grad_enabled() else out / 0.5


def test_a_forward_that_depends_on_grad_mode_fails_grad_mode_agrees():
    assert only(Subject(small(SharpenWhenNoGrad)), "train_matches_eval").verdict == "pass"  # unseen there
    result = only(Subject(small(SharpenWhenNoGrad)), "grad_mode_agrees")
    assert_fails_past_limit(result, limits.EXACT_OUTPUTS)
    assert "autograd on vs under torch." in result.detail


# --- 4. a tensor the state_dict misses ---


class UnregisteredProjection(DecisionTransformer):
    """Broken: an observation projection kept as a plain tensor attribute (not an nn.Parameter): never
    trained, saved, or copied to the rollout's policy."""

    def __init__(self, config):
        super().__init__(config)
        self.obs_proj = torch.randn(config.obs_dim, config.obs_dim, requires_grad=True)

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go, states @ self.obs_proj, prev_actions, timesteps)


def test_an_unregistered_tensor_fails_the_checkpoint_round_trip_and_is_named():
    result = only(Subject(small(UnregisteredProjection)), "checkpoint_round_trip")
    assert_fails_past_limit(result, limits.EXACT_OUTPUTS)
    assert "obs_proj" in result.detail
    built = only(Subject(small(UnregisteredProjection)(3, 4, True)), "checkpoint_round_trip")  # a built one
    assert_fails_past_limit(built, limits.EXACT_OUTPUTS)


# --- 5. statistics over large batches only ---


class ReturnsNormalisedLargeBatch(DecisionTransformer):
    """Broken: returns-to-go standardised over the batch when it has 16 rows or more."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        if returns_to_go.shape[0] >= 16:
            mean, std = returns_to_go.mean(0, keepdim=True), returns_to_go.std(0, keepdim=True)
            returns_to_go = (returns_to_go - mean) / (std + 1e-3)
        return super()._embed(returns_to_go, states, prev_actions, timesteps)


def test_batch_statistics_from_16_rows_on_fail_rows_independent():
    assert_fails_past_limit(
        only(Subject(small(ReturnsNormalisedLargeBatch)), "rows_independent"), limits.EXACT_OUTPUTS
    )


# --- 6. inputs changed in place ---


class InPlaceStates(DecisionTransformer):
    """Broken: forward halves the caller's states in place."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        states.mul_(0.5)
        return super().forward(returns_to_go, states, prev_actions, timesteps, mask)


class InPlaceReturnsInPush(DecisionTransformer):
    """Broken: push clips the caller's returns-to-go in place."""

    def push(self, returns_to_go, states, prev_actions, timesteps):
        returns_to_go.clamp_(max=0.0)
        return super().push(returns_to_go, states, prev_actions, timesteps)


@pytest.mark.parametrize(
    "cls, named", [(InPlaceStates, "states after forward"), (InPlaceReturnsInPush, "push")]
)
def test_a_policy_that_changes_its_inputs_in_place_fails_inputs_unchanged_naming_them(cls, named):
    result = only(Subject(small(cls)), "inputs_unchanged")
    assert_fails_past_limit(result, limits.INPUT_CHANGE)
    assert named in result.detail and "in place" in result.detail


# --- 8. positions past the sixth ---


class StateIgnoredLate(Recompute, DecisionTransformer):
    """Broken (K = 20): the state is zeroed at window positions 6 and later."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        keep = (torch.arange(states.shape[1]) < 6).to(states.dtype)[None, :, None]
        return super()._embed(returns_to_go, states * keep, prev_actions, timesteps)


class MaskBufferTooShort(Recompute, DecisionTransformer):
    """Broken (K = 8): the causal mask is a 6 x 6 tril padded with True: steps 0-5 see steps 6 and 7."""

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        length = x.shape[1]
        extra = max(length - 6, 0)
        causal = F.pad(torch.ones(6, 6, dtype=torch.bool).tril(), (0, extra, 0, extra), value=True)
        key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
        allowed = (causal[:length, :length] & key_real) | torch.eye(length, dtype=torch.bool)
        for block in self.blocks:
            x = block(x, allowed)
        return self._readout(x)


def test_bugs_past_the_sixth_position_of_a_longer_window_are_caught():
    late = only(Subject(small(StateIgnoredLate, context_len=20)), "states_by_position")
    assert_fails_past_limit(late, limits.BY_POSITION["states"])
    assert "position 6" in late.detail or "position 7" in late.detail
    leak = only(Subject(small(MaskBufferTooShort, context_len=8, n_layer=2)), "causal_masking")
    assert_fails_past_limit(leak, limits.EXACT_OUTPUTS)


# --- 9. healthy designs that start with a part set to zero ---


class ZeroGateReturn(Recompute, DecisionTransformer):
    """Healthy: the return enters through a gate initialised to zero (adaLN-Zero, ControlNet)."""

    def __init__(self, config):
        super().__init__(config)
        self.gate = nn.Linear(config.n_embd, config.n_embd)
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def _tokens(self, r, s, a, time):
        return super()._tokens(self.gate(r), s, a, time)


class ReZeroDT(Recompute, DecisionTransformer):
    """Healthy: ReZero, each block's residual branch scaled by a learned scalar initialised at 0."""

    def __init__(self, config):
        super().__init__(config)
        self.alpha = nn.Parameter(torch.zeros(config.n_layer))

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        x = self._embed(returns_to_go, states, prev_actions, timesteps)
        t = x.shape[1]
        key_real = mask.repeat_interleave(self.config.tokens_per_step, dim=1)[:, None, None, :]
        allowed = (torch.ones(t, t, dtype=torch.bool).tril() & key_real) | torch.eye(t, dtype=torch.bool)
        for i, block in enumerate(self.blocks):
            x = x + self.alpha[i] * (block(x, allowed) - x)
        return self._readout(x)


class ZeroHead(DecisionTransformer):
    """Healthy: the head initialised to exactly zero (an exactly uniform first policy)."""

    def __init__(self, config):
        super().__init__(config)
        nn.init.zeros_(self.head.weight)


class ReturnTimesZero(DecisionTransformer):
    """Broken: the return multiplied by a constant 0 (not a parameter): no training opens it."""

    def _embed(self, returns_to_go, states, prev_actions, timesteps):
        return super()._embed(returns_to_go * 0.0, states, prev_actions, timesteps)


@pytest.mark.parametrize(
    "cls, n_layer",
    [(ZeroGateReturn, 1), (ReZeroDT, 2), (ZeroHead, 1)],
    ids=["zero gate", "rezero", "zero head"],
)
def test_healthy_zero_initialised_designs_pass_with_a_note_of_their_first_failure(cls, n_layer):
    names = tuple(n for n in CHECK_NAMES if n != "overfit_batch")
    results = run_static(Subject(small(cls, n_layer=n_layer)), only=names)
    assert {r.name: r.detail for r in results if r.verdict != "pass"} == {}
    noted = [r for r in results if "at initialisation" in r.detail]
    assert noted and {r.name for r in noted} <= FOOLED_BY_ZERO_INIT
    for r in noted:
        assert f"pass after {WARM_STEPS} Adam steps" in r.detail
    assert "gradients" in {r.name for r in noted}


def test_a_bug_is_not_excused_by_the_measure_after_training():
    """The return times a constant zero fails at initialisation and again after the Adam steps: the
    finding at initialisation stands, with its quantity past the limit."""
    for name in ("returns_to_go_matter", "returns_by_position"):
        result = only(Subject(small(ReturnTimesZero)), name)
        limit = (
            limits.RETURNS_MATTER if name == "returns_to_go_matter" else limits.BY_POSITION["returns_to_go"]
        )
        assert_fails_past_limit(result, limit)
        assert "not a part initialised to zero" in result.detail


# --- the exit status on an inconclusive verdict ---


def test_an_inconclusive_check_is_reported_but_does_not_fail_the_doctor(monkeypatch, capsys):
    """The doctor exits 1 when a check or a rung fails; an inconclusive check (between healthy and broken
    models) is shown with what to run next, and leaves the exit status at 0."""
    import lightup.doctor.checks as checks
    from lightup.doctor.cli import DoctorConfig, run

    def static(subject, only=()):
        verdict = "inconclusive" if subject.name == "dt-stacked" else "pass"
        return [
            CheckResult(
                "returns_by_position", verdict == "pass", "run the press-length-5 rung", verdict=verdict
            )
        ]

    monkeypatch.setattr(checks, "run_static", static)
    assert run(DoctorConfig(static_only=True, layout=("stacked",))) == 0
    assert "inconclusive" in capsys.readouterr().out

    def failing(subject, only=()):
        return [CheckResult("returns_by_position", False, "the command is ignored", verdict="fail")]

    monkeypatch.setattr(checks, "run_static", failing)
    assert run(DoctorConfig(static_only=True, layout=("stacked",))) == 1
