"""The cache checks on trained weights, with sequences that end together, and a policy that raises within
the episodes it declares: bugs the doctor missed on freshly initialised weights (logits ~1e-2, where a cap or
a clamp in one path only is the identity, and begin is called on one set of weights only), each failed by
its measured quantity; and healthy models of several shapes that keep passing."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lightup.doctor import limits
from lightup.doctor.check_base import Subject, build, inputs, random_batch
from lightup.doctor.checks import run_static
from lightup.doctor.checks_cache import train_a_little
from lightup.models import DecisionTransformer, DTConfig
from lightup.models.policy import SequencePolicy

POSITION_CHECKS = (
    "returns_by_position",
    "states_by_position",
    "prev_actions_by_position",
    "timesteps_by_position",
)


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def dt(cls: type[DecisionTransformer] = DecisionTransformer, **config):
    """A factory building ``cls`` at the doctor's default size unless ``config`` says otherwise."""
    sizes = {"context_len": 4, "n_layer": 1, "n_head": 2, "n_embd": 32, **config}

    def factory(obs_dim: int, act_dim: int, discrete: bool) -> DecisionTransformer:
        return cls(DTConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete, **sizes))

    return factory


# --- bugs ---


class ResetFirstDoneOnly(DecisionTransformer):
    """reset clears only the first finished sequence: where several end at the same step (fixed-length
    episodes do), the others begin their new episode attending to the old one."""

    def reset(self, done: Tensor) -> None:
        first = torch.zeros_like(done)
        if done.any():
            first[int(done.float().argmax())] = True
        super().reset(first)


class StaleWeightSnapshot(DecisionTransformer):
    """begin keeps the step parameters it gathered at its first call: after training, rollouts act with the
    transposed copies of the initial weights."""

    def begin(self, n: int) -> None:
        saved = getattr(self, "_snap", None)
        super().begin(n)
        if saved is None:
            self._snap = (self._step_params, self._embed_params, self._readout_params)
        else:
            self._step_params, self._embed_params, self._readout_params = saved


class SoftcapInForwardOnly(DecisionTransformer):
    """forward soft-caps the logits at +-5, the cached step does not: the identity at initialisation."""

    def forward(self, *args, **kwargs) -> Tensor:
        out = super().forward(*args, **kwargs)
        return 5.0 * torch.tanh(out / 5.0) if self.discrete else out


class ClampInPushOnly(DecisionTransformer):
    """push clamps the logits to [-3, 3], forward does not: inactive until the policy is confident."""

    def push(self, *args, **kwargs) -> Tensor:
        return super().push(*args, **kwargs).clamp(-3.0, 3.0)


class SquashedMeanInForwardOnly(DecisionTransformer):
    """Continuous actions: forward squashes the mean (3 tanh(mean / 3)), the cached step does not."""

    def forward(self, *args, **kwargs) -> Tensor:
        out = super().forward(*args, **kwargs)
        if self.discrete:
            return out
        mean, log_std = out.chunk(2, -1)
        return torch.cat([3 * torch.tanh(mean / 3), log_std], -1)


class ShortTimestepTable(DecisionTransformer):
    """A timestep table of 100 rows while the config declares episodes of up to 1024 steps: forward and
    push raise IndexError from timestep 100 on."""

    def __init__(self, config: DTConfig):
        super().__init__(config)
        self.embed_timestep = nn.Embedding(100, config.n_embd)
        nn.init.normal_(self.embed_timestep.weight, std=0.02)


class UndeclaredShortTimesteps(SequencePolicy):
    """Healthy for episodes of up to 100 steps: a user's per-step model with a timestep table of 100 rows
    that declares no longest episode (its windows past timestep 100 are left out, and named)."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, 4
        self.embed_action = nn.Embedding(act_dim + 1, 16)
        self.embed_timestep = nn.Embedding(100, 16)
        self.inp = nn.Linear(1 + obs_dim, 16)
        self.head = nn.Linear(16, self.n_params)

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask) -> Tensor:
        x = self.inp(torch.cat([returns_to_go[..., None], states], -1))
        x = x + self.embed_action(prev_actions) + self.embed_timestep(timesteps)
        return self.head(F.gelu(x))


def assert_failed_by_its_quantity(result, *where: str) -> None:
    assert result.verdict == "fail", result.detail
    assert result.value is not None and result.value > limits.CACHE.fail_at, result.detail
    assert result.limit == limits.CACHE.fail_at and result.margin < 1, result.detail
    for text in where:
        assert text in result.detail, result.detail


def test_a_reset_that_clears_one_of_two_finished_sequences_fails_kv_cache():
    (result,) = run_static(Subject(dt(ResetFirstDoneOnly)), only=("kv_cache",))
    # Sequences 1 and 2 end together at step K + 1 = 5; sequence 2 keeps its old episode.
    assert_failed_by_its_quantity(
        result, "sequence 2, step 5 (timestep 0)", "resets at different times and together"
    )


def test_a_begin_that_keeps_its_first_weights_fails_kv_cache_on_the_trained_weights():
    (result,) = run_static(Subject(dt(StaleWeightSnapshot)), only=("kv_cache",))
    assert_failed_by_its_quantity(result, "on the trained weights", "Adam steps")


@pytest.mark.parametrize("cls", [SoftcapInForwardOnly, ClampInPushOnly], ids=lambda c: c.__name__)
def test_a_cap_or_clamp_in_one_path_only_fails_kv_cache_on_the_trained_weights(cls):
    (result,) = run_static(Subject(dt(cls)), only=("kv_cache",))
    assert_failed_by_its_quantity(result, "on the trained weights")


def test_a_squash_of_the_mean_in_forward_only_fails_continuous_actions_on_the_trained_weights():
    (result,) = run_static(Subject(dt(SquashedMeanInForwardOnly)), only=("continuous_actions",))
    assert_failed_by_its_quantity(result, "on the weights trained")


def test_a_push_that_raises_within_the_declared_episode_fails_kv_cache_naming_the_error_and_timestep():
    (result,) = run_static(Subject(dt(ShortTimestepTable)), only=("kv_cache",))
    assert_failed_by_its_quantity(result, "push raised IndexError", "at timesteps 400", "declares (1024)")


def test_a_forward_that_raises_within_the_declared_episode_fails_the_position_checks():
    for result in run_static(Subject(dt(ShortTimestepTable)), only=POSITION_CHECKS):
        assert result.verdict == "fail", (result.name, result.detail)
        assert "forward raised IndexError" in result.detail, result.detail
        assert "timesteps 401 to" in result.detail and "declares (1024)" in result.detail, result.detail


def test_a_model_that_declares_its_short_episodes_passes():
    """The same timestep table, with episodes declared to be no longer: checked where it plays."""
    results = run_static(
        Subject(dt(ShortTimestepTable, max_episode_len=100)), only=(*POSITION_CHECKS, "kv_cache")
    )
    assert {r.name: r.detail for r in results if r.verdict != "pass"} == {}


def test_an_undeclared_model_whose_timesteps_end_early_passes_with_the_windows_left_out_named():
    results = {
        r.name: r for r in run_static(Subject(UndeclaredShortTimesteps), only=(*POSITION_CHECKS, "kv_cache"))
    }
    assert {n: r.detail for n, r in results.items() if r.verdict != "pass"} == {}
    assert "not from timestep 400 (push raised IndexError" in results["kv_cache"].detail
    for name in ("returns_by_position", "states_by_position", "prev_actions_by_position"):
        assert "from timestep 401 on left out (forward raised IndexError" in results[name].detail


# --- healthy models ---


def test_the_fit_makes_our_dt_confident():
    """What the cache check's second run relies on: logits far from the ~1e-2 of initialisation."""
    policy = build(Subject(dt())).eval()
    batch = inputs(random_batch(policy, 4, 4, seed=3))
    with torch.no_grad():
        before = policy(**batch)
    assert train_a_little(policy, Subject(dt())) is not None
    with torch.no_grad():
        after = policy(**batch)
    assert float(before.abs().max()) < 0.5 and float(after.abs().max()) > 4.0


HEALTHY_DTS = {
    "stacked": dt(),
    "interleaved": dt(layout="interleaved"),
    "stacked-3-layers": dt(n_layer=3),
    "interleaved-3-layers": dt(layout="interleaved", n_layer=3),
    "stacked-no-timesteps": dt(timestep_embedding=False),
    "interleaved-no-timesteps": dt(layout="interleaved", timestep_embedding=False),
    "stacked-K1": dt(context_len=1),
    "interleaved-K1-2-layers": dt(layout="interleaved", context_len=1, n_layer=2),
    "interleaved-K10-short-episodes": dt(layout="interleaved", context_len=10, max_episode_len=200),
}


@pytest.mark.parametrize("name", list(HEALTHY_DTS))
def test_our_dt_passes_the_cache_checks_on_trained_weights(name):
    for seed in (0, 1):
        subject = Subject(HEALTHY_DTS[name], seed=seed)
        results = run_static(subject, only=("kv_cache", "continuous_actions", *POSITION_CHECKS))
        assert {r.name: r.detail for r in results if r.verdict != "pass"} == {}, seed
        cache = {r.name: r for r in results}["kv_cache"]
        assert cache.value is not None and cache.value <= limits.CACHE.pass_at
        assert "from the start again after" in cache.detail, cache.detail
