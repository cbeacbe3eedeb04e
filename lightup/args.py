"""Command-line parsing shared by the subcommands: a config dataclass read by tyro, one-line usage errors."""

from __future__ import annotations

import contextlib
import io
from typing import TypeVar

import tyro

from lightup.errors import LightupError

T = TypeVar("T")


def parse_config(cls: type[T], argv: list[str], command: str) -> T:
    """Parse ``argv`` into ``cls`` with tyro; ``--help`` prints the help and exits, and anything tyro
    rejects becomes a one-line LightupError that points at ``lightup COMMAND --help``."""
    prog = f"lightup {command}"
    if any(a in ("-h", "--help") for a in argv):
        return tyro.cli(cls, args=["--help"], prog=prog)  # prints the help and exits 0
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            return tyro.cli(cls, args=list(argv), prog=prog, console_outputs=False)
    except SystemExit:
        reason = _first_error_line(printed.getvalue())
        raise LightupError(
            f"bad arguments to `{prog}`{': ' + reason if reason else ''} (see `{prog} --help`): "
            + " ".join(argv)
        ) from None


def _first_error_line(text: str) -> str:
    """The first line of tyro's error box that says what went wrong, without the box drawing."""
    for line in text.splitlines():
        line = line.strip(" │╭╮╰╯─-\t")
        if line and not line.lower().startswith(
            ("value error", "usage", "parsing error", "for full helptext")
        ):
            return line
    return ""
