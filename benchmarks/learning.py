"""The learning benchmark: env steps and wall time to the reward threshold, over many seeds.

Each run is a run of `lightup bench` (`lightup.bench.runs.run_job`): it trains from scratch with the trainer's
default recipe (plus ``--set`` overrides, e.g. ``--set preset=cartpole``), evaluates greedily on 20 fixed-seed
episodes every ``eval_every`` env steps, and stops at the threshold. Runs go to a local process pool, one
torch thread each.

    python benchmarks/learning.py --suite games --seeds 10          # the diagnostic games
    python benchmarks/learning.py --suite cartpole --seeds 10        # CartPole-v1, 100k steps
    python benchmarks/learning.py --suite lunar --seeds 2            # LunarLander-v3, 1M steps

Results: ``benchmarks/results/learning_<suite>.md`` (summary) and ``.jsonl`` (one line per run).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from lightup.bench.runs import TRAINER_AGENTS

RESULTS = Path(__file__).parent / "results"


@dataclass
class Case:
    name: str
    env_id: str
    budget: int
    options: tuple[str, ...] = ()
    flags: dict = field(default_factory=dict)


GAMES = [
    Case("PressButton size 2", "lightup/PressButton-v0", 20_000),
    Case("PressButton size 4", "lightup/PressButton-v0", 20_000, ("size=4",)),
    Case("PressButton game_length 5", "lightup/PressButton-v0", 50_000, ("game_length=5",)),
    Case(
        "PressButton hard mode (length 5)",
        "lightup/PressButton-v0",
        50_000,
        ("game_length=5", "hard_mode=true"),
    ),
    Case("RecallButton", "lightup/RecallButton-v0", 20_000),
]
SUITES = {
    "games": GAMES,
    "cartpole": [Case("CartPole-v1", "CartPole-v1", 100_000)],
    "lunar": [Case("LunarLander-v3", "LunarLander-v3", 1_000_000)],
}
AGENTS = TRAINER_AGENTS  # the trainer's agents of `lightup bench`


def run_one(job: tuple[Case, str, int, dict]) -> dict:
    """One run, as `lightup bench` runs it (`lightup.bench.runs.run_job`), with the case's flags and the
    ``--set`` overrides on top."""
    import torch

    from lightup.bench.config import BenchConfig
    from lightup.bench.runs import Job, run_job

    case, agent, seed, overrides = job
    overrides = {**case.flags, **overrides}
    _, eval_every = BenchConfig(budget=case.budget).budget_of(case.env_id)  # a twentieth of the budget
    row = run_job(
        Job(
            case.env_id,
            agent,
            seed,
            case.budget,
            eval_every,
            case.options,
            overrides=tuple(overrides.items()),
        )
    )
    machine = f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    return {
        **row,
        "case": case.name,
        "options": list(case.options),
        "overrides": overrides,
        "machine": machine,
    }


def parse_override(item: str) -> tuple[str, object]:
    """``updates_per_round=64`` -> ("updates_per_round", 64) (`lightup.training.config.parse_override`); a
    bad one stops here in one line, before any run starts."""
    from lightup.errors import LightupError
    from lightup.training.config import parse_override as parse

    try:
        return parse(item)
    except LightupError as err:
        raise SystemExit(str(err)) from None


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:,.0f}"
    return f"{statistics.median(values):,.0f} ({min(values):,.0f} to {max(values):,.0f})"


def summarize(rows: list[dict], header: str) -> str:
    lines = [
        header,
        "",
        "| env | agent | solved | env steps to threshold, median (min to max) | wall s to threshold | "
        "final greedy return, median (min to max) |",
        "|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["case"], r["agent"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for case, agent in keys:
        group = [r for r in rows if r["case"] == case and r["agent"] == agent]
        solved = [r for r in group if r["solved_at"] is not None]
        lines.append(
            f"| {case} | {agent} | {len(solved)}/{len(group)} | {spread([r['solved_at'] for r in solved])} | "
            f"{spread([r['wall_s_to_solve'] for r in solved])} | "
            f"{spread([r['final_eval'] for r in group if r['final_eval'] is not None])} |"
        )
    lines.append("")
    lines.append(
        "Unsolved runs count as not reaching the threshold within the budget; their steps are not in the "
        "median. Greedy evaluation: 20 episodes on fixed seeds, commanded the best stored return."
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="games")
    parser.add_argument(
        "--agents", nargs="+", choices=sorted(AGENTS), default=["dt-stacked", "dt-interleaved"]
    )
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="FIELD=VALUE",
        help="TrainConfig fields to override in every run, e.g. --set updates_per_round=64",
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--out", default=None, help="results name (default: learning_<suite>)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS, help="where the .md and .jsonl go")
    parser.add_argument(
        "--summarize", action="store_true", help="only rewrite the .md from the runs already in the .jsonl"
    )
    args = parser.parse_args()
    if args.summarize:
        name = args.out or f"learning_{args.suite}"
        lines = (args.results_dir / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line.strip()]
        header = (
            f"# Learning benchmark: {args.suite}\n\nSummary of the {len(rows)} runs finished (`--summarize`)."
        )
        (args.results_dir / f"{name}.md").write_text(summarize(rows, header) + "\n")
        print(summarize(rows, header))
        return
    # Seed-major order: a run cut short still covers every case and agent on its first seeds.
    overrides = dict(parse_override(item) for item in args.set)
    jobs = [
        (case, agent, seed, overrides)
        for seed in range(args.first_seed, args.first_seed + args.seeds)
        for case in SUITES[args.suite]
        for agent in args.agents
    ]
    args.results_dir.mkdir(parents=True, exist_ok=True)
    name = args.out or f"learning_{args.suite}"
    rows = []
    with ProcessPoolExecutor(args.workers) as pool, open(args.results_dir / f"{name}.jsonl", "w") as raw:
        for future in as_completed([pool.submit(run_one, job) for job in jobs]):
            row = future.result()
            rows.append(row)
            raw.write(json.dumps(row) + "\n")
            raw.flush()
            print(
                f"{row['case']:<34} {row['agent']:<15} seed {row['seed']}: solved_at {row['solved_at']} "
                f"final {row['final_eval']} ({row['wall_s']:.0f}s)",
                flush=True,
            )
    command = "python benchmarks/learning.py " + " ".join(
        [f"--suite {args.suite}", f"--seeds {args.seeds}", "--agents " + " ".join(args.agents)]
        + ([f"--first-seed {args.first_seed}"] if args.first_seed else [])
        + (["--set " + " ".join(args.set)] if args.set else [])
    )
    header = (
        f"# Learning benchmark: {args.suite}\n\n`{command}` on {date.today()}, "
        f"{platform.machine()} with {os.cpu_count()} cores, {args.workers} runs at a time, "
        "one torch thread each (a shared machine: wall times are noisy)."
    )
    (args.results_dir / f"{name}.md").write_text(summarize(rows, header) + "\n")
    print(summarize(rows, header))


if __name__ == "__main__":
    main()
