"""Run logging: an append-only JSONL metrics file, TensorBoard (scalars and the run's hyperparameters) and,
with ``--track``, Weights & Biases; with tags SB3 and CleanRL users know, meaning what they mean there."""

from __future__ import annotations

import json
import math
import os
from collections import deque
from pathlib import Path
from typing import Any

import numpy as np

from lightup.checkpoint import atomic_write
from lightup.errors import LightupError
from lightup.jsonfile import MAX_LINE_BYTES

WINDOW = 100  # SB3's ep_info_buffer: the rollout/ep_* means are over the last 100 finished episodes
# The metrics TensorBoard's HParams table shows beside each run's hyperparameters (their last values).
HPARAM_METRICS = ("eval/mean_reward", "rollout/ep_rew_mean")
WANDB_EXTRA = "pip install 'lightup[wandb]'"


class EpisodeWindow:
    """The return, length and command of the last `WINDOW` finished episodes, as SB3's ``ep_info_buffer``:
    ``rollout/ep_rew_mean`` and ``rollout/ep_len_mean`` are their means (``rollout/commanded_return`` the
    mean command of the same episodes). Saved in the checkpoint, so a resumed run logs what it would have."""

    def __init__(self, size: int = WINDOW):
        self.rows: deque[tuple[float, float, float]] = deque(maxlen=size)

    def add(self, ret: float, length: int, commanded: float) -> None:
        self.rows.append((float(ret), float(length), float(commanded)))

    def metrics(self) -> dict[str, float]:
        if not self.rows:
            return {}
        ret, length, commanded = np.mean(np.array(self.rows), axis=0)
        return {
            "rollout/ep_rew_mean": float(ret),
            "rollout/ep_len_mean": float(length),
            "rollout/commanded_return": float(commanded),
        }

    def state(self) -> np.ndarray:
        """float64 (episodes, 3): return, length, command, oldest first."""
        return np.array(self.rows, dtype=np.float64).reshape(-1, 3)

    def restore(self, rows: np.ndarray) -> None:
        """The window a checkpoint saved (`state`); anything else is a ValueError."""
        rows = np.asarray(rows)
        if (
            rows.ndim != 2
            or rows.shape[1] != 3
            or len(rows) > self.rows.maxlen
            or not np.isfinite(rows).all()
        ):
            raise ValueError(f"episode window of shape {rows.shape} (at most {self.rows.maxlen} x 3, finite)")
        self.rows.clear()
        self.rows.extend(tuple(map(float, row)) for row in rows)


class RunLogger:
    """Writes each record as one JSON line (flushed, so a killed run keeps every finished line) and mirrors
    numeric values to TensorBoard and, with ``track``, to Weights & Biases. Nothing is kept in memory."""

    def __init__(
        self,
        run_dir: Path,
        tensorboard: bool = True,
        purge_step: int | None = None,
        hparams: dict[str, Any] | None = None,
        track: bool = False,
        project: str = "lightup",
    ):
        """``purge_step``: a run resumed from the checkpoint of step S passes S + 1, so TensorBoard hides the
        events an earlier try logged after S (its ``SummaryWriter(purge_step=)``); metrics.jsonl is cut back
        before, by `trim_metrics`. ``hparams``: the run's config, for TensorBoard's HParams and W&B."""
        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self._tb = self._wandb = None
        flat = flat_hparams(hparams or {})
        if track:  # first: a missing wandb leaves no file open
            self._wandb = _wandb_run(run_dir, project, flat)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams as hparams_summary

            self._tb = SummaryWriter(str(run_dir), purge_step=purge_step)
            if flat:
                writer = self._tb._get_file_writer()
                # the HParams plugin pairs these with the scalars of the same tags in this run's folder
                for summary in hparams_summary(flat, dict.fromkeys(HPARAM_METRICS, 0.0)):
                    writer.add_summary(summary)

    def log(self, step: int, metrics: dict[str, float | int | str]) -> None:
        clean = {
            k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in metrics.items()
        }
        try:
            self._file.write(json.dumps({"step": step, **clean}) + "\n")
            self._file.flush()
        except OSError as err:  # a full disk: the line may be torn, which the next start repairs
            raise LightupError(
                f"could not write {str(self.path)!r} ({err.strerror or err}); the run's checkpoint is "
                f"untouched: free space, then lightup train --resume {self.run_dir}"
            ) from None
        numbers = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        if self._tb is not None:
            for tag, value in numbers.items():
                self._tb.add_scalar(tag, value, step)
        if self._wandb is not None:
            self._wandb.log(numbers, step=step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def flat_hparams(config: dict[str, Any], prefix: str = "") -> dict[str, int | float | str | bool]:
    """A config as TensorBoard's HParams takes it: nested fields as ``command.kind``, None and lists as
    text."""
    flat: dict[str, int | float | str | bool] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(flat_hparams(value, f"{prefix}{key}."))
        elif isinstance(value, int | float | str | bool):
            flat[prefix + key] = value
        else:
            flat[prefix + key] = str(list(value) if isinstance(value, tuple) else value)
    return flat


def _wandb_run(run_dir: Path, project: str, config: dict) -> Any:
    """A W&B run named after the run folder, its files under $WANDB_DIR (default: the run folder); a
    resumed run is a new W&B run from the step it resumes at. A run W&B refuses to start (no API key, no
    network, a project that is not the user's) is a one-line LightupError that says how to go on."""
    try:
        import wandb
    except ImportError:
        raise LightupError(f"--track needs wandb: {WANDB_EXTRA}") from None
    where = os.environ.get("WANDB_DIR") or str(run_dir)
    try:
        return wandb.init(project=project, name=run_dir.name, config=config, dir=where, reinit="create_new")
    except wandb.errors.Error as err:  # UsageError, AuthenticationError, CommError
        reason = " ".join(str(err).split())[:200] or type(err).__name__
        raise LightupError(
            f"--track could not start a W&B run ({reason}); run `wandb login` or set WANDB_API_KEY, set "
            "WANDB_MODE=offline to log only on this machine, or drop --track"
        ) from None


def read_metrics(run_dir: str | Path) -> list[dict]:
    """All complete records of a run's metrics file (a half-written last line, from a kill, is skipped).

    The file is data, never code: a line that is not a JSON object with an integer ``step`` (binary bytes,
    a list, a string) is skipped like a torn line, so a damaged or hostile file cannot crash a reader."""
    from lightup.jsonfile import JsonLimitError, line_record, read_lines

    records = []
    path = Path(run_dir) / "metrics.jsonl"
    for number, line in read_lines(path):  # a line or a file past the caps is a one-line error
        try:
            record = line_record(line, f"{str(path)!r} line {number}")
        except JsonLimitError:
            raise
        except LightupError:
            continue
        step = record.get("step") if isinstance(record, dict) else None
        if isinstance(step, int) and not isinstance(step, bool) and abs(step) <= MAX_STEP:
            records.append(_finite_ints(record))
    return records


MAX_STEP = 2**63 - 1  # a step past int64 is no step a run logged: its line is skipped like a torn one
MAX_FLOAT_INT = 2**1023  # an integer past this has no float (10**400): read as an infinity, as JSON's


def _finite_ints(record: dict) -> dict:
    """``record`` with each integer value too big for a float read as +-inf (a non-finite value, as a
    JSON ``Infinity`` is read), so that no reader's ``float(value)`` raises OverflowError."""
    for key, value in record.items():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_FLOAT_INT:
            record[key] = math.inf if value > 0 else -math.inf
    return record


def trim_metrics(path: str | Path, last_step: int) -> int:
    """Cut a metrics file back to the records of steps up to ``last_step`` (those of the checkpoint a run
    resumes from) and drop a torn last line, so the resumed run appends after a whole line and logs no step
    twice. Rewritten atomically, only if something goes; returns the number of lines dropped.

    Lines that are not records (unreadable, hostile) are kept as they are: `read_metrics` skips them."""
    path = Path(path)
    if not path.is_file():
        return 0
    with open(path, "rb") as f:
        dropped = sum(1 for line in f if not _kept(line, last_step))
    if dropped:

        def write(tmp: str) -> None:  # streamed: the file is never held in memory
            with open(path, "rb") as src, open(tmp, "wb") as dst:
                dst.writelines(line for line in src if _kept(line, last_step))

        atomic_write(path, write)
    return dropped


def _kept(line: bytes, last_step: int) -> bool:
    return line.endswith(b"\n") and _step_of(line) <= last_step


def _step_of(line: bytes) -> int | float:
    """The ``step`` of a metrics line; -inf for a line that is not a record (so it is never dropped)."""
    from lightup.jsonfile import loads

    try:
        record = loads(line, "a metrics line", MAX_LINE_BYTES)  # depth and size capped
    except LightupError:
        return -math.inf
    step = record.get("step") if isinstance(record, dict) else None
    return step if isinstance(step, int) and not isinstance(step, bool) else -math.inf
