"""Run logging: an append-only JSONL metrics file and TensorBoard, with tags SB3 and CleanRL users know."""

from __future__ import annotations

import json
import math
from pathlib import Path

from lightup.errors import LightupError


class RunLogger:
    """Writes each record as one JSON line (flushed, so a killed run keeps every finished line) and mirrors
    numeric values to TensorBoard. Nothing is kept in memory."""

    def __init__(self, run_dir: Path, tensorboard: bool = True):
        self.path = run_dir / "metrics.jsonl"
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (closed in close())
        self._tb = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir))

    def log(self, step: int, metrics: dict[str, float | int | str]) -> None:
        clean = {
            k: (v if not isinstance(v, float) or math.isfinite(v) else str(v)) for k, v in metrics.items()
        }
        self._file.write(json.dumps({"step": step, **clean}) + "\n")
        self._file.flush()
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
