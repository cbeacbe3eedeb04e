"""The distributions behind the static checks' limits (lightup/doctor/limits.py).

Measures every check's quantity on healthy models (tests/user_policies.py: our Decision Transformer in both
layouts and without timesteps, the reference MLP with and without the previous action, a user-style GRU) over
many initialisations, and on every bug of the zoo (tests/bug_zoo.py) at the check that names it, and writes
benchmarks/results/doctor_margins.md: per check, the healthy range, the broken range, the limits and whether
the two ranges leave a gap.

Usage: nice -n 10 .venv/bin/python benchmarks/doctor_margins.py [--inits 20] [--overfit-inits 5]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from bug_zoo import bugs  # noqa: E402
from user_policies import HEALTHY as USER  # noqa: E402

sys.path.insert(0, str(ROOT / "examples"))
from custom_policy import make_policy  # noqa: E402

from lightup.doctor import limits  # noqa: E402
from lightup.doctor.checks import CHECK_NAMES, STATIC_CHECKS, Subject  # noqa: E402

HEALTHY = {**USER, "gru-example": make_policy}  # the GRU of examples/custom_policy.py, as a user writes one
ALSO = {limits.MOVED.quantity: limits.MOVED}  # the limits of quantities a check reports beside its own


def fmt(x: float | None) -> str:
    return "-" if x is None else "inf" if math.isinf(x) else f"{x:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inits", type=int, default=20, help="initialisations of each healthy model")
    parser.add_argument("--overfit-inits", type=int, default=5, help="of which run the overfitting check")
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/doctor_margins.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    healthy: dict[str, list[tuple[str, float, float | None]]] = {}
    bounds: dict[str, tuple[float, float]] = {}
    verdicts: dict[str, int] = {"pass": 0, "fail": 0, "inconclusive": 0}
    alarms = []
    for model, factory in HEALTHY.items():
        for seed in range(args.inits):
            for check in STATIC_CHECKS:
                if check.__name__ == "overfit_batch" and seed >= args.overfit_inits:
                    continue
                r = check(Subject(factory, seed=seed))
                verdicts[r.verdict] += 1
                if r.verdict != "pass":
                    alarms.append(f"{model} seed {seed}: {r.name} {r.verdict}: {r.detail}")
                if r.value is not None:
                    key = f"{r.name}: {r.quantity}"
                    healthy.setdefault(key, []).append((model, r.value, r.margin))
                    bounds[key] = (r.limit, r.pass_at)
                for quantity, value in r.also.items():
                    lim = ALSO.get(quantity)
                    if lim is None:  # reported beside the check's own quantity with no limit (a count)
                        continue
                    key = f"{r.name}: {quantity}"
                    healthy.setdefault(key, []).append((model, value, lim.margin(value)))
                    bounds[key] = (lim.fail_at, lim.pass_at)
        print(f"{model}: done ({time.perf_counter() - t0:.0f}s)", flush=True)
    broken: dict[str, list[tuple[str, float, float | None]]] = {}
    for bug in bugs():
        (check,) = [c for c in STATIC_CHECKS if c.__name__ == bug.caught_by]
        for seed in range(3):
            r = check(dataclasses.replace(bug.subject, seed=seed))
            if r.value is not None:
                key = f"{r.name}: {r.quantity}"
                broken.setdefault(key, []).append((bug.name, r.value, r.margin))
                bounds.setdefault(key, (r.limit, r.pass_at))
    print(f"zoo: done ({time.perf_counter() - t0:.0f}s)", flush=True)
    write(args, healthy, broken, bounds, verdicts, alarms, time.perf_counter() - t0)


def write(args, healthy, broken, bounds, verdicts, alarms, seconds) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    lines = [
        "# Margins of the static checks: healthy and broken models",
        "",
        f"Command: `nice -n 10 .venv/bin/python benchmarks/doctor_margins.py --inits {args.inits} "
        f"--overfit-inits {args.overfit_inits}` at commit {commit.stdout.strip() or '?'} "
        f"({seconds / 60:.1f} min, one torch thread, shared 2-core CPU).",
        "",
        f"Healthy models: {', '.join(HEALTHY)}; inits 0-{args.inits - 1} (overfit_batch: 0-"
        f"{args.overfit_inits - 1}). Broken: each zoo bug at the check that names it, inits 0-2.",
        f"Healthy verdicts: {verdicts['pass']} pass, {verdicts['fail']} fail, "
        f"{verdicts['inconclusive']} inconclusive.",
        "",
        "The margin is the value over the failing limit, oriented so that above 1 is the healthy side. "
        "'healthy worst' is the smallest healthy margin (the model it came from); 'broken worst' the largest "
        "margin a bug reached (closest to passing).",
        "",
        "| check | healthy n | healthy values (min .. max) | healthy worst margin | broken n | broken values "
        "(min .. max) | broken worst margin | gap | limit: fail past / pass from |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = {n: i for i, n in enumerate(CHECK_NAMES)}
    for name in sorted(healthy.keys() | broken.keys(), key=lambda k: (order[k.split(":")[0]], k)):
        h, b = healthy.get(name, []), broken.get(name, [])
        if not h and not b:
            continue
        hv = [v for _, v, _ in h]
        bv = [v for _, v, _ in b]
        hw = min(h, key=lambda x: x[2]) if h else None
        bw = max(b, key=lambda x: x[2]) if b else None
        gap = "-" if not (hw and bw) else f"{hw[2] / bw[2]:.3g}x" if bw[2] > 0 else "inf"
        lines.append(
            f"| {name} | {len(h)} | {fmt(min(hv)) if hv else '-'} .. {fmt(max(hv)) if hv else '-'} | "
            f"{fmt(hw[2]) + ' (' + hw[0] + ')' if hw else '-'} | {len(b)} | "
            f"{fmt(min(bv)) if bv else '-'} .. {fmt(max(bv)) if bv else '-'} | "
            f"{fmt(bw[2]) + ' (' + bw[0] + ')' if bw else '-'} | {gap} | "
            f"{' / '.join(fmt(x) for x in bounds.get(name, (None, None)))} |"
        )
    lines += ["", "## Healthy verdicts other than pass", ""]
    lines += [f"- {a}" for a in alarms] or ["- none"]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
