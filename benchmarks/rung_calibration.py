"""Per-rung, per-seed pass rates of healthy models on the ladder: how often a rung cries wolf.

Each seed is a fresh initialisation and a fresh env seed, trained as `lightup doctor` trains it (the rung's
budget, its early stop at the threshold). From the per-seed pass rate p, the false-alarm rate of the rung's
rule (pass on ``need`` of ``n`` seeds, stopping once decided) is the binomial probability of fewer than
``need`` passes. Writes benchmarks/results/rung_calibration.md (and a .jsonl of every seed, appended as it
goes, so that a cut-short run keeps what it measured).

Usage: nice -n 10 .venv/bin/python benchmarks/rung_calibration.py --inits 30 [--rungs overfit-batch ...]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from lightup.doctor.calibration import false_alarm
from lightup.doctor.checks import Subject
from lightup.doctor.ladder import run_seed
from lightup.doctor.rungs import RUNGS
from lightup.doctor.subjects import DTFactory

ROOT = Path(__file__).resolve().parents[1]


def rule_for(p: float, target: float = 0.01, most: int = 9) -> str:
    """The smallest n (and the largest need) whose false-alarm rate is at most ``target``."""
    for n in range(1, most + 1):
        for need in range(n, 0, -1):
            if false_alarm(p, need, n) <= target:
                return f"{need} of {n}"
    return f"none up to {most} seeds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inits", type=int, default=30)
    parser.add_argument("--rungs", nargs="*", default=None, help="default: the default ladder")
    parser.add_argument("--layouts", nargs="*", default=["stacked"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/rung_calibration.md"))
    parser.add_argument("--report-only", action="store_true", help="write the table from the .jsonl so far")
    parser.add_argument("--measured-at", default="", help="the commit the seeds ran at (with --report-only)")
    args = parser.parse_args()
    raw = Path(args.out).with_suffix(".jsonl")
    if args.report_only:
        write(args, raw)
        return
    torch.set_num_threads(1)
    rungs = [
        r for r in RUNGS if (r.name in args.rungs if args.rungs else not r.full_only and not r.known_limit)
    ]
    raw = Path(args.out).with_suffix(".jsonl")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for layout in args.layouts:
            subject = Subject(DTFactory(layout), name=f"dt-{layout}")
            for rung in rungs:
                for seed in range(args.inits):
                    s0 = time.perf_counter()
                    outcome = run_seed(rung, subject, seed, Path(tmp), reference=False)
                    row = {
                        "subject": subject.name,
                        "rung": rung.name,
                        "seed": seed,
                        "passed": outcome.passed,
                        "detail": outcome.detail,
                        "seconds": round(time.perf_counter() - s0, 2),
                    }
                    with raw.open("a") as f:
                        f.write(json.dumps(row) + "\n")
                print(f"{layout} {rung.name}: done ({time.perf_counter() - t0:.0f}s)", flush=True)
    write(args, raw)


def write(args, raw: Path) -> None:
    rows = [json.loads(line) for line in raw.read_text().splitlines() if line.strip()]
    rules = {r.name: (max(1, math.ceil(r.pass_rate * (r.seeds or 3) - 1e-9)), r.seeds or 3) for r in RUNGS}
    cells: dict[tuple[str, str], list[bool]] = {}
    for row in rows:
        cells.setdefault((row["subject"], row["rung"]), []).append(row["passed"])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    lines = [
        "# Rung calibration: per-seed pass rates of healthy models",
        "",
        f"Command: `nice -n 10 .venv/bin/python benchmarks/rung_calibration.py --inits {args.inits} "
        f"--layouts {' '.join(args.layouts)}"
        + (f" --rungs {' '.join(args.rungs)}`" if args.rungs else "`")
        + f", seeds run at commit {args.measured_at or commit.stdout.strip() or '?'}, table written at "
        f"{commit.stdout.strip() or '?'}; every seed is in rung_calibration.jsonl.",
        "",
        "False alarms of the rung's rule (need of n seeds, with the default --seeds 3) follow from the "
        "measured per-seed rate p as a binomial; 'rule for 1%' is the fewest seeds whose rule keeps false "
        "alarms at or under 1% at that p. The rules of press-size-4 (2 of 3 before: 25.9%), press-hard "
        "(2 of 3: 2.8%) and recall (3 of 3: 9.7%) were set from this table "
        "(p measured on this many seeds: a rate of 30/30 only bounds the true one above ~90% at 95% "
        "confidence).",
        "",
        "| subject | rung | seeds passed | per-seed rate | rule | false alarms of the rule | rule for 1% |",
        "|---|---|---|---|---|---|---|",
    ]
    for (subject, rung), passes in cells.items():
        p = sum(passes) / len(passes)
        need, n = rules[rung]
        lines.append(
            f"| {subject} | {rung} | {sum(passes)}/{len(passes)} | {p:.0%} | {need} of {n} | "
            f"{false_alarm(p, need, n):.1%} | {rule_for(p)} |"
        )
    Path(args.out).write_text("\n".join(lines) + "\n")
    first = {}
    for (_, rung), passes in cells.items():
        first.setdefault(rung, (sum(passes), len(passes)))
    print(f"wrote {args.out}; lightup/doctor/calibration.py PER_SEED = {first}")


if __name__ == "__main__":
    main()
