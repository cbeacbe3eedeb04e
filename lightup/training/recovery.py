"""Stopping a run and starting it again in its folder, so that the resumed run equals one that never stopped.

Envs are re-seeded at each periodic checkpoint, so a run resumed from one replays what the uninterrupted run
did. A run stopped by SIGINT or SIGTERM between two checkpoints writes one where it stopped, holding the
episodes under way and the actions its envs took since their seeded reset (`Rollout.state`): the state of an
env in mid-episode cannot be saved without pickling it, and loading must never run code, so the resumed run
resets the envs on those seeds and replays those actions. Nothing is lost. The other stops (SIGKILL, a full
disk, an env that keeps raising) resume from the last checkpoint written, losing the steps since (at most
``checkpoint_every``). Before a run starts again in its folder, the folder is cleaned: temporary files of a
write cut short are removed and metrics.jsonl is cut back to the checkpoint's step.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import traceback
from pathlib import Path

from lightup.checkpoint import remove_stale_temps
from lightup.errors import LightupError
from lightup.training.config import TrainConfig
from lightup.training.logger import read_metrics, trim_metrics

METRICS = "metrics.jsonl"
CONFIG = "config.json"
# The fields that say what a run trains (its env, its model, its data): a config.json without one is refused
# rather than filled with a default; fields added in later versions have defaults (`config_from_dict`).
REQUIRED = ("env_id", "policy", "context_len", "n_layer", "n_embd", "seed", "lr", "total_steps")
MAX_CONFIG_BYTES = 1 << 20  # a run's config.json is a few kB; a bigger one was not written by lightup


@dataclasses.dataclass
class Logged:
    """What a run kept only in its metrics file, read back when it starts again."""

    alarms: set[str]
    """names of the alarms already raised (each is raised once per run)"""
    last_eval: float | None


def prepare_folder(run_dir: Path, step: int, names: tuple[str, ...]) -> Logged:
    """Make ``run_dir`` ready for a run that goes on from ``step``: remove temporary files that a kill left
    for the files ``names``, cut metrics.jsonl back to ``step`` (a torn last line dropped too), and read
    back what the metrics say."""
    from lightup.training.config import check_run_files

    check_run_files(run_dir)  # a folder named metrics.jsonl: one line, not IsADirectoryError mid-run
    remove_stale_temps(run_dir, (*names, METRICS))
    if not (run_dir / METRICS).is_file():
        return Logged(set(), None)
    trim_metrics(run_dir / METRICS, step)
    alarms: set[str] = set()
    last_eval = None
    for record in read_metrics(run_dir):
        alarms.update(k.removeprefix("alarm/") for k in record if k.startswith("alarm/"))
        value = record.get("eval/mean_reward")
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            last_eval = float(value)
    return Logged(alarms, last_eval)


def read_run_config(run_dir: Path) -> TrainConfig:
    """The config a run folder's config.json holds, to start a run that left no checkpoint again."""
    from lightup.jsonfile import read_json
    from lightup.training.state import config_from_dict

    path = run_dir / CONFIG
    try:
        fields = read_json(path, MAX_CONFIG_BYTES)  # size and depth capped
        missing = [name for name in REQUIRED if not isinstance(fields, dict) or name not in fields]
        if missing:  # a default in its place would train something else (CartPole-v1) without a word
            raise ValueError(f"it has no {missing[0]!r}: an altered file")
        config = config_from_dict(fields)
        config.validate(where=f"{str(path)!r}: ")
    except (LightupError, OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LightupError(
            f"{str(path)!r} is not a config lightup train wrote ({reason}); start a new run with --run-dir"
        ) from None
    return dataclasses.replace(config, run_dir=str(run_dir))


def log_env_error(run_dir: Path, step: int, err: BaseException, what: str) -> Path:
    """Append ``err``'s traceback to ``run_dir``'s env_errors.log, headed by the env ``step`` and ``what``;
    returns the log's path."""
    log = run_dir / "env_errors.log"
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"--- env step {step}, {what}\n")
        f.write("".join(traceback.format_exception(err)))
    return log


def resume_hint(run_dir: Path | None, checkpoint_step: int | None) -> str:
    """Where a stopped run can go on from, and how."""
    if checkpoint_step is None:
        return f"no checkpoint yet: lightup train --resume {run_dir} starts it again"
    return f"checkpoint at step {checkpoint_step}; resume with lightup train --resume {run_dir}"


def interrupted_line(signum: int, steps: int, run_dir: Path | None, checkpoint_step: int | None) -> str:
    """The one line an interrupted run ends with."""
    name = signal.Signals(signum).name
    return f"{name}: interrupted at step {steps}; {resume_hint(run_dir, checkpoint_step)}"


def exit_code(signum: int) -> int:
    """The shell's code for a process ended by ``signum``: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum
