"""One report over the general suite from the bench folders that ran its parts.

The suite's runs come from several `lightup bench` folders (each env run at its own budget, the peers and
the DT in separate benches); `lightup bench --report` rewrites one folder only. This takes, for each env
and agent, seeds 0 to 9 from the folder listed for it and writes the bench's own report (per-env table,
rliable aggregate and probability of improvement, return following) over all of them into one folder:

    python benchmarks/merge_suite.py benchmarks/results/bench_suite_general_merged

Nothing is run; every figure is a row of a committed folder, named in the summary.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lightup.bench.report import write_report
from lightup.bench.runs import random_return
from lightup.bench.stats import task_name

RESULTS = Path(__file__).parent / "results"
SEEDS = range(10)
GAMES20K = ("lightup/PressButton-v0", "lightup/PressButton-v0 size=4", "lightup/RecallButton-v0")
GAMES50K = ("lightup/PressButton-v0 game_length=5", "lightup/PressButton-v0 game_length=5 hard_mode=true")

# (task, agent) -> the folder its runs come from. The DT's rows are the default recipe's (bench_fast_* and
# bench_LunarLander-v3_dt_vs_ppo_fast; on the envs of finite observations, FrozenLake-v1 and Taxi-v4, with
# the best action's value: bench_best_*).
SOURCES: dict[tuple[str, str], str] = {
    **{(t, "dt-stacked"): "bench_fast_games20k" for t in GAMES20K},
    **{(t, "dt-stacked"): "bench_fast_games50k" for t in GAMES50K},
    **{(t, "sb3-ppo"): "bench_games_20k" for t in GAMES20K},
    **{(t, "sb3-ppo"): "bench_games_50k" for t in GAMES50K},
    **{(t, "sb3-dqn"): "bench_suite_dqn_games20k" for t in GAMES20K},
    **{(t, "sb3-dqn"): "bench_suite_dqn_games50k" for t in GAMES50K},
    ("CartPole-v1", "dt-stacked"): "bench_fast_classic",
    ("CartPole-v1", "sb3-ppo"): "bench_CartPole-v1_dt_vs_ppo",
    ("CartPole-v1", "sb3-dqn"): "bench_suite_dqn_cartpole",
    ("MountainCar-v0", "dt-stacked"): "bench_fast_mountaincar1m",
    ("MountainCar-v0", "sb3-ppo"): "bench_peers_ppo_zoo_mountaincar",
    ("MountainCar-v0", "sb3-dqn"): "bench_peers_dqn_zoo_mountaincar",
    ("Taxi-v4", "dt-stacked"): "bench_best_taxi",
    ("Taxi-v4", "sb3-ppo"): "bench_peers_taxi",
    ("Taxi-v4", "sb3-dqn"): "bench_peers_taxi",
    ("FrozenLake-v1", "dt-stacked"): "bench_best_frozenlake",
    ("FrozenLake-v1", "sb3-ppo"): "bench_peers_frozenlake",
    ("FrozenLake-v1", "sb3-dqn"): "bench_peers_frozenlake",
    ("minigrid:MiniGrid-DoorKey-5x5-v0", "dt-stacked"): "bench_fast_doorkey100k",
    ("minigrid:MiniGrid-DoorKey-5x5-v0", "sb3-ppo"): "bench_peers_ppo_zoo_doorkey",
    ("minigrid:MiniGrid-DoorKey-5x5-v0", "sb3-dqn"): "bench_suite_dqn_doorkey100k",
    ("LunarLander-v3", "dt-stacked"): "bench_LunarLander-v3_dt_vs_ppo_fast",
    ("LunarLander-v3", "sb3-ppo"): "bench_LunarLander-v3_dt_vs_ppo_fast",
    ("LunarLander-v3", "sb3-dqn"): "bench_suite_dqn_lunar",
}


def gather() -> list[dict]:
    """The rows of every (task, agent) of `SOURCES`, seeds 0 to 9, in the table's order."""
    rows = []
    for (task, agent), folder in SOURCES.items():
        lines = (RESULTS / folder / "runs.jsonl").read_text().splitlines()
        found = [r for r in map(json.loads, lines) if task_name(r) == task and r["agent"] == agent]
        picked = sorted((r for r in found if r["seed"] in SEEDS), key=lambda r: r["seed"])
        if [r["seed"] for r in picked] != list(SEEDS):
            missing = sorted(set(SEEDS) - {r["seed"] for r in picked})
            raise SystemExit(f"{folder}: {agent} on {task} lacks seeds {missing}")
        rows += picked
    return rows


def write_merged(out: Path, rows: list[dict], scope: str) -> None:
    """One report of ``rows`` into ``out``; ``scope`` says which envs and agents it holds."""
    tasks = list(dict.fromkeys(task_name(r) for r in rows))
    first = {task_name(r): r for r in rows}
    random_returns = {
        t: random_return(
            first[t]["env_id"], tuple(first[t].get("env_options") or ()), first[t]["eval_episodes"]
        )
        for t in tasks
    }
    used = {(task_name(r), r["agent"]) for r in rows}
    sources = "; ".join(
        f"{agent} on {task}: {folder}" for (task, agent), folder in SOURCES.items() if (task, agent) in used
    )
    header = [
        "# Bench: the general suite, merged from its parts",
        "",
        f"`python benchmarks/merge_suite.py`: seeds 0 to 9 of each env and agent, taken from the "
        "committed bench folders below (nothing run here; each folder's summary names its command, machine "
        f"and code). {scope} Budgets are each folder's, the suite's (the RL Zoo's PPO budget where it has "
        "one, else 200k): the games 20k (PressButton size 2 and 4, RecallButton) and 50k (game_length 5, "
        "both modes), CartPole-v1 100k, MountainCar-v0 and LunarLander-v3 1M, MiniGrid-DoorKey-5x5-v0 "
        "100k, Taxi-v4 and FrozenLake-v1 200k, except DQN's MountainCar-v0 runs, 200k (8 of 10 solved "
        "there); evaluation greedy, 20 episodes (FrozenLake-v1 100) every twentieth of the budget, every "
        "10k env steps on MountainCar-v0 and DoorKey; a run stops at the first evaluation that reaches the "
        "threshold. PPO takes the zoo's settings on CartPole-v1, MountainCar-v0, LunarLander-v3 "
        "and DoorKey (with its observation normalisation), lightup's fallback elsewhere. "
        "The DT's rows are the default's (16 updates of 128 windows a round, fused optimizer kernels; on "
        "FrozenLake-v1 and Taxi-v4, whose observations are finite, with the best action's value). "
        "Each folder ran at its own time and load: wall times, and the "
        "wall-time ratios of the per-env tables below, compare runs of different benches and mean little "
        "here; env steps and returns are what this report is for.",
        "",
        f"Sources: {sources}.",
        "",
    ]
    out.mkdir(parents=True, exist_ok=True)
    (out / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    write_report(out, rows, header, random_returns, reps=2000)
    print(out / "summary.md")


def main(out: Path) -> None:
    write_merged(out, gather(), "Every agent over every env of the suite.")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS / "bench_suite_general_merged")
