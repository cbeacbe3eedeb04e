"""Reliability: stop training runs at random moments and count exact resumes; run the bad-input catalogue.

(a) Runs of tests/interrupts.py's tiny config are stopped by SIGKILL, SIGINT and SIGTERM at random moments
(a random logged step, then a random delay; the moments come from ``--seed``), resumed with
``lightup train --resume``, and compared with an uninterrupted run: a trial is exact when every checkpoint
tensor, the checkpoint's counters and random states, and every metrics record (less the wall-clock time/
figures) are equal. SIGINT and SIGTERM must also exit 130 and 143 with one line saying where to resume.

(b) Each case of the bad-input catalogue ``tests/catalogue.py`` (``CASES``: name, argv, expected exit, the
text its error line must hold, and a setup that makes its files beside a tiny finished run) runs as
``lightup ARGV`` in a fresh sandbox folder, as a separate process, and is counted as a clean error (the
expected code and one ``error:`` line holding the expected text), a traceback, a hang (past ``--timeout``),
a silent accept (exit 0 where an error was expected), another wrong exit, and separately whether it
changed any file in its sandbox.

    nice -n 10 python benchmarks/reliability.py          # writes benchmarks/results/reliability.md
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from interrupts import TOTAL, differences, last_logged_step, lightup, train_argv  # noqa: E402

from lightup.checkpoint import load_tensors  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
# each signal with the exit code it must give (a SIGKILLed process reports -9)
SIGNALS = {
    "SIGKILL": (signal.SIGKILL, -signal.SIGKILL),
    "SIGINT": (signal.SIGINT, 130),
    "SIGTERM": (signal.SIGTERM, 143),
}


def stop_and_resume(run: Path, sig: signal.Signals, step: int, delay: float) -> dict:
    """One trial: start a run, stop it with ``sig`` once it has logged ``step`` and ``delay`` seconds more,
    resume it to its budget. Returns what happened."""
    proc = lightup(train_argv(run))
    while last_logged_step(run) < step and proc.poll() is None:
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is not None:
        return {"ended_first": True}
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=300)
    lines = err.strip().splitlines()
    said = bool(lines) and "interrupted at step" in lines[-1] and f"--resume {run}" in lines[-1]
    stopped_at = last_logged_step(run)
    checkpoint = run / "checkpoint.safetensors"
    kept = load_tensors(checkpoint)[1]["counters"]["steps"] if checkpoint.exists() else 0
    resumed = lightup(["train", "--resume", str(run)])
    _, resume_err = resumed.communicate(timeout=600)
    diff = differences(Path(run.parent / "reference"), run) if resumed.returncode == 0 else ["resume failed"]
    return {
        "ended_first": False,
        "code": proc.returncode,
        "said": said,
        "stopped_at": stopped_at,
        "lost": stopped_at - kept,  # steps logged that the resumed run had to take again
        "resume_code": resumed.returncode,
        "exact": not diff,
        "diff": diff[:3] or resume_err.strip().splitlines()[-1:],
    }


def signal_trials(trials: int, seed: int, jobs: int, work: Path) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    reference = work / "reference"
    proc = lightup(train_argv(reference))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    # a random moment: after a random logged step (before the last round), then a random delay, so the
    # signal lands mid-rollout, mid-update, mid-evaluation or mid-write; all drawn first, in a fixed order
    plan = [
        (name, i, rng.randrange(32, TOTAL - 256), rng.uniform(0.0, 0.2))
        for i in range(trials)
        for name in SIGNALS
    ]

    def trial(name: str, i: int, step: int, delay: float) -> dict:
        run = work / f"{name}_{i}"
        result = stop_and_resume(run, SIGNALS[name][0], step, delay)
        result.update(step=step, delay=round(delay, 3))
        print(f"{name} trial {i}: {result}", flush=True)
        if result.get("exact"):  # keep the disk small: only folders that show a problem stay
            shutil.rmtree(run)
        return result

    with ThreadPoolExecutor(jobs) as pool:
        done = list(pool.map(lambda p: trial(*p), plan))
    return {name: [r for (n, *_), r in zip(plan, done, strict=True) if n == name] for name in SIGNALS}


def load_cases() -> list:
    """The cases of tests/catalogue.py (`tests.catalogue.Case`)."""
    sys.path.insert(0, str(ROOT / "tests"))
    return list(importlib.import_module("catalogue").CASES)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by its path, with a hash of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def run_case(case, base_run: Path, timeout: float) -> dict:
    from catalogue import prepare

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        argv = prepare(case, root, base_run)
        before = snapshot(root)
        cmd = [sys.executable, "-m", "lightup.cli", *argv]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        try:
            done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"kind": "hang", "changed": snapshot(root) != before, "line": f"over {timeout} s"}
        lines = done.stderr.strip().splitlines()
        if "Traceback (most recent call last)" in done.stderr:
            kind = "traceback"
        elif done.returncode == 0 and case.expected_exit != 0:
            kind = "silent accept"
        elif (
            done.returncode == case.expected_exit
            and len(lines) == 1
            and lines[0].startswith("error: ")
            and case.says.format(tmp=root, run=root / "run") in lines[0]
        ):
            kind = "clean error"
        else:
            kind = "other"
        line = lines[-1] if lines else f"(exit {done.returncode}, nothing on stderr)"
        return {"kind": kind, "code": done.returncode, "changed": snapshot(root) != before, "line": line}


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return git("rev-parse", "--short", "HEAD") + (
        " (with uncommitted changes)" if git("status", "--porcelain") else ""
    )


def report(
    args, signals: dict[str, list[dict]], cases: list[tuple], outcomes: list[dict], seconds: float
) -> str:
    lines = [
        "# Reliability: exact resume after every kind of stop, and the bad-input catalogue",
        "",
        f"Command: `nice -n 10 python benchmarks/reliability.py --trials {args.trials} --seed {args.seed} "
        f"--jobs {args.jobs} --timeout {args.timeout:g}"
        + (
            f" --only {args.only}`; the other part is from the run before (see git log)  "
            if args.only
            else "`  "
        ),
        f"Commit: {commit()}  ",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared), Python "
        f"{platform.python_version()}, torch {torch.__version__}, {platform.system()} {platform.release()}; "
        f"{seconds / 60:.1f} min wall  ",
        f"Training config: tests/interrupts.py (lightup/PressButton-v0, {TOTAL} steps, a checkpoint every "
        "512, seed 3), stopped at random moments from `--seed`.",
        "",
        "## (a) Stopped at a random moment and resumed with `lightup train --resume`",
        "",
        "| signal | trials | resumed exactly | expected exit code | said where to resume "
        "| steps lost (mean / max) | ended before the signal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, results in signals.items():
        tried = [r for r in results if not r["ended_first"]]
        code = SIGNALS[name][1]
        said = "-" if name == "SIGKILL" else str(sum(r["said"] for r in tried))
        lost = [r["lost"] for r in tried]
        lines.append(
            f"| {name} | {len(tried)} | {sum(r['exact'] for r in tried)} | "
            f"{sum(r['code'] == code for r in tried)} ({code}) | {said} | "
            f"{sum(lost) / max(len(lost), 1):.0f} / {max(lost, default=0)} | "
            f"{len(results) - len(tried)} |"
        )
    lines += [
        "",
        "Steps lost: steps the run had logged when it stopped, less the step of the checkpoint it resumed "
        "from. SIGINT and SIGTERM write a checkpoint where they stop (with the episodes under way and the "
        "actions that bring the envs back), so they lose nothing; SIGKILL resumes from the last periodic "
        "checkpoint (every 512 steps here).",
    ]
    bad = [(n, r) for n, rs in signals.items() for r in rs if not r["ended_first"] and not r["exact"]]
    lines += [f"- not exact: {n} at step {r['stopped_at']}: {r['diff']}" for n, r in bad]
    kinds = ["clean error", "traceback", "hang", "silent accept", "other"]
    counts = {k: sum(o["kind"] == k for o in outcomes) for k in kinds}
    changed = sum(o["changed"] for o in outcomes)
    lines += [
        "",
        "## (b) Bad-input catalogue (tests/catalogue.py)",
        "",
        "| cases tried | clean errors | tracebacks (target 0) | hangs (target 0) | silent accepts (target 0) "
        "| other wrong exits | files changed (target 0) |",
        "|---|---|---|---|---|---|---|",
        f"| {len(outcomes)} | {counts['clean error']} | {counts['traceback']} | {counts['hang']} | "
        f"{counts['silent accept']} | {counts['other']} | {changed} |",
        "",
    ]
    for case, o in zip(cases, outcomes, strict=True):
        if o["kind"] != "clean error" or o["changed"]:
            what = o["kind"] + (", files changed" if o["changed"] else "")
            argv = " ".join(case.argv)
            lines.append(
                f"- {case.name} (`lightup {argv}`, expected {case.expected_exit}): {what}: {o['line'][:160]}"
            )
    return "\n".join(lines) + "\n"


def merged(text: str, old: str, only: str) -> str:
    """``text`` (a whole report) with the part not rerun (``only`` names the one rerun) taken from ``old``:
    the header, then part (a), then part (b)."""

    def parts(t: str) -> tuple[str, str, str]:
        a, b = t.index("## (a)"), t.index("## (b)")
        return t[:a], t[a:b], t[b:]

    head, a, b = parts(text)
    _, old_a, old_b = parts(old)
    return head + (a + old_b if only == "signals" else old_a + b)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="trials per signal")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random moments")
    parser.add_argument("--jobs", type=int, default=2, help="trials run side by side")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a catalogue case hangs")
    parser.add_argument("--out", type=Path, default=RESULTS / "reliability.md")
    parser.add_argument(
        "--only", choices=("signals", "catalogue"), help="rerun one part; the other is kept from --out"
    )
    args = parser.parse_args()
    os.environ["PYTHONPATH"] = str(ROOT)  # the children run this checkout's lightup
    start = time.perf_counter()
    signals = {name: [] for name in SIGNALS}
    if args.only != "catalogue":
        with tempfile.TemporaryDirectory() as tmp:
            signals = signal_trials(args.trials, args.seed, args.jobs, Path(tmp))
    cases = load_cases() if args.only != "signals" else []
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        from catalogue_setups import make_base_run

        base_run = make_base_run(Path(tmp)) if cases else None
        for case in cases:
            outcomes.append(run_case(case, base_run, args.timeout))
            print(f"case {case.name}: {outcomes[-1]}", flush=True)
    text = report(args, signals, cases, outcomes, time.perf_counter() - start)
    if args.only:
        text = merged(text, args.out.read_text(), args.only)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
