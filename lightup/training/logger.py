"""Run logging: an append-only JSONL metrics file and TensorBoard, with tags SB3 and CleanRL users know."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lightup.checkpoint import atomic_write
from lightup.errors import LightupError
from lightup.jsonfile import MAX_LINE_BYTES


class RunLogger:
    """Writes each record as one JSON line (flushed, so a killed run keeps every finished line) and mirrors
    numeric values to TensorBoard. Nothing is kept in memory."""

    def __init__(self, run_dir: Path, tensorboard: bool = True, purge_step: int | None = None):
        """``purge_step``: a run resumed from the checkpoint of step S passes S + 1, so TensorBoard hides the
        events an earlier try logged after S (its ``SummaryWriter(purge_step=)``); metrics.jsonl is cut back
        before, by `trim_metrics`."""
        self.run_dir = run_dir
        self.path = run_dir / "metrics.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir), purge_step=purge_step)

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
        if self._tb is not None:
            for tag, value in metrics.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(tag, value, step)

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


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
        if isinstance(step, int) and not isinstance(step, bool):
            records.append(record)
    return records


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
