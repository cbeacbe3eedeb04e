"""The time of a round of updates under switches of the recipe, on CartPole-v1: one trainer per variant,
each filled by 2,048 env steps of training (seed 0), then one round of updates of each in turn, A B C A B C
..., so that all see the same load; the median CPU seconds of a round (one torch thread; the process's own
time, so other people's load counts less than in wall time) and its ratio to the first variant's, with the
time per window (a round's windows are its updates times their batch).

    python benchmarks/round_cost.py [--rounds 12] VARIANT [VARIANT ...]

A variant is ``default`` or comma-separated TrainConfig fields, e.g. ``updates_per_round=32,batch_size=64``
or ``value_select=false``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from lightup.training.config import TrainConfig, parse_override, with_overrides
from lightup.training.trainer import Trainer


def trainer(variant: str, env_id: str = "CartPole-v1") -> Trainer:
    """A trainer of ``variant`` (``default``, or FIELD=VALUE pairs as `lightup bench --set` takes them, joined
    by commas) after 2,048 env steps of ``env_id``, its run folder in a temporary folder of its own."""
    fields = dict(parse_override(item) for item in variant.split(",")) if variant != "default" else {}
    run_dir = Path(tempfile.mkdtemp()) / "run"
    base = TrainConfig(env_id=env_id, seed=0, quiet=True, tensorboard=False, threads=1, run_dir=str(run_dir))
    return Trainer(with_overrides(base, fields)).learn(2048)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--rounds", type=int, default=12)
    args = parser.parse_args()
    trainers = {v: trainer(v) for v in args.variants}
    seconds: dict[str, list[float]] = {v: [] for v in trainers}
    for _ in range(args.rounds):
        for v, t in trainers.items():
            start = time.process_time()
            t._update()
            seconds[v].append(time.process_time() - start)
    first = statistics.median(seconds[args.variants[0]])
    print("| variant | ms a round (median) | ratio | updates x batch | ms per window |")
    print("|---|---|---|---|---|")
    for v, t in trainers.items():
        s, c = statistics.median(seconds[v]), t.config
        windows = c.updates_per_round * c.batch_size
        print(
            f"| {v} | {s * 1e3:.1f} | {s / first:.3f} | {c.updates_per_round} x {c.batch_size} | "
            f"{s * 1e3 / windows:.4f} |"
        )


if __name__ == "__main__":
    main()
