"""Seeds 0-4 of the continuous rungs for the stock DT (both layouts) and the reference MLP, as the ladder
trains them (`lightup.doctor.ladder.train_seed`: the rung's small config, budget and early stop).

Usage: OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/continuous_rungs.py [--seeds 5]
Prints one line per rung and subject: seeds passed and each seed's detail. Measured figures are in
benchmarks/results/learning_continuous.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from lightup.doctor.checks import Subject
from lightup.doctor.ladder import train_seed
from lightup.doctor.rungs import RUNGS
from lightup.doctor.subjects import DTFactory, mlp_factory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    subjects = [
        ("dt-stacked", Subject(DTFactory("stacked")), False),
        ("dt-interleaved", Subject(DTFactory("interleaved")), False),
        ("mlp", Subject(mlp_factory), True),
    ]
    for rung in (r for r in RUNGS if r.name.startswith("continuous-")):
        for name, subject, reference in subjects:
            outcomes = []
            for seed in range(args.seeds):
                with tempfile.TemporaryDirectory() as tmp:
                    outcomes.append(train_seed(rung, subject, seed, Path(tmp) / "run", reference=reference))
            passed = sum(ok for ok, _ in outcomes)
            print(
                f"{rung.name} {name}: {passed}/{args.seeds}", [detail for _, detail in outcomes], flush=True
            )


if __name__ == "__main__":
    main()
