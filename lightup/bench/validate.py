"""Checks of what `lightup bench` reads from a user: --set items, a results folder's config.json fields,
its runs.jsonl rows and its output files. Each bad input is a one-line LightupError that says what to do,
raised before any run starts or any file is written."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from lightup.errors import LightupError
from lightup.jsonfile import MAX_DEPTH, depth
from lightup.ranges import HUGE, RANGES

# TrainConfig fields the bench sets itself for every run (lightup/bench/runs.py `_run_trainer`): a --set of
# one would run something other than what the run's row records. Each maps to the bench flag to use instead
# ("" where the bench has none: it fixes the field for every run).
OWNED = {
    "env_id": "--envs",
    "env_options": "--envs (options after commas: id,name=value)",
    "seed": "--seeds or --agent-seeds",
    "total_steps": "--budget",
    "eval_every": "--eval-every",
    "eval_episodes": "--eval-episodes",
    "stop_at_threshold": "",
    "checkpoint_every": "",
    "run_dir": "--out",
    "run_root": "--out",
    "exp_name": "--out",
    "quiet": "--quiet",
    "tensorboard": "",
    "track": "",
    "wandb_project": "",
    "threads": "--workers",
    "policy": "--agents",
    "layout": "--agents",
    "obs_adapters": "",
}
MAX_SET_TEXT = 10_000  # characters of one --set item: a value is a number, a word or a short list
MAX_SEEDS_DIGITS = 9  # an --agent-seeds count longer than this is out of range anyway; int() of 4300+ fails
MAX_NAMES = 1_000  # envs, agents, --agent-seeds and --set entries of one bench
MAX_SUMMARY_BYTES = 16 * 2**20  # a summary.md with its hand-written notes: a few KiB as written
OUTPUTS = ("summary.md", "stats.json", "performance_profile.png", "curves.png", "config.json")


def short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: an error line quotes a hostile value, not all of it."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def shown(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, for an error line that quotes what a user typed."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def check_set_item(item: Any) -> None:
    """Refuse a --set item before it is parsed: not a string (a hand-edited config.json), a field the bench
    owns (naming its flag), or a value too long or deeply nested to parse safely."""
    if not isinstance(item, str):
        raise LightupError(f"--set entries must be FIELD=VALUE strings, got {short(item)}")
    key = item.partition("=")[0].strip().replace("-", "_")
    if key in OWNED:
        instead = f"; use {OWNED[key]} instead" if OWNED[key] else " and cannot be changed by --set"
        raise LightupError(f"--set {shown(item)}: the bench sets {key} itself for every run{instead}")
    if len(item) > MAX_SET_TEXT:
        raise LightupError(
            f"--set {key}=...: the value is {len(item):,} characters, more than {MAX_SET_TEXT:,}"
        )
    if depth(item) > MAX_DEPTH:
        raise LightupError(f"--set {key}=...: the value nests more than {MAX_DEPTH} deep; give a plain value")


def seed_count(agent: str, count: str, pair: str) -> int:
    """An --agent-seeds count as an int: ASCII digits only (str.isdigit takes superscripts, which int()
    refuses), and few enough that int() parses them (4300+ digits is a ValueError) and the error quotes a
    short value."""
    digits = count.lstrip("0")
    if not (count.isascii() and count.isdigit()) or not digits:
        raise LightupError(
            f"--agent-seeds {short(pair)} must look like AGENT=N with N >= 1 and AGENT one of --agents"
        )
    if len(digits) > MAX_SEEDS_DIGITS:
        raise LightupError(
            f"--agent-seeds {agent}=N must be {RANGES['seeds']}, got a number of {len(digits):,} digits"
        )
    return int(digits)


def check_types(config: Any, where: str = "") -> None:
    """A BenchConfig's non-number fields have their types (numbers are checked by their ranges): a
    config.json edited by hand, or a config built in Python, is refused in one line, ``where`` (a file)
    first."""
    from lightup.bench.suites import SUITES

    for name in ("envs", "agents", "agent_seeds", "set"):
        value = getattr(config, name)
        flag = "--" + name.replace("_", "-")
        if not isinstance(value, tuple | list) or not all(isinstance(v, str) for v in value):
            shown = list(value) if isinstance(value, tuple) else value  # as the file wrote it
            raise LightupError(f"{where}{flag} must be a list of strings, got {short(shown)}")
        if len(value) > MAX_NAMES:
            raise LightupError(f"{where}{flag} names {len(value):,} entries, more than {MAX_NAMES:,}")
    if config.suite is not None and (not isinstance(config.suite, str) or config.suite not in SUITES):
        raise LightupError(f"{where}--suite must be one of {', '.join(SUITES)}, got {short(config.suite)}")
    for name in ("name", "out", "ray", "report"):
        value = getattr(config, name)
        if value is not None and not isinstance(value, str):
            raise LightupError(f"{where}--{name} must be a string, got {short(value)}")
    for name in ("resume", "quiet"):
        if not isinstance(getattr(config, name), bool):
            raise LightupError(f"{where}--{name} must be true or false, got {short(getattr(config, name))}")
    if not RANGES["bootstrap_reps"].holds(config.bootstrap_reps):  # a file's, named with it
        reps = config.bootstrap_reps
        raise LightupError(f"{where}--bootstrap-reps must be {RANGES['bootstrap_reps']}, got {short(reps)}")


def _number(value: Any, low: float = -HUGE, high: float = HUGE) -> bool:
    """A JSON number (not a bool) from ``low`` to ``high``: finite, and no 400-digit int to overflow."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return (math.isfinite(value) if isinstance(value, float) else True) and low <= value <= high


def _step(value: Any) -> bool:
    return isinstance(value, int) and RANGES["solved_at"].holds(value)


def _curve(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and _step(p[0]) and _number(p[1]) for p in value
    )


def _follow(value: Any) -> bool:
    return value is None or (
        isinstance(value, dict) and all(_number(value.get(k)) for k in ("slope", "error"))
    )


# The fields of a result row that the report reads: (check, what it must be, required).
ROW_FIELDS = {
    "curve": (_curve, "a list of [env step, mean return] pairs", True),
    "final_eval": (_number, "a finite number", True),
    "threshold": (lambda v: v is None or _number(v), "a finite number or null", True),
    "solved_at": (lambda v: v is None or _step(v), "an env step (an integer >= 0) or null", True),
    "wall_s_to_solve": (lambda v: v is None or _number(v, 0), "a number of seconds >= 0 or null", True),
    "follow": (_follow, "null or an object with finite numbers slope and error", False),
    "hyperparameters": (lambda v: v is None or isinstance(v, dict), "an object or null", False),
}


def check_row(row: dict, path: Path, number: int, todo: str) -> None:
    """Row ``number`` of the runs.jsonl at ``path`` has every field the report reads, each of its type."""
    for name, (ok, kind, required) in ROW_FIELDS.items():
        if name not in row:
            if required:
                raise LightupError(f"{str(path)!r} row {number} has no {name!r}; {todo}")
            continue
        if not ok(row[name]):
            raise LightupError(
                f"{str(path)!r} row {number}: {name!r} must be {kind}, got {short(row[name])}; {todo}"
            )


def check_outputs(folder: Path) -> None:
    """Each file the bench writes into ``folder`` is a regular file or absent: a folder (or a FIFO) of that
    name would fail the write only after every run."""
    for name in OUTPUTS:
        path = folder / name
        if (path.exists() or path.is_symlink()) and not path.is_file():
            raise LightupError(
                f"{str(path)!r} is not a file (a folder?); the bench writes its {name} there: move it away "
                "and run again"
            )


def read_summary(path: Path) -> str:
    """A results folder's summary.md (edited by hand, maybe), refused past `MAX_SUMMARY_BYTES` rather than
    read whole: its notes are kept whole when the summary is written again, so it is never cut."""
    size = path.stat().st_size
    if size > MAX_SUMMARY_BYTES:
        raise LightupError(
            f"{str(path)!r} holds {size:,} bytes, more than the {MAX_SUMMARY_BYTES:,} a summary with notes "
            "may hold; trim its notes and run again"
        )
    with open(path, "rb") as f:
        return f.read(MAX_SUMMARY_BYTES + 1).decode("utf-8", errors="replace")
