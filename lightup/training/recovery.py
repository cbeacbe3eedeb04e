"""Stopping a run and starting it again in its folder, so that the resumed run equals one that never stopped.

Envs are re-seeded at each periodic checkpoint, so a run resumed from one replays what the uninterrupted run
did. A run stopped by SIGINT or SIGTERM between two checkpoints writes one where it stopped, holding the
episodes under way and the actions its envs took since their seeded reset (`Rollout.state`): the state of an
env in mid-episode cannot be saved without pickling it, and loading must never run code, so the resumed run
resets the envs on those seeds and replays those actions. Nothing is lost. The other stops (SIGKILL, a full
disk, an env that keeps raising) resume from the last checkpoint written, losing the steps since (at most
``checkpoint_every``). Before a run starts again in its folder, the folder is cleaned: temporary files of a
write cut short are removed and metrics.jsonl is cut back to the checkpoint's step. One process trains in a
folder at a time (`RunLock`); a folder whose checkpoint was lost, or replaced by another run's, is refused
rather than started again over what it holds.
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import os
import signal
import traceback
from pathlib import Path

from lightup.checkpoint import remove_stale_temps
from lightup.errors import LightupError
from lightup.training.config import RESUMABLE, TrainConfig
from lightup.training.logger import read_metrics, trim_metrics

METRICS = "metrics.jsonl"
CONFIG = "config.json"
AGENT = "policy.safetensors"  # `lightup.training.agent.AGENT_FILE`, written beside each checkpoint
LOCK = ".lightup.lock"
# Config fields that do not say what a run is: those a resume may change (`RESUMABLE`) and where its folder
# is, which a move changes.
NOT_THE_RUN = ("run_dir", "run_root", "exp_name")
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


def check_same_run(run_dir: Path, checkpoint: Path, written: dict) -> None:
    """The run folder's config.json, if it has one, is the config of the run that wrote ``checkpoint``
    (``written``: the config in its metadata, as written): a checkpoint copied from another run or env, or a
    config.json edited by hand, is refused naming the first field that differs, before the run appends to
    the folder. Fields as the two files hold them: one that either lacks (a file from a version before the
    field) is not compared, nor is a config.json that is not a config at all (the checkpoint alone says
    what the run is)."""
    from lightup.jsonfile import read_json

    if not (run_dir / CONFIG).exists():
        return
    try:
        read_run_config(run_dir)
        folder = _flat(read_json(run_dir / CONFIG, MAX_CONFIG_BYTES))
    except LightupError:
        return
    for name, value in _flat(written).items():
        if name in folder and name not in (*RESUMABLE, *NOT_THE_RUN) and folder[name] != value:
            raise LightupError(
                f"{str(checkpoint)!r} is not the checkpoint of the run in {str(run_dir / CONFIG)!r}: "
                f"{name} is {value!r} in the checkpoint, {folder[name]!r} in config.json (a file copied "
                "from another run, or edited); put back the run's own file, or start a new run in another "
                "folder"
            )


def _flat(fields: dict, prefix: str = "") -> dict:
    """A config's fields by name, those of its command as ``command.NAME``."""
    out = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{name}."))
        else:
            out[prefix + name] = value
    return out


def check_restartable(run_dir: Path, config: TrainConfig) -> None:
    """A folder with no checkpoint starts again from its config.json (dropping its metrics) only if its run
    never wrote one: a kill before the first leaves nothing a restart would not write again. An agent file
    (written beside each checkpoint), or metrics past the round of the first checkpoint, say that the run
    went past a checkpoint that is now missing: starting again would throw its training away."""
    from lightup.training.state import CHECKPOINT

    signs = []
    if (run_dir / METRICS).is_file():
        steps = sorted(r["step"] for r in read_metrics(run_dir))
        due = [step for step in steps if step >= config.checkpoint_every]  # the first: where one was due
        if len(due) > 1:
            signs.append(f"its {METRICS} goes on to step {steps[-1]}")
    if (run_dir / AGENT).exists():
        signs.append(f"it holds the {AGENT} written beside one")
    if signs:
        raise LightupError(
            f"{str(run_dir)!r} has no {CHECKPOINT}, but its run went past a checkpoint that is now missing "
            f"({' and '.join(signs)}); restore the checkpoint, or start a new run in another folder"
        )


class RunLock:
    """An exclusive lock on a run folder while a process trains in it: ``fcntl.flock`` on its `LOCK` file,
    taken without waiting (a second process is refused in one line) and dropped by the kernel when the
    process ends, however it ends. The file holds the holder's pid, for that line; the holder removes it on
    release, and one left by a kill, unlocked, is taken by the next run."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        path = self.run_dir / LOCK
        while self._fd is None:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError as err:
                raise LightupError(
                    f"cannot lock the run folder {str(self.run_dir)!r} ({err.strerror or err}); pick a "
                    "folder this user can write in"
                ) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 32).decode("ascii", "replace").strip()
                os.close(fd)
                pid = f" (pid {holder})" if holder.isdigit() else ""
                raise LightupError(
                    f"{str(self.run_dir)!r} is in use by another lightup process{pid}; wait for it or use "
                    "another folder"
                ) from None
            # Its last holder may have removed the file between our open and our lock: lock the one there now.
            try:
                current = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                current = False
            if not current:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        (self.run_dir / LOCK).unlink(missing_ok=True)  # while still locked: no one takes it on its way out
        os.close(fd)


def stamp(path: Path) -> tuple[int, ...]:
    """What tells a file from the one written over it (each write of a checkpoint is a new file renamed into
    place); () if there is none."""
    try:
        st = os.stat(path)
    except OSError:  # not there, or under a file: whoever reads it says so
        return ()
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


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
