"""Stopping `lightup train` runs and comparing run folders: shared by tests/test_resume.py and
benchmarks/reliability.py (which puts tests/ on its path)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import torch

from lightup.checkpoint import load_tensors
from lightup.training.logger import read_metrics

# tests/tiny.py's config as flags: a few seconds of CPU for 3072 steps, six periodic checkpoints
TINY_FLAGS = [
    "lightup/PressButton-v0",
    "--n-envs", "4",
    "--rollout-steps", "8",
    "--updates-per-round", "2",
    "--batch-size", "8",
    "--context-len", "2",
    "--n-layer", "1",
    "--n-embd", "16",
    "--n-head", "2",
    "--eval-every", "256",
    "--eval-episodes", "2",
    "--quiet",
    "--no-tensorboard",
]  # fmt: skip
TOTAL, CHECKPOINT_EVERY = 3072, 512


def train_argv(run_dir: Path, seed: int = 3, total: int = TOTAL, every: int = CHECKPOINT_EVERY) -> list[str]:
    flags = ["--seed", str(seed), "--total-steps", str(total), "--checkpoint-every", str(every)]
    return ["train", *TINY_FLAGS, *flags, "--run-dir", str(run_dir)]


def lightup(argv: list[str], own_group: bool = False) -> subprocess.Popen:
    """`lightup ARGV` in a child process, its output captured as text; with ``own_group`` in a process group
    of its own, as a terminal's foreground job (a signal to the group reaches its children too)."""
    cmd = [sys.executable, "-m", "lightup.cli", *argv]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=own_group
    )


def last_logged_step(run_dir: Path) -> int:
    records = read_metrics(run_dir) if (run_dir / "metrics.jsonl").exists() else []
    return max((r["step"] for r in records), default=0)


def wait_for_step(proc: subprocess.Popen, run_dir: Path, step: int, timeout: float = 120.0) -> int:
    """Poll the run's metrics until it has logged ``step`` (a moment tied to the run, not to the clock);
    returns the last step logged. Fails if the process ends first or the time runs out."""
    deadline = time.monotonic() + timeout
    while (logged := last_logged_step(run_dir)) < step:
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) first: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"step {step} not logged within {timeout} s")
        time.sleep(0.01)
    return logged


def differences(a: Path, b: Path) -> list[str]:
    """How two run folders differ: every checkpoint tensor bitwise, the checkpoint's counters, random states
    and replay commands, and the metrics records (without the time/ figures, which are wall-clock)."""
    ta, ma = load_tensors(a / "checkpoint.safetensors")
    tb, mb = load_tensors(b / "checkpoint.safetensors")
    out = [f"tensor {k} only in one" for k in sorted(set(ta) ^ set(tb))]
    out += [f"tensor {k}" for k in sorted(set(ta) & set(tb)) if not torch.equal(ta[k], tb[k])]
    for key in ("counters", "rng_numpy", "buffer_commanded", "optimizer", "alpha_optimizer"):
        if json.dumps(ma.get(key)) != json.dumps(mb.get(key)):
            out.append(f"checkpoint {key}")
    for folder in (a, b):
        lines = (folder / "metrics.jsonl").read_bytes().split(b"\n")
        if lines[-1] or len(lines) - 1 != len(read_metrics(folder)):
            out.append(f"{folder}/metrics.jsonl holds lines that are not whole records")
    ra, rb = _records(a), _records(b)
    if ra != rb:
        first = next(
            (i for i, (x, y) in enumerate(zip(ra, rb, strict=False)) if x != y), min(len(ra), len(rb))
        )
        out.append(f"metrics: {len(ra)} vs {len(rb)} records, first difference at record {first}")
    return out


def _records(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in read_metrics(run_dir)]
