"""Command-line parsing shared by the subcommands: a config dataclass read by tyro, one-line usage errors."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import types
import typing
from typing import Annotated, Literal, TypeVar

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
        reason = _first_error_line(printed.getvalue()) or _bad_choice(cls, argv)
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


def _unannotated(hint: typing.Any) -> typing.Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is Annotated else hint


def may_be_none(hint: typing.Any) -> bool:
    """Whether a config field of type ``hint`` may be None (a default worked out later)."""
    return type(None) in typing.get_args(_unannotated(hint))


def choices(hint: typing.Any) -> list[str] | None:
    """The values a config field of type ``hint`` takes, as strings: a Literal's (also one that may be None,
    a default worked out later), or True and False; None for any other type."""
    hint = _unannotated(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1:
        hint = args[0]  # X | None
    if typing.get_origin(hint) is Literal:
        return [str(c) for c in typing.get_args(hint)]
    if hint is bool:
        return ["True", "False"]
    return None


def _bad_choice(cls: type, argv: list[str]) -> str:
    """The first ``--flag value`` whose value is not among the flag's choices (a Literal, or true/false):
    tyro rejects it without a word under ``console_outputs=False``. '' when there is none."""
    for flag, value in zip(argv, argv[1:], strict=False):
        if not flag.startswith("--"):
            continue
        hint: typing.Any = cls
        for name in flag[2:].replace("-", "_").split("."):  # --command.kind: a field of a nested dataclass
            is_class = dataclasses.is_dataclass(hint)
            hint = (typing.get_type_hints(hint, include_extras=True) if is_class else {}).get(name)
        allowed = choices(hint)
        if allowed is not None and value not in allowed:
            return f"{flag} must be one of {', '.join(allowed)}, got {value!r}"
    return ""
