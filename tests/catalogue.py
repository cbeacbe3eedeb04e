"""Bad inputs to the `lightup` command, as data: ``CASES`` is a list of (name, argv, expected exit code).

benchmarks/reliability.py runs each case in a fresh sandbox folder made by `prepare` (``{root}`` in an
argument is that folder; the command also runs there, so default outputs land in it) and counts clean
errors (the expected code, one ``error:`` line), tracebacks, hangs, silent accepts and changed files.
A case passes tiny training flags (``TINY``) so that a wrongly accepted input costs seconds, not a run.
"""

from __future__ import annotations

import json
from pathlib import Path

TINY = ["lightup/PressButton-v0", "--total-steps", "64", "--n-envs", "2", "--quiet", "--no-tensorboard"]

CASES: list[tuple[str, list[str], int]] = [
    ("seed below 0", ["train", *TINY, "--seed", "-1", "--run-dir", "{root}/new"], 2),
    ("seed above 2**32 - 1", ["train", *TINY, "--seed", str(2**70), "--run-dir", "{root}/new"], 2),
    ("lr nan", ["train", *TINY, "--lr", "nan", "--run-dir", "{root}/new"], 2),
    ("max return nan", ["train", *TINY, "--max-return", "nan", "--run-dir", "{root}/new"], 2),
    ("command value nan", ["train", *TINY, "--command.value", "nan", "--run-dir", "{root}/new"], 2),
    ("unknown flag before a good one", ["train", "--frobnicate", "3", "--quiet"], 2),
    ("heads do not divide the width", ["train", *TINY, "--n-embd", "30", "--n-head", "4"], 2),
    ("resume a truncated checkpoint", ["train", "--resume", "{root}/truncated"], 2),
    ("resume a folder with neither checkpoint nor config", ["train", "--resume", "{root}/empty"], 2),
    ("resume a config.json nested 100k deep", ["train", "--resume", "{root}/deep"], 2),
    ("report over its run's config.json", ["report", "{root}/run", "--out", "{root}/run/config.json"], 2),
]


def prepare(root: Path) -> None:
    """The folders the cases name: an empty one, a truncated checkpoint, a run stopped before its first
    checkpoint whose config.json is nested 100k deep, and a run with a config.json and metrics."""
    (root / "empty").mkdir()
    (root / "truncated").mkdir()
    (root / "truncated" / "checkpoint.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    (root / "deep").mkdir()
    (root / "deep" / "config.json").write_text("[" * 100_000)
    (root / "deep" / "metrics.jsonl").write_text('{"step": 32}\n')
    (root / "run").mkdir()
    (root / "run" / "config.json").write_text(json.dumps({"env_id": "lightup/PressButton-v0"}))
    (root / "run" / "metrics.jsonl").write_text(
        "".join(json.dumps({"step": 32 * i, "rollout/ep_rew_mean": 0.5}) + "\n" for i in range(1, 5))
    )
