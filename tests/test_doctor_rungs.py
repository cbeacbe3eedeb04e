"""The rungs that exercise what the static checks see: the return-to-go read past the first step
(command-follow-later) and the rollout cache over episodes longer than the context that end at different
times (recall-rounds). The unbroken model passes them; a bug of the matching kind fails them for the named
reason."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from bug_zoo import CacheResetClearsAll, CacheRingNeverWraps, FirstReturnEverywhereUncached, small

from lightup.doctor.checks import Subject
from lightup.doctor.ladder import FOLLOWED, run_rung, rung_config
from lightup.doctor.rungs import RUNGS
from lightup.doctor.subjects import DTFactory
from lightup.envs import make_env

RUNG = {r.name: r for r in RUNGS}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# --- the envs ---


def test_command_follow_later_meets_a_command_of_zero_only_from_the_return_still_to_collect():
    env = make_env("lightup/CommandFollowLater-v0")
    firsts, totals = set(), []
    for seed in range(20):
        obs, _ = env.reset(seed=seed)
        assert obs.tolist() == [0.0]
        _, first, terminated, _, _ = env.step(0)
        assert not terminated
        firsts.add(first)
        still_to_collect = 0.0 - first  # commanded 0
        obs, second, terminated, truncated, _ = env.step(0 if still_to_collect > 0 else 1)
        assert obs.tolist() == [0.0] and terminated and not truncated
        totals.append(first + second)
    assert firsts == {-1.0, 1.0}  # the first reward is random, and the observation does not show it
    assert totals == [0.0] * 20


def test_recall_rounds_run_longer_than_the_context_and_end_at_different_times():
    env = make_env("lightup/RecallButton-v0", min_rounds=2, max_rounds=5, end_on_miss=True)
    lengths, returns = set(), []
    for seed in range(30):
        obs, _ = env.reset(seed=seed)
        lit, total, steps, done = 0, 0.0, 0, False
        while not done:
            if obs[:-1].any():
                lit = int(np.argmax(obs[:-1]))  # remember the light; press it at the cue
            obs, reward, done, truncated, _ = env.step(lit)
            assert not truncated
            total, steps = total + reward, steps + 1
        lengths.add(steps)
        returns.append(total)
    assert lengths == {6, 9, 12, 15} and min(lengths) > DTFactory().context_len
    assert returns == pytest.approx([1.0] * 30)
    obs, _ = env.reset(seed=0)
    env.step(0)  # the light
    env.step(0)  # the blank step
    _, reward, terminated, _, _ = env.step(1 - int(np.argmax(obs[:-1])))  # a wrong press at the first cue
    assert reward == 0.0 and terminated


# --- command-follow-later: the return-to-go past the first step ---


def test_command_follow_later_passes_the_unbroken_dt_and_fails_a_model_reading_the_first_return_only(
    tmp_path,
):
    rung = dataclasses.replace(RUNG["command-follow-later"], seeds=1)  # one seed each: the verdict is clear
    good = run_rung(rung, Subject(DTFactory()), seeds=1, runs_dir=tmp_path)
    assert good.status == "pass", good.detail
    bad = Subject(small(FirstReturnEverywhereUncached), name="first-return")
    bad = run_rung(rung, bad, seeds=1, runs_dir=tmp_path)
    assert bad.status == "fail"
    # the named reason: the share of episodes meeting the command, far below what a pass needs
    found = re.search(r"(\d+)% at \+0", bad.detail)
    assert found, bad.detail
    share = float(found.group(1)) / 100
    assert share <= FOLLOWED - 0.3, bad.detail
    assert "healthy models fail it" in bad.detail  # the measured false-alarm rate, beside the verdict


# --- recall-rounds: the cache over long episodes and staggered resets ---


def trained_on_recall_rounds(tmp_path, seed: int = 0):
    """The unbroken DT trained on the recall-rounds rung until it passes (seed 0 passes at 1,536 steps)."""
    from lightup.training.trainer import Trainer

    rung = RUNG["recall-rounds"]
    config = rung_config(rung, seed, tmp_path / "recall-rounds", {}, reference=False)
    trainer = Trainer(config, policy=DTFactory())
    trainer.learn(rung.budget)
    return trainer


def test_a_cache_bug_past_the_context_or_at_a_staggered_reset_lowers_the_recall_rounds_score(tmp_path):
    """The same trained weights through our cache and through a broken one: only the cache differs, so the
    score it loses is the cache's doing."""
    trainer = trained_on_recall_rounds(tmp_path)
    try:
        assert trainer.solved_at is not None
        target = trainer.eval_target()
        scores = {}
        for name, cls in [("healthy", None), ("ring", CacheRingNeverWraps), ("reset", CacheResetClearsAll)]:
            policy = trainer.policy
            if cls is not None:
                policy = cls(trainer.policy.config)
                policy.load_state_dict(trainer.policy.state_dict())
                policy.eval()
            scores[name] = float(np.mean(trainer.run_episodes(trainer.eval_envs, target, policy=policy)))
        assert scores["healthy"] >= 0.9, scores
        assert scores["ring"] <= 0.7 and scores["reset"] <= 0.7, scores
    finally:
        trainer.close()


@pytest.mark.slow
@pytest.mark.parametrize("bug", [CacheRingNeverWraps, CacheResetClearsAll])
def test_recall_rounds_fails_a_cache_bug_that_only_long_episodes_or_staggered_resets_show(tmp_path, bug):
    rung = dataclasses.replace(RUNG["recall-rounds"], seeds=1)
    result = run_rung(rung, Subject(small(bug)), seeds=1, runs_dir=tmp_path)
    assert result.status == "fail"
    # the named reason: the last greedy evaluation below the rung's threshold
    last, limit = map(
        float, re.search(r"last greedy evaluation ([0-9.]+) < ([0-9.]+)", result.detail).groups()
    )
    assert last < limit, result.detail


# --- rungs of the other kind of actions ---


def test_a_policy_for_discrete_actions_only_skips_the_continuous_rungs_and_is_not_blamed(tmp_path):
    """Two GRUs made for discrete actions skip the continuous rungs with the reason; the stock DT, which
    plays both kinds, climbs them."""
    import sys
    from pathlib import Path

    from lightup.doctor.ladder import climb, other_kind

    sys.path.insert(0, str(Path(__file__).parents[1] / "examples"))
    from custom_policy import make_policy
    from user_policies import gru_factory

    rungs = [RUNG["continuous-target-action"], RUNG["continuous-obs-action"]]
    for factory in (make_policy, gru_factory):
        results = climb(Subject(factory, "user"), rungs, seeds=1, runs_dir=tmp_path)
        assert [r.status for r in results] == ["skipped", "skipped"], results
        assert "continuous-action policy" in results[0].detail, results[0].detail
    stock = Subject(DTFactory("stacked"), "dt")
    assert all(other_kind(r, stock) is None for r in RUNGS)
    assert other_kind(RUNG["press-size-2"], Subject(make_policy, "user")) is None
