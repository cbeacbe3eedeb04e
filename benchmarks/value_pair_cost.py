"""The update time of the default recipe with two values (``value_select``) against one, on CartPole-v1:
one trainer of each, filled by 2,048 env steps of training (seed 0), then rounds of updates timed in turn,
A B A B ..., so that both see the same load; the median seconds per round of updates and their ratio.

    python benchmarks/value_pair_cost.py [rounds]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from lightup.training.config import TrainConfig
from lightup.training.trainer import Trainer


def trainer(value_select: bool) -> Trainer:
    run_dir = Path(tempfile.mkdtemp()) / "run"
    config = TrainConfig(
        env_id="CartPole-v1", seed=0, value_select=value_select, quiet=True, tensorboard=False, threads=1,
        run_dir=str(run_dir),
    )  # fmt: skip
    return Trainer(config).learn(2048)


def main(rounds: int = 12) -> None:
    trainers = {False: trainer(False), True: trainer(True)}
    seconds: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(rounds):
        for select, t in trainers.items():
            start = time.perf_counter()
            t._update()
            seconds[select].append(time.perf_counter() - start)
    one, two = (statistics.median(seconds[s]) for s in (False, True))
    print(f"one value: {one:.4f} s a round of updates; two: {two:.4f} s; ratio {two / one:.3f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
