"""The one way lightup reads JSON a user may hand it: a checkpoint's metadata, config.json, metrics.jsonl
lines, a bench's runs.jsonl and config.json.

Each document is capped in bytes and in nesting depth before it is parsed, so a hostile file (nested 100k
deep, or gigabytes long) is a one-line LightupError naming the file, never a RecursionError or an hour of
parsing. The depth is counted by a scan that does not recurse.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lightup.errors import LightupError


class JsonLimitError(LightupError):
    """A JSON document past a cap (bytes, depth): a hostile file, refused even where a corrupt one is only
    skipped or shown as unreadable."""


class JsonSyntaxError(LightupError):
    """A document that is not JSON; ``reason`` is the parser's word for it."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


MAX_DEPTH = 64  # lightup writes at most 4 levels (a config's command, an optimizer's param groups)
MiB = 2**20
MAX_FILE_BYTES = 16 * MiB  # a config.json, a bench's config.json: a few KiB as written
MAX_LINE_BYTES = 1 * MiB  # one metrics or runs.jsonl record: under a KiB as written
MAX_LINES_BYTES = 1024 * MiB  # a whole .jsonl file

# A JSON string (no raw newline can be in one), or a bracket outside strings.
_TOKENS = re.compile(r'"(?:[^"\\\n]|\\.)*"|[\[\]{}]')


def depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (0 for a bare number or string)."""
    level = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            level += 1
            deepest = max(deepest, level)
        elif token in ("]", "}"):
            level -= 1
    return deepest


def loads(text: str | bytes, what: str, max_bytes: int = MAX_FILE_BYTES, unique_keys: bool = False) -> Any:
    """Parse JSON ``text`` read from ``what`` (a file, named in the error), within the caps; anything that
    is not JSON or breaks a cap is a one-line LightupError. ``unique_keys``: a key given twice in an object
    is refused (a config file a person wrote), rather than the last one kept."""
    if len(text) > max_bytes:
        raise JsonLimitError(f"{what} holds {len(text):,} bytes of JSON, more than the {max_bytes:,} allowed")
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    deepest = depth(text)
    if deepest > MAX_DEPTH:
        raise JsonLimitError(f"{what} holds JSON nested {deepest} deep, more than the {MAX_DEPTH} allowed")
    try:
        return json.loads(text, object_pairs_hook=_unique if unique_keys else None)
    except (ValueError, RecursionError) as err:  # ValueError: not JSON, or an integer of 4300+ digits
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        if "integer string conversion" in reason:  # Python's advice (sys.set_int_max_str_digits) is not ours
            reason = "an integer of more than 4300 digits"
        raise JsonSyntaxError(f"{what} is not valid JSON ({reason})", reason) from None


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} is given twice; give it once")
        out[key] = value
    return out


def read_json(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> Any:
    """A JSON file, read within the caps (its size is checked before it is read)."""
    path = Path(path)
    what = repr(str(path))
    if path.exists() and not path.is_file():  # a FIFO or a device would block or never end
        raise LightupError(f"{what} is not a regular file; pass the file lightup wrote")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise JsonLimitError(f"{what} holds {size:,} bytes, more than the {max_bytes:,} allowed for JSON")
        data = path.read_bytes()
    except OSError as err:
        raise LightupError(f"cannot read {what} ({err.strerror or type(err).__name__})") from None
    return loads(data, what, max_bytes)


def read_lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of each line of a .jsonl file, the whole file and each line within the caps; a
    line cut short (no newline at the end) is given as it is."""
    path = Path(path)
    what = repr(str(path))
    if not path.is_file():  # a FIFO or a device would block or never end
        raise LightupError(f"{what} is not a regular file; pass the file lightup wrote")
    if path.stat().st_size > MAX_LINES_BYTES:
        raise JsonLimitError(
            f"{what} holds more than the {MAX_LINES_BYTES:,} bytes allowed for a .jsonl file"
        )
    with open(path, "rb") as f:
        for number, line in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(line) > MAX_LINE_BYTES:
                raise JsonLimitError(
                    f"{what} line {number} is longer than the {MAX_LINE_BYTES:,} bytes allowed for one record"
                )
            yield number, line.decode("utf-8", errors="replace")


def line_record(line: str, what: str) -> Any:
    """One .jsonl line parsed within the caps (``what`` names the file and line)."""
    return loads(line, what, MAX_LINE_BYTES)
