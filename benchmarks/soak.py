"""Soak: a long training run on a cheap env, with the process's memory early and at the end.

Memory must stay bounded: the replay buffer holds at most ``buffer_capacity`` episodes, metrics go to an
append-only file and nothing logged is kept in memory. The run trains in chunks (``learn`` continues the same
run) and records the resident set size after each.

    python benchmarks/soak.py --steps 200000     # writes benchmarks/results/soak.md
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from lightup.training.config import TrainConfig
from lightup.training.trainer import Trainer

RESULTS = Path(__file__).parent / "results"


def rss_mib() -> float:
    """The resident set size now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--chunks", type=int, default=10)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        config = TrainConfig(
            env_id="lightup/PressButton-v0",
            env_options=("size=4", "game_length=10"),
            buffer_capacity=300,
            checkpoint_every=args.steps // args.chunks,
            quiet=True,
            tensorboard=True,
            run_dir=str(Path(tmp) / "run"),
        )
        trainer = Trainer(config)
        for i in range(1, args.chunks + 1):
            trainer.learn(args.steps * i // args.chunks)
            rows.append((trainer.steps, rss_mib(), len(trainer.buffer), time.perf_counter() - start))
            print(
                f"step {rows[-1][0]:>8}: RSS {rows[-1][1]:.0f} MiB, {rows[-1][2]} episodes stored", flush=True
            )
        trainer.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines = [
        "# Soak: memory over a long run",
        "",
        f"`python benchmarks/soak.py --steps {args.steps}` on {date.today()}, {platform.machine()} with "
        f"{os.cpu_count()} cores, torch {torch.__version__}: PressButton size 4, game_length 10, replay "
        "capacity "
        "300 episodes, TensorBoard on, a checkpoint after each chunk.",
        "",
        "| env steps | resident memory (MiB) | episodes stored | wall s |",
        "|---|---|---|---|",
        *[f"| {s:,} | {m:.0f} | {n} | {w:.0f} |" for s, m, n, w in rows],
        "",
        f"Peak resident memory of the process: {peak:.0f} MiB. Growth from the first chunk to the last: "
        f"{rows[-1][1] - rows[0][1]:+.0f} MiB.",
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "soak.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
