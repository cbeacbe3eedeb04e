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
rather than started again over what it holds; and a folder a new run would write in is checked first
(`check_run_dir`): no bench's results, no file of a run's name that a run did not write.
"""

from __future__ import annotations

import dataclasses
import fcntl
import math
import os
import signal
import traceback
from collections.abc import Callable
from pathlib import Path

from lightup.checkpoint import remove_stale_temps
from lightup.errors import LightupError
from lightup.jsonfile import read_json
from lightup.outputs import check_folder, folder_kind, refuse_kind
from lightup.training.agent import AGENT_FILE
from lightup.training.config import RESUMABLE, TrainConfig
from lightup.training.logger import read_metrics, trim_metrics

METRICS = "metrics.jsonl"
CONFIG = "config.json"
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


def check_run_dir(run_dir: str | Path, flag: str = "--run-dir") -> None:
    """``run_dir`` can take a training run: a folder that can be written (or made), not a bench's results,
    and holding no config.json that a run did not write. Errors name ``flag``, the flag that chose it."""
    check_folder(run_dir, flag)
    refuse_kind(run_dir, "run", flag)
    check_run_files(run_dir)
    config = Path(run_dir) / "config.json"
    if config.exists() and folder_kind(run_dir) is None:
        try:
            fields = read_json(config)
        except LightupError:
            fields = None
        if not isinstance(fields, dict) or not {"env_id", "policy", "context_len"} <= set(fields):
            raise LightupError(
                f"{flag} {str(run_dir)!r} holds a config.json that `lightup train` did not write; pick "
                f"another {flag}"
            )
    if folder_kind(run_dir) is None:  # not a run's folder: no file a run writes may be the user's own
        for name, own in _run_files().items():
            path = Path(run_dir) / name
            if (path.exists() or path.is_symlink()) and not (path.is_file() and own(path)):
                raise LightupError(
                    f"{flag} {str(run_dir)!r} holds a {name} that `lightup train` did not write (a run "
                    f"would overwrite it); move it away or pick another {flag}"
                )


RUN_FILES = ("config.json", "metrics.jsonl", "checkpoint.safetensors", "policy.safetensors", "report.html")


def check_run_files(run_dir: str | Path) -> None:
    """Each file a run writes or appends to in ``run_dir`` is a regular file or absent: a folder (or a FIFO)
    of its name would fail mid-run with IsADirectoryError, or block. A one-line error before anything is
    written otherwise."""
    for name in (*RUN_FILES, "env_errors.log"):
        path = Path(run_dir) / name
        if (path.exists() or path.is_symlink()) and not path.is_file():
            what = "a folder" if path.is_dir() else "not a regular file"
            raise LightupError(
                f"{str(path)!r} is {what}, where a run writes its {name}; move it away or pick another "
                "run folder"
            )


def _run_files() -> dict[str, Callable[[Path], bool]]:
    """The files a run writes in its folder (beside config.json, checked above) and how to tell one it
    wrote: a lightup agent file, a lightup report; env_errors.log is only ever a run's when its folder is a
    run's, so one in another folder is the user's."""
    from lightup.outputs import REPORT_SIGNATURE, starts_with

    def agent_file(path: Path) -> bool:
        from lightup.checkpoint import read_metadata

        try:
            return read_metadata(path).get("format") == "lightup-policy/1"
        except LightupError:
            return False

    return {
        "policy.safetensors": agent_file,
        "report.html": starts_with(REPORT_SIGNATURE),
        "env_errors.log": lambda path: False,
    }


def read_run_config(run_dir: Path) -> TrainConfig:
    """The config a run folder's config.json holds, to start a run that left no checkpoint again."""
    return _read_run_config(run_dir)[1]


def _read_run_config(run_dir: Path) -> tuple[dict, TrainConfig]:
    """A run folder's config.json: its fields as written, and the config they make."""
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
    return fields, dataclasses.replace(config, run_dir=str(run_dir))


def check_same_run(run_dir: Path, checkpoint: Path, written: dict) -> None:
    """The run folder's config.json, if it has one, is the config of the run that wrote ``checkpoint``
    (``written``: the config in its metadata, as written): a checkpoint copied from another run or env, or a
    config.json edited by hand, is refused naming the first field that differs, before the run appends to
    the folder. Fields as the two files hold them: one that either lacks (a file from a version before the
    field) is not compared, nor is a config.json that is not a config at all (the checkpoint alone says
    what the run is)."""
    if not (run_dir / CONFIG).exists():
        return
    try:
        folder = _flat(_read_run_config(run_dir)[0])
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
    if (run_dir / AGENT_FILE).exists():  # written beside each checkpoint
        signs.append(f"it holds the {AGENT_FILE} written beside one")
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
