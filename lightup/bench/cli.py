"""`lightup bench`: agents x envs x seeds, run locally or on Ray, written to a results folder.

lightup bench --envs CartPole-v1 lightup/PressButton-v0 --agents dt-stacked sb3-ppo --seeds 10
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from datetime import date
from pathlib import Path

from lightup.args import parse_config
from lightup.bench.config import BenchConfig, split_env
from lightup.bench.execute import run_local, run_ray
from lightup.bench.report import write_report
from lightup.bench.runs import random_return
from lightup.bench.stats import task_name, task_of
from lightup.errors import LightupError


def parse(argv: list[str]) -> BenchConfig:
    config = parse_config(BenchConfig, argv, "bench")
    config.validate()
    return config


def run_bench(config: BenchConfig, command: str | None = None) -> Path:
    """Run every job, streaming rows to runs.jsonl, then write the summary and statistics."""
    config.validate()
    out = config.out_dir
    if (out / "runs.jsonl").exists():
        raise LightupError(f"{str(out)!r} already holds bench results; remove it or pick another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(dataclasses.asdict(config), indent=2) + "\n")
    jobs = config.jobs()
    log = (lambda *a: None) if config.quiet else (lambda *a: print(*a, flush=True))
    where = f"Ray ({config.ray})" if config.ray else f"a local pool of {min(config.n_workers, len(jobs))}"
    log(f"bench: {len(jobs)} runs on {where} -> {out}")
    results = run_ray(jobs, config.ray) if config.ray else run_local(jobs, config.n_workers)
    rows, start = [], time.perf_counter()
    with open(out / "runs.jsonl", "w", encoding="utf-8") as f:
        for row in results:
            rows.append(row)
            f.write(json.dumps(row) + "\n")
            f.flush()
            solved = f"solved at {row['solved_at']}" if row["solved_at"] is not None else "not solved"
            log(
                f"[{len(rows)}/{len(jobs)}] {task_name(row)} {row['agent']} seed {row['seed']}: {solved}, "
                f"final {row['final_eval']}, {row['wall_s']:.1f}s"
            )
    elapsed = time.perf_counter() - start
    tasks = [task_of(*split_env(spec)) for spec in config.envs]
    rows.sort(key=lambda r: (tasks.index(task_name(r)), config.agents.index(r["agent"]), r["seed"]))
    random_returns = {
        task: random_return(*split_env(spec), config.eval_episodes)
        for task, spec in zip(tasks, config.envs, strict=True)
    }
    budgets = ", ".join(
        f"{t} {config.budget_of(e)[0]:,} (eval every {config.budget_of(e)[1]:,})"
        for t, e in zip(tasks, config.envs, strict=True)
    )
    seeds = ", ".join(f"{a} {n}" for a, n in config.seeds_by_agent().items())
    header = [
        f"# Bench: {', '.join(tasks)}",
        "",
        f"`{command or 'lightup bench ' + shlex.join(_flags(config))}` on {date.today()}, "
        f"{platform.machine()} with {os.cpu_count()} cores, {where}, one torch thread per run; "
        f"{elapsed:.0f} s in all. Wall times on a shared machine are noisy.",
        "",
        f"Seeds per env: {seeds}. Budget in env steps: {budgets}. Every agent is evaluated "
        f"the same way: greedy, {config.eval_episodes} episodes on fixed seeds (the trainer's), every "
        "eval_every env steps and at the budget; a run stops at the first evaluation whose mean reaches the "
        "env's reward threshold.",
    ]
    text = write_report(out, rows, header, random_returns, config.bootstrap_reps)
    log("")
    log(text)
    return out


def _flags(config: BenchConfig) -> list[str]:
    flags = ["--envs", *config.envs, "--agents", *config.agents, "--seeds", str(config.seeds)]
    if config.agent_seeds:
        flags += ["--agent-seeds", *config.agent_seeds]
    for name in ("budget", "eval_every", "out", "ray"):
        value = getattr(config, name)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def main(argv: list[str]) -> int:
    config = parse(argv)
    out = run_bench(config, "lightup bench " + shlex.join(argv))
    print(f"results: {out}", file=sys.stderr if config.quiet else sys.stdout)
    return 0
