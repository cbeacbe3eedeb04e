"""`lightup bench --suite`: a named suite's envs, budgets, thresholds and evaluation episodes, end to end on a
tiny suite, with the aggregate over envs and the return-following numbers in the summary."""

from __future__ import annotations

import json

import pytest

from lightup.bench.config import BenchConfig
from lightup.bench.suites import SUITES, SuiteEnv
from lightup.cli import main as lightup_main
from lightup.errors import LightupError


def test_the_general_suite_takes_the_zoo_budget_where_it_has_one_else_200k():
    budgets = {e.spec: e.budget for e in SUITES["general"]}
    assert budgets["CartPole-v1"] == 100_000 and budgets["LunarLander-v3"] == 1_000_000
    assert budgets["MountainCar-v0"] == 1_000_000 and budgets["minigrid:MiniGrid-DoorKey-5x5-v0"] == 100_000
    assert budgets["Taxi-v4"] == budgets["FrozenLake-v1"] == 200_000  # no zoo entry: 200k
    frozen = next(e for e in SUITES["general"] if e.spec == "FrozenLake-v1")
    assert frozen.eval_episodes == 100  # stochastic: enough episodes that the threshold is no coin flip
    config = BenchConfig(suite="general", agents=("dt-stacked",), seeds=1).with_suite()
    assert config.envs == tuple(e.spec for e in SUITES["general"])
    jobs = {j.env_id: j for j in config.jobs()}
    assert (jobs["LunarLander-v3"].budget, jobs["LunarLander-v3"].eval_every) == (1_000_000, 50_000)
    assert jobs["FrozenLake-v1"].eval_episodes == 100
    assert jobs["minigrid:MiniGrid-DoorKey-5x5-v0"].solved_at_return == 0.9  # the registry sets none
    capped = BenchConfig(suite="general", agents=("dt-stacked",), seeds=1, budget=5_000).with_suite()
    assert {j.budget for j in capped.jobs()} == {5_000}


def test_envs_given_with_a_suite_run_only_those_of_its_envs_on_its_settings():
    config = BenchConfig(suite="general", envs=("minigrid:MiniGrid-DoorKey-5x5-v0", "FrozenLake-v1"), seeds=1)
    jobs = {j.env_id: j for j in config.with_suite().jobs()}
    assert set(jobs) == {"minigrid:MiniGrid-DoorKey-5x5-v0", "FrozenLake-v1"}
    assert jobs["FrozenLake-v1"].eval_episodes == 100 and jobs["FrozenLake-v1"].budget == 200_000
    assert jobs["minigrid:MiniGrid-DoorKey-5x5-v0"].budget == 100_000
    with pytest.raises(LightupError, match=r"--envs 'Acrobot-v1' is not in suite general: name envs of"):
        BenchConfig(suite="general", envs=("Acrobot-v1",)).with_suite()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_tiny_suite_runs_end_to_end_beside_both_peers(tmp_path, monkeypatch):
    tiny = (
        SuiteEnv("lightup/PressButton-v0,size=4"),
        # a threshold below any return: solved at the first evaluation, on the suite's 30 episodes
        SuiteEnv("FrozenLake-v1", threshold=-1.0, eval_episodes=30),
    )
    monkeypatch.setitem(SUITES, "general", tiny)
    out = tmp_path / "suite"
    argv = ["bench", "--suite", "general", "--agents", "dt-stacked", "sb3-ppo", "sb3-dqn", "--seeds", "1"]
    argv += ["--budget", "256", "--workers", "1", "--bootstrap-reps", "50", "--quiet", "--out", str(out)]
    assert lightup_main(argv) == 0
    rows = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert len(rows) == 2 * 3
    for row in rows:
        assert row["budget"] == 256
        if row["env_id"] == "FrozenLake-v1":
            assert (row["threshold"], row["eval_episodes"], row["solved_at"]) == (
                -1.0,
                30,
                row["curve"][0][0],
            )
    dt = [r for r in rows if r["agent"] == "dt-stacked" and r["env_id"] == "lightup/PressButton-v0"][0]
    follow = dt["follow"]
    assert len(follow["points"]) == 5 and follow["low"] < follow["high"]
    assert [p["command"] for p in follow["points"]][0] == follow["low"]
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["probability_of_improvement"]) == {"dt-stacked > sb3-ppo", "dt-stacked > sb3-dqn"}
    summary = (out / "summary.md").read_text()
    assert "## Aggregate over envs (rliable)" in summary and "## Return following" in summary
    assert "where it sets its own: FrozenLake-v1 30 episodes, threshold -1.0." in summary
    assert "| lightup/PressButton-v0 size=4 | dt-stacked | 1 |" in summary.split("## Return following")[1]
