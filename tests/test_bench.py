"""lightup bench: statistics against hand-worked numbers, and tiny benches through the pool and Ray."""

from __future__ import annotations

import json
import math
import os
import re

import numpy as np
import pytest

from lightup.bench.config import BenchConfig
from lightup.bench.report import against_baseline
from lightup.bench.stats import (
    aggregate,
    iqm,
    median_to_solve,
    normalised_scores,
    probability_of_improvement,
    summarize_group,
)
from lightup.cli import main as lightup_main
from lightup.errors import LightupError

# A fixed table: 4 runs (rows) x 2 tasks (columns) of normalised scores for agents X and Y.
X = np.array([[0.0, 1.0], [0.5, 0.2], [1.0, 0.8], [0.3, 0.6]])
Y = np.array([[0.2, 0.9], [0.5, 0.9], [0.4, 0.9], [0.1, 0.9]])


def test_iqm_is_the_mean_of_the_middle_half():
    # sorted: 0 .2 .3 .5 .6 .8 1 1 -> drop two each side -> mean(.3, .5, .6, .8) = 0.55
    assert iqm(X) == pytest.approx(0.55)


def test_probability_of_improvement_counts_ties_as_half():
    # task 0: pairs with x > y: 0 + (3 + tie) + 4 + 2 = 9.5 of 16; task 1: only x = 1.0 beats 0.9: 4 of 16
    expected = (9.5 / 16 + 4 / 16) / 2
    assert probability_of_improvement(X, Y) == pytest.approx(expected)
    assert probability_of_improvement(Y, X) == pytest.approx(1 - expected)


def _row(agent, seed, solved_at, wall, final, env_id="CartPole-v1", threshold=475.0):
    return {
        "env_id": env_id,
        "env_options": [],
        "agent": agent,
        "seed": seed,
        "solved_at": solved_at,
        "wall_s_to_solve": wall,
        "final_eval": final,
        "threshold": threshold,
    }


RUNS = [
    _row("sb3-ppo", 0, 10_000, 5.0, 500.0),
    _row("sb3-ppo", 1, 30_000, 9.0, 480.0),
    _row("sb3-ppo", 2, None, None, 120.0),
    _row("dt-stacked", 0, 40_000, 30.0, 476.0),
    _row("dt-stacked", 1, 60_000, 20.0, 490.0),
    _row("dt-stacked", 2, 20_000, 10.0, 475.0),
]


def test_summary_counts_solved_runs_and_takes_medians():
    s = summarize_group(RUNS[:3])
    assert (s["solved"], s["runs"]) == (2, 3)
    assert s["fraction_solved"] == pytest.approx(2 / 3)
    assert s["steps_to_solve"] == (20_000, 10_000, 30_000)  # over the solved runs
    assert s["wall_to_solve"] == (7.0, 5.0, 9.0)
    assert s["final_return"] == 480.0
    assert s["median_steps_all"] == 30_000  # over all runs, the unsolved one as never


def test_median_to_solve_is_never_when_half_fail():
    assert median_to_solve([10, None]) == math.inf
    assert median_to_solve([10, 20, None]) == 20


def test_ratio_to_ppo_in_the_summary():
    lines = "\n".join(against_baseline(RUNS))
    # DT: median steps 40k against PPO's 30k, wall 20 s against 9 s
    assert "| dt-stacked | 40,000 | 1.33 | 20.0 | 2.22 | no |" in lines


def test_every_env_with_ppo_and_a_dt_gets_its_ratios():
    lunar = [
        _row("sb3-ppo", 0, 500_000, 400.0, 230.0, "LunarLander-v3", 200.0),
        _row("dt-stacked", 0, 250_000, 600.0, 210.0, "LunarLander-v3", 200.0),
        _row("mlp", 0, 100_000, 50.0, 220.0, "Acrobot-v1", -100.0),  # no PPO there: no table
        _row("sb3-ppo", 0, None, None, 0.5, "lightup/RecallButton-v0", 0.9),
        _row("dt-stacked", 0, 4_096, 13.8, 1.0, "lightup/RecallButton-v0", 0.9),
    ]
    text = "\n".join(against_baseline(RUNS + lunar))
    assert "## CartPole-v1: Decision Transformer against sb3-ppo" in text
    assert "## LunarLander-v3: Decision Transformer against sb3-ppo" in text
    assert "| dt-stacked | 250,000 | 0.50 | 600.0 | 1.50 | steps |" in text
    assert "Acrobot" not in text
    assert "| dt-stacked | 4,096 | PPO never solved | 13.8 | PPO never solved | steps, wall time |" in text


def test_normalised_scores_put_random_at_0_and_threshold_at_1():
    scores = normalised_scores(RUNS, ["sb3-ppo", "dt-stacked"], ["CartPole-v1"], {"CartPole-v1": 25.0})
    assert scores["sb3-ppo"].shape == (3, 1)
    np.testing.assert_allclose(
        scores["sb3-ppo"][:, 0], [(500 - 25) / 450, (480 - 25) / 450, (120 - 25) / 450]
    )


def test_aggregate_intervals_hold_the_point_and_repeat():
    a = aggregate({"dt-stacked": X, "sb3-ppo": Y}, reps=300)
    b = aggregate({"dt-stacked": X, "sb3-ppo": Y}, reps=300)
    assert a["iqm"]["dt-stacked"]["point"] == pytest.approx(0.55)
    low, high = a["iqm"]["dt-stacked"]["ci"]
    assert low <= 0.55 <= high
    poi = a["probability_of_improvement"]["dt-stacked > sb3-ppo"]
    assert poi["point"] == pytest.approx((9.5 / 16 + 4 / 16) / 2)
    assert a["iqm"] == b["iqm"]
    assert len(a["profile"]["dt-stacked"]["fraction"]) == len(a["profile"]["taus"])


def test_performance_profile_is_the_fraction_of_runs_above_each_score():
    # X's 8 scores: 0 .2 .3 .5 .6 .8 1 1; Y's: .1 .2 .4 .5 .9 .9 .9 .9 (rliable counts scores > tau)
    taus = np.array([0.0, 0.25, 0.5, 0.85, 1.0])
    profile = aggregate({"dt-stacked": X, "sb3-ppo": Y}, reps=50, taus=taus)["profile"]
    assert profile["taus"] == taus.tolist()
    assert profile["dt-stacked"]["fraction"] == pytest.approx([7 / 8, 6 / 8, 4 / 8, 2 / 8, 0])
    assert profile["sb3-ppo"]["fraction"] == pytest.approx([1, 6 / 8, 4 / 8, 4 / 8, 0])


def _check_results(out, agents, seeds):
    rows = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert sorted((r["agent"], r["seed"]) for r in rows) == sorted(
        (a, s) for a in agents for s in range(seeds)
    )
    for r in rows:
        assert r["curve"], "every run is evaluated at least once"
        assert r["steps"] >= r["curve"][-1][0]
        assert r["worker"].split(":")[-1] != str(os.getpid()), "runs execute outside this process"
    summary = (out / "summary.md").read_text()
    for agent in agents:
        assert f"| lightup/PressButton-v0 | {agent} | " in summary
    stats = json.loads((out / "stats.json").read_text())
    assert set(stats["iqm"]) == set(agents)
    assert (out / "performance_profile.png").stat().st_size > 0
    assert (out / "curves.png").stat().st_size > 0 and "![learning curves](curves.png)" in summary
    return rows


def test_tiny_bench_through_the_local_pool(tmp_path):
    config = BenchConfig(
        envs=("lightup/PressButton-v0",),
        agents=("dt-stacked", "sb3-ppo"),
        seeds=2,
        budget=512,
        eval_every=512,
        out=str(tmp_path / "bench"),
        workers=2,
        bootstrap_reps=200,
        quiet=True,
    )
    from lightup.bench.cli import run_bench

    out = run_bench(config)
    rows = _check_results(out, ["dt-stacked", "sb3-ppo"], 2)
    assert "dt-stacked > sb3-ppo" in (out / "summary.md").read_text()
    assert all(r["budget"] == 512 for r in rows)


def test_set_reaches_the_trainer_s_runs_only_and_is_checked_before_any_run(tmp_path, capsys):
    """--set explore_share=0: the DT's jobs carry it (and a run's row keeps it, so --resume tells runs with
    other switches apart); SB3's jobs do not; an unknown field or a value out of range is a one-line error."""
    config = BenchConfig(
        envs=("CartPole-v1",), agents=("dt-stacked", "sb3-ppo"), seeds=1, set=("explore_share=0", "n_envs=4")
    )
    jobs = {job.agent: job for job in config.jobs()}
    assert jobs["dt-stacked"].overrides == (("explore_share", 0), ("n_envs", 4))
    assert jobs["sb3-ppo"].overrides == ()
    for bad, message in (
        ("explore_sharing=0", "TrainConfig has no field 'explore_sharing'"),
        ("explore_share=2", "--explore-share must be a finite number >= 0 and <= 1, got 2"),
        ("explore_share", "--set takes FIELD=VALUE"),
    ):
        out = tmp_path / bad
        argv = ["bench", "--envs", "CartPole-v1", "--agents", "dt-stacked", "--set", bad, "--out", str(out)]
        assert lightup_main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], lines
        assert not out.exists()


def test_env_options_after_commas_make_their_own_task(tmp_path):
    from lightup.bench.cli import run_bench

    config = BenchConfig(
        envs=("lightup/PressButton-v0", "lightup/PressButton-v0,size=3,game_length=2"),
        agents=("mlp",),
        seeds=1,
        budget=256,
        eval_every=256,
        out=str(tmp_path / "bench"),
        workers=2,
        bootstrap_reps=50,
        quiet=True,
    )
    out = run_bench(config)
    rows = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert sorted(tuple(r["env_options"]) for r in rows) == [(), ("size=3", "game_length=2")]
    summary = (out / "summary.md").read_text()
    assert "| lightup/PressButton-v0 | mlp | " in summary
    assert "| lightup/PressButton-v0 size=3 game_length=2 | mlp | " in summary
    # random play scores game_length / size on average: its own value per task, not the plain game's
    random_returns = json.loads((out / "stats.json").read_text())["random_returns"]
    assert set(random_returns) == {"lightup/PressButton-v0", "lightup/PressButton-v0 size=3 game_length=2"}
    assert random_returns["lightup/PressButton-v0 size=3 game_length=2"] < 1.5


def test_report_writes_a_finished_folder_again_keeping_its_header_and_notes(finished_bench, tmp_path):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    before = (folder / "summary.md").read_text()
    (folder / "summary.md").write_text(before.replace("| mlp |", "| stale |"))
    (folder / "curves.png").unlink()
    assert lightup_main(["bench", "--report", str(folder), "--quiet"]) == 0
    after = (folder / "summary.md").read_text()
    assert after == before  # the same runs give the same tables; the header and the note are kept
    assert "`lightup bench --the-command-it-ran` on " in after and after.endswith("A note by hand.\n")
    assert (folder / "curves.png").stat().st_size > 0
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: (d / "runs.jsonl").unlink(), "has no runs.jsonl: --report needs the folder of a finished"),
        (lambda d: (d / "summary.md").unlink(), "has no summary.md"),
        (lambda d: (d / "config.json").write_text("{not json"), "does not hold lightup bench results"),
        (lambda d: (d / "config.json").write_text('{"colour": 1}'), "does not hold lightup bench results"),
        (lambda d: (d / "runs.jsonl").write_text('{"seed": 0}\n'), "does not hold lightup bench results"),
        (
            lambda d: (d / "runs.jsonl").write_text((d / "runs.jsonl").read_text().splitlines()[0] + "\n"),
            "holds 1 of the 2 runs its config.json names (an interrupted bench?); finish it with --resume",
        ),
    ],
)
def test_report_refuses_a_folder_that_is_not_a_finished_bench_in_one_line(
    finished_bench, tmp_path, damage, message, capsys
):
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    damage(folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert lightup_main(["bench", "--report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files  # nothing written


def _finished_config(folder, **changes) -> BenchConfig:
    import dataclasses

    from lightup.bench.cli import load_config

    return dataclasses.replace(load_config(folder / "config.json"), out=str(folder), **changes)


def test_resume_runs_only_what_the_folder_lacks(finished_bench, tmp_path):
    """An interrupted bench (its last row cut short) and then more seeds: the finished runs are kept as they
    are, the missing ones run, and the summary covers all of them."""
    import shutil

    from lightup.bench.cli import run_bench

    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    first, second = (folder / "runs.jsonl").read_text().splitlines()
    (folder / "runs.jsonl").write_text(first + "\n" + second[:40])  # killed while writing the second row
    run_bench(_finished_config(folder, resume=True, seeds=3))
    rows = [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["seed"] for r in rows) == [0, 1, 2]
    kept, cut = json.loads(first), json.loads(second)  # rows in the order the runs finished
    assert rows[0] == kept  # kept as it was, not run again
    again = {r["seed"]: r for r in rows}[cut["seed"]]
    assert again["worker"] != cut["worker"]  # run again, in this bench's pool
    assert {k: v for k, v in again.items() if k not in WALL_CLOCK} == {
        k: v for k, v in cut.items() if k not in WALL_CLOCK
    }  # and the same run
    summary = (folder / "summary.md").read_text()
    assert "| lightup/PressButton-v0 | mlp | " in summary and "mlp 3" in summary
    assert "Resumed: 2 runs here, 1 kept from before" in summary
    assert summary.endswith("\n## This run\n\nA note by hand.\n")  # the earlier part's note is kept
    assert json.loads((folder / "config.json").read_text())["seeds"] == 3


def test_resume_keeps_notes_whose_bytes_are_not_utf8(finished_bench, tmp_path):
    """A summary.md edited with another encoding: --resume and --report neither stop on it nor drop the
    note."""
    import shutil

    from lightup.bench.cli import run_bench

    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    with open(folder / "summary.md", "ab") as f:
        f.write("Seeds 0 and 1, caf\u00e9 au lait.\n".encode("latin-1"))
    run_bench(_finished_config(folder, resume=True))  # nothing left to run: the summary is written again
    summary = (folder / "summary.md").read_text()
    assert summary.endswith("A note by hand.\nSeeds 0 and 1, caf\ufffd au lait.\n")
    with open(folder / "summary.md", "ab") as f:  # and --report, which keeps the header too
        f.write("caf\u00e9 again.\n".encode("latin-1"))
    assert lightup_main(["bench", "--report", str(folder), "--quiet"]) == 0
    assert (folder / "summary.md").read_text().endswith("caf\ufffd au lait.\ncaf\ufffd again.\n")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"budget": 512}, "holds 2 runs these flags do not name (e.g. mlp on lightup/PressButton-v0, seed "),
        ({"seeds": 1}, "holds 1 runs these flags do not name (e.g. mlp on lightup/PressButton-v0, seed 1"),
        ({"resume": False}, "already holds bench results; remove it, pick another --out, or add --resume"),
    ],
)
def test_resume_refuses_runs_the_flags_do_not_name(finished_bench, tmp_path, changes, message):
    import shutil

    from lightup.bench.cli import run_bench

    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(LightupError, match=re.escape(message)):
        run_bench(_finished_config(folder, **{"resume": True, **changes}))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def _first_row_with(folder, **fields) -> str:
    return json.dumps({**json.loads((folder / "runs.jsonl").read_text().splitlines()[0]), **fields})


@pytest.mark.parametrize(
    "lines, message",
    [
        (lambda d: "not json at all\n", "is not a lightup bench's runs.jsonl (JSONDecodeError"),
        (lambda d: "not json\n" + _first_row_with(d)[:30], "is not a lightup bench's runs.jsonl (JSONDec"),
        (lambda d: _first_row_with(d) + "\n\n", "is not a lightup bench's runs.jsonl (JSONDecodeError"),
        (lambda d: "[0, 1]\n", "is not a lightup bench's runs.jsonl (TypeError"),
        (lambda d: '{"seed": 0}\n', "is not a lightup bench's runs.jsonl (KeyError"),
        (
            lambda d: _first_row_with(d, budget="lots") + "\n",
            "holds 1 runs these flags do not name (e.g. mlp on lightup/PressButton-v0, seed *, budget lots)",
        ),
        (
            lambda d: _first_row_with(d, env_options=5) + "\n" + _first_row_with(d)[:30],
            "holds 1 runs these flags do not name (e.g. mlp on lightup/PressButton-v0, seed *, budget 256)",
        ),
    ],
)
def test_resume_refuses_a_runs_file_with_lines_that_are_not_its_runs_in_one_line(
    finished_bench, tmp_path, lines, message, capsys
):
    """Whole lines that are not rows of this bench; a last line cut short (which alone would be dropped) is
    kept too when the rest is refused."""
    import shutil

    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    (folder / "runs.jsonl").write_text(lines(folder))
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    argv = ["bench", "--envs", "lightup/PressButton-v0", "--agents", "mlp", "--seeds", "2", "--budget", "256"]
    assert lightup_main([*argv, "--eval-every", "256", "--out", str(folder), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err
    # The first row is whichever seed finished first: "*" stands for its number.
    assert err.startswith("error: ") and err.count("\n") == 1
    assert re.search(re.escape(message).replace(r"\*", r"\d"), err)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files  # nothing written


def test_resume_needs_a_folder_with_runs(tmp_path, capsys):
    argv = ["bench", "--envs", "lightup/PressButton-v0", "--agents", "mlp", "--out", str(tmp_path / "x")]
    assert lightup_main([*argv, "--resume"]) == 2
    err = capsys.readouterr().err
    assert "holds no runs.jsonl; drop --resume to start a bench there" in err and err.count("\n") == 1
    assert not (tmp_path / "x").exists()


def test_tiny_bench_through_ray_on_loopback(tmp_path):
    ray = pytest.importorskip("ray")  # the dev extra installs Ray: this runs in CI
    from lightup.bench.cli import run_bench

    ray.init(num_cpus=2, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False)
    try:
        config = BenchConfig(
            envs=("lightup/PressButton-v0",),
            agents=("sb3-dqn",),
            seeds=2,
            budget=1000,
            eval_every=500,
            out=str(tmp_path / "bench"),
            ray="auto",
            bootstrap_reps=200,
            quiet=True,
        )
        out = run_bench(config)
        assert ray.is_initialized(), "a Ray instance the caller started is left running"
    finally:
        ray.shutdown()
    _check_results(out, ["sb3-dqn"], 2)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--envs", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
        (["--agents", "ppo"], "unknown agent 'ppo'; choose from: dt-stacked"),
        (["--seeds", "0"], "--seeds must be an integer from 1 to 10000, got 0"),
        (["--envs", "Pendulum-v1", "--agents", "sb3-dqn"], "sb3-dqn plays Discrete action spaces only"),
        (["--envs", "CartPole-v1", "--agents", "sb3-sac"], "sb3-sac plays Box action spaces only"),
        (["--envs", "user_envs:UserUnbounded-v0"], "has an unbounded Box action space"),
        (["--agent-seeds", "sb3-dqn=2"], "--agent-seeds 'sb3-dqn=2' must look like AGENT=N"),
        (["--envs", "lightup/PressButton-v0,size"], "option 'size' must look like name=value"),
        (["--envs", "lightup/PressButton-v0,colour=red"], "colour"),
    ],
)
def test_bench_user_errors_are_one_line(argv, message, capsys):
    assert lightup_main(["bench", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_a_missing_extra_says_what_to_install(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "stable_baselines3" else real(name, *a)
    )
    with pytest.raises(LightupError, match=r'pip install -e "\.\[bench\]"'):
        BenchConfig(envs=("CartPole-v1",), agents=("sb3-ppo",)).validate()


def test_default_budgets_follow_the_trainers_recipe():
    config = BenchConfig()
    assert config.budget_of("CartPole-v1") == (100_000, 5_000)
    assert config.budget_of("lightup/PressButton-v0") == (100_000, 5_000)  # one recipe, whatever the env
    assert BenchConfig(budget=20_000).budget_of("CartPole-v1") == (20_000, 1_000)
    assert len(config.jobs()) == 10 * 2 * 3
    fewer = BenchConfig(envs=("CartPole-v1",), agents=("sb3-ppo", "sb3-dqn"), agent_seeds=("sb3-dqn=3",))
    assert [j.agent for j in fewer.jobs()].count("sb3-dqn") == 3
    assert [j.agent for j in fewer.jobs()].count("sb3-ppo") == 10


# What a bench run's row may differ in between two runs of the same job: where and how long it ran.
WALL_CLOCK = ("wall_s", "wall_s_to_solve", "worker")


def test_the_same_seeds_give_the_same_bench_results(tmp_path):
    """Determinism on CPU for bench runs: the same bench twice, into two folders, gives every run the same
    row (curve, steps, solved_at, final weights' digest; wall-clock fields aside) and the same statistics;
    a different seed gives a different run."""
    agents = ["dt-stacked", "sb3-ppo"]

    def bench(name):
        argv = ["bench", "--envs", "lightup/PressButton-v0", "--agents", *agents, "--seeds", "2"]
        argv += ["--budget", "512", "--eval-every", "256", "--eval-episodes", "5", "--workers", "2"]
        argv += ["--bootstrap-reps", "100", "--quiet", "--out", str(tmp_path / name)]
        assert lightup_main(argv) == 0
        rows = [json.loads(line) for line in (tmp_path / name / "runs.jsonl").read_text().splitlines()]
        # rows arrive as runs finish, in any order: key them by job
        by_job = {(r["agent"], r["seed"]): {k: v for k, v in r.items() if k not in WALL_CLOCK} for r in rows}
        stats = json.loads((tmp_path / name / "stats.json").read_text())
        return by_job, stats

    first, first_stats = bench("a")
    second, second_stats = bench("b")
    assert sorted(first) == sorted(second) == sorted((a, s) for a in agents for s in range(2))
    for job, row in first.items():
        assert row["curve"] and row["weights_sha256"], job
        assert row == second[job], f"{job} differs between two benches with the same seeds"
    assert first_stats == second_stats
    for agent in agents:  # another seed, another run: other initial weights, so other final ones
        assert first[(agent, 0)]["weights_sha256"] != first[(agent, 1)]["weights_sha256"], agent


def _learning_benchmark(monkeypatch):
    """benchmarks/learning.py as a module."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).parent.parent / "benchmarks" / "learning.py"
    spec = importlib.util.spec_from_file_location("learning_benchmark", path)
    learning = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, learning)  # its dataclasses look their module up there
    spec.loader.exec_module(learning)
    return learning


def test_learning_benchmark_runs_are_the_bench_runs_with_its_overrides_on_top(monkeypatch):
    from lightup.bench.runs import Job, run_job

    learning = _learning_benchmark(monkeypatch)
    # a game no run solves within the budget: each ends at it, after the commands differ
    case = learning.Case(
        "tiny", "lightup/PressButton-v0", 1024, ("size=4", "game_length=5", "hard_mode=true")
    )
    trained = learning.run_one((case, "dt-stacked", 0, {}))
    frozen = learning.run_one((case, "dt-stacked", 0, {"updates_per_round": 0}))
    assert (trained["case"], trained["overrides"]) == ("tiny", {})
    assert frozen["overrides"] == {"updates_per_round": 0}
    assert frozen["steps"] == 1024 and trained["steps"] <= 1024  # trained may stop at the threshold
    assert frozen["weights_sha256"] != trained["weights_sha256"]  # the override reached the trainer
    eval_every = BenchConfig(budget=1024).budget_of("lightup/PressButton-v0")[1]
    bench = run_job(
        Job(
            "lightup/PressButton-v0",
            "dt-stacked",
            0,
            1024,
            eval_every,
            ("size=4", "game_length=5", "hard_mode=true"),
        )
    )
    assert bench["weights_sha256"] == trained["weights_sha256"]  # the bench's run, weight for weight
    fixed = learning.run_one((case, "dt-stacked", 0, {"command.kind": "fixed", "command.value": 0.0}))
    assert fixed["overrides"] == {"command.kind": "fixed", "command.value": 0.0}
    assert fixed["weights_sha256"] != trained["weights_sha256"]  # the command's fields reached the trainer


def test_learning_benchmark_refuses_a_bad_override_in_one_line_before_any_run(monkeypatch):
    learning = _learning_benchmark(monkeypatch)
    assert learning.parse_override("updates_per_round=64") == ("updates_per_round", 64)
    assert learning.parse_override("layout=interleaved") == ("layout", "interleaved")
    assert learning.parse_override("command.kind=topk") == ("command.kind", "topk")
    # a switch as `lightup train` spells it, and as JSON does
    assert learning.parse_override("value_select=False") == ("value_select", False)
    assert learning.parse_override("overlap=true") == ("overlap", True)
    for bad, message in [
        ("updates_per_round", "FIELD=VALUE"),
        ("no_such_field=1", "no field 'no_such_field'"),
        ("command.no_such_field=1", "no field 'command.no_such_field'"),
        ("command.kind=median", "command.kind must be one of"),
        ("command.k=0", "command.k must be an integer from 1 to"),
        ("updates_per_round=-1", "updates-per-round must be an integer from 0 to"),
        ("lr=2", "lr must be a finite number > 0 and < 1, got 2"),
        ("overlap=yes", "overlap must be one of True, False, got 'yes'"),
    ]:
        with pytest.raises(SystemExit, match=message) as err:
            learning.parse_override(bad)
        assert "\n" not in str(err.value)
