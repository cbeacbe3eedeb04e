"""The doctor's static checks on continuous-action policies: they run, skip what has no meaning for
continuous actions with the reason, and catch a broken continuous cache by its measured difference."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lightup.doctor import limits
from lightup.doctor.checks import CHECK_NAMES, Subject, run_static
from lightup.models import DecisionTransformer, DTConfig

SKIPPED = {
    "start_token_never_sampled",
    "start_token_distinct",
    "initial_entropy",
    "entropy_matches_probabilities",
}


def dt_factory(layout: str):
    def factory(obs_dim: int, act_dim: int, discrete: bool) -> DecisionTransformer:
        config = DTConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete, layout=layout, context_len=5)
        return DecisionTransformer(config)

    return factory


def test_the_static_checks_pass_a_continuous_dt_and_skip_the_discrete_ones_with_a_reason():
    for layout in ("stacked", "interleaved"):
        factory = dt_factory(layout)
        for subject in (Subject(factory, discrete=False), Subject(factory(3, 2, False))):
            results = {r.name: r for r in run_static(subject)}
            assert set(results) == set(CHECK_NAMES)
            for name, r in results.items():
                expected = "skipped" if name in SKIPPED else "pass"
                assert r.verdict == expected and r.passed, (layout, name, r.detail)
            for name in SKIPPED:
                assert results[name].detail.startswith("skipped for continuous actions: ")


class StartlessCacheDT(DecisionTransformer):
    """A bug: the cached step embeds the previous action at episode starts instead of the start
    embedding that forward uses there."""

    def _embed_step(self, rtg, states, prev_actions, timesteps):
        r_w, r_b, s_w, s_b, a_w, a_b, t_w = self._embed_params
        r = F.linear(rtg[:, None], r_w, r_b)
        s = F.linear(states, s_w, s_b)
        a = F.linear(prev_actions, a_w, a_b)
        time = 0.0 if t_w is None else F.embedding(timesteps.clamp(0, self.config.max_episode_len - 1), t_w)
        return self._tokens(r, s, a, time)


def test_a_continuous_cache_that_drops_the_start_embedding_fails_kv_cache_by_its_difference():
    torch.manual_seed(0)
    policy = StartlessCacheDT(DTConfig(obs_dim=3, act_dim=2, discrete=False, context_len=5))
    torch.nn.init.normal_(policy.start_embedding, std=1.0)
    torch.nn.init.normal_(policy.head.weight, std=1.0)
    results = {r.name: r for r in run_static(Subject(policy), only=("kv_cache", "continuous_actions"))}
    for name in ("kv_cache", "continuous_actions"):
        r = results[name]
        assert r.verdict == "fail", (name, r.detail)
        assert r.value is not None and r.value > limits.CACHE.fail_at, (name, r.detail)


def test_the_stock_dt_climbs_the_continuous_rungs():
    """Seed 0 of each continuous rung, both layouts, at the rung's own budget and pass rule."""
    from lightup.doctor.ladder import climb
    from lightup.doctor.rungs import RUNGS
    from lightup.doctor.subjects import DTFactory

    rungs = [r for r in RUNGS if r.name.startswith("continuous-")]
    assert len(rungs) == 2
    for layout in ("stacked", "interleaved"):
        results = climb(Subject(DTFactory(layout)), rungs, seeds=1)
        assert [r.status for r in results] == ["pass", "pass"], [(r.name, r.detail) for r in results]
