"""Command-line parsing shared by the subcommands: a config dataclass read by tyro, one-line usage errors."""

from __future__ import annotations

import contextlib
import io
from typing import Annotated, TypeVar

import tyro

from lightup.errors import LightupError

T = TypeVar("T")

# Config fields that may be left at None (a default worked out later); --help shows the plain type.
MaybeInt = Annotated[int | None, tyro.conf.arg(metavar="INT")]
MaybeFloat = Annotated[float | None, tyro.conf.arg(metavar="FLOAT")]
MaybeBool = Annotated[bool | None, tyro.conf.arg(metavar="{True,False}")]
MaybeStr = Annotated[str | None, tyro.conf.arg(metavar="STR")]


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
    """What went wrong, from tyro's error box, on one line without the box drawing. For a field that may be
    None (its env family's default), the reason the value is not of the field's own type."""
    lines = [line.strip(" │╭╮╰╯─\t").lstrip("- ") for line in text.splitlines()]
    skip = ("value error", "usage", "parsing error", "for full helptext")
    first = next((line for line in lines if line and not line.lower().startswith(skip)), "")
    if "no type matching" in first:
        own = [line.split(">: ", 1)[1] for line in lines if line.startswith("<class '") and ">: " in line]
        own = [reason for reason in own if "does not match choices ('None',)" not in reason]
        if own:
            return f"{first.split(': ', 1)[0]}: {own[0]}"
    return first
