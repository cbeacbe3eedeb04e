"""The ladder on the mutants the static checks let through: the kill rate of static checks plus ladder.

Reads the static run (benchmarks/results/mutation.jsonl, written by benchmarks/mutation.py), generates the
same mutants again, and climbs `lightup doctor`'s default ladder with each static survivor on the subjects
the doctor climbs (our Decision Transformer in both layouts), stopping at the first failed rung. Each mutant
runs in its own forked process on a temporary mutated copy, as in mutation.py. Every result is appended to
mutation_ladder.jsonl as it finishes (a second run skips those done); the report mutation.md is then written
again with the ladder's verdicts.

Usage: OMP_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/mutation_ladder.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import mutation  # noqa: E402

RESULTS = mutation.ROOT / "benchmarks/results"


def climb_mutant(module: str, path: str, seeds: int, result: str) -> None:
    """In a forked process: forget the lightup modules, load the mutant, climb the default ladder."""
    for name in [n for n in sys.modules if n == "lightup" or n.startswith("lightup.")]:
        del sys.modules[name]
    mutation._install(module, path)
    import torch

    torch.set_num_threads(1)
    from lightup.doctor.cli import DoctorConfig, subjects
    from lightup.doctor.ladder import climb, select

    report: dict = {"ladder_killed_by": None, "climbed": []}
    for subject in subjects(DoctorConfig()):
        if not subject.ladder:
            continue
        results = climb(subject, select(), seeds=seeds)
        report["climbed"].append(
            f"{subject.name}: " + ", ".join(f"{r.name} {r.status}" for r in results if r.status != "not run")
        )
        failed = [r for r in results if r.status == "fail"]
        if failed:
            report["ladder_killed_by"] = f"{failed[0].name} ({subject.name}): {failed[0].detail[:200]}"
            break
    Path(result).write_text(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="seeds per rung (the doctor's default)")
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    static = [json.loads(line) for line in (RESULTS / "mutation.jsonl").read_text().splitlines()]
    everything = [m for module, path in mutation.TARGETS.items() for m in mutation.generate(module, path)]
    by_key = {(m.module, m.line, m.change): m for m in everything}
    raw = RESULTS / "mutation_ladder.jsonl"
    done = {}
    if raw.exists():
        done = {
            (r["module"], r["line"], r["change"]): r for r in map(json.loads, raw.read_text().splitlines())
        }
    survivors = [r for r in static if not r["equivalent"] and not r["killed_by"]]
    # One of each changed line first (a cut-short run then covers every kind of survivor), in file order.
    nth: dict[tuple[str, int], int] = {}
    order = []
    for r in survivors:
        line = (r["module"], r["line"])
        nth[line] = nth.get(line, -1) + 1
        order.append((nth[line], r["module"], r["line"]))
    survivors = [r for _, r in sorted(zip(order, survivors, strict=True), key=lambda pair: pair[0])]
    if not args.report_only:
        import lightup.doctor.ladder  # noqa: F401  (its third-party imports stay loaded in every fork)

        with tempfile.TemporaryDirectory() as tmp:
            for i, row in enumerate(survivors):
                key = (row["module"], row["line"], row["change"])
                if key in done:
                    continue
                mutant = by_key[key]
                src, result = Path(tmp) / "mutant.py", Path(tmp) / "result.json"
                src.write_text(mutant.source)
                result.unlink(missing_ok=True)
                t0 = time.perf_counter()
                proc = multiprocessing.get_context("fork").Process(
                    target=climb_mutant, args=(mutant.module, str(src), args.seeds, str(result))
                )
                proc.start()
                proc.join()
                report = (
                    json.loads(result.read_text())
                    if result.exists()
                    else {"ladder_killed_by": f"worker exit {proc.exitcode}", "climbed": []}
                )
                report |= {"seconds": round(time.perf_counter() - t0, 1), "seeds": args.seeds}
                done[key] = {"module": mutant.module, "line": mutant.line, "change": mutant.change, **report}
                with raw.open("a") as f:
                    f.write(json.dumps(done[key]) + "\n")
                state = "killed" if report["ladder_killed_by"] else "SURVIVED"
                print(f"[{i + 1}/{len(survivors)}] {state} {key} ({report['seconds']:.0f}s)", flush=True)
    rows = []
    for r in static:
        key = (r["module"], r["line"], r["change"])
        rows.append((by_key[key], {**r, **{k: v for k, v in done.get(key, {}).items() if k != "seconds"}}))
    args.sample, args.seed, args.out = len(static), 0, str(RESULTS / "mutation.md")
    before = re.search(r"at commit (\w+) ", args.out and Path(args.out).read_text())
    args.static_commit = before.group(1) if before else None
    seconds = sum(r.get("seconds", 0.0) for r in static)
    mutation.write(args, everything, rows, seconds)


if __name__ == "__main__":
    main()
