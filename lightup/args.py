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


def default_hint(default: str) -> str:
    """tyro's "(default: X)" after a flag's help, left out for None: a field left at None is a default
    worked out later, which its help names itself ("(default: the recipe's)")."""
    if default == "None":
        return ""
    return f"(default: {default or 'none'})"  # an empty list of options, say


# Config fields that may be left at None (a default worked out later); --help shows the plain type, and the
# field's help says where its default comes from.
MaybeInt = Annotated[int | None, tyro.conf.arg(metavar="INT", help_behavior_hint=default_hint)]
MaybeFloat = Annotated[float | None, tyro.conf.arg(metavar="FLOAT", help_behavior_hint=default_hint)]
MaybeBool = Annotated[bool | None, tyro.conf.arg(metavar="{True,False}", help_behavior_hint=default_hint)]
MaybeStr = Annotated[str | None, tyro.conf.arg(metavar="STR", help_behavior_hint=default_hint)]
Strings = Annotated[tuple[str, ...], tyro.conf.arg(help_behavior_hint=default_hint)]


def parse_config(cls: type[T], argv: list[str], command: str, note: str = "", default: T | None = None) -> T:
    """Parse ``argv`` into ``cls`` with tyro, as ``lightup COMMAND`` does (see `lightup.cli`): ``--help``
    prints the help and exits, and anything tyro rejects is a one-line LightupError (`usage_error`).
    ``default``: an instance whose values stand in for the class's defaults."""
    prog = f"lightup {command}"
    if any(a in ("-h", "--help") for a in argv):
        # prints the help and exits 0 (a number out of range is refused naming its range)
        return tyro.cli(cls, args=["--help"], prog=prog, description=note or None)
    check_given_once(argv, prog)
    check_not_empty(argv, prog)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            return tyro.cli(cls, args=list(argv), prog=prog, console_outputs=True, default=default)
    except SystemExit:
        raise usage_error(printed.getvalue(), cls, argv, prog) from None


def check_given_once(argv: list[str], prog: str) -> None:
    """A flag given twice is refused (tyro would keep the last without a word)."""
    named = flag_names(argv)
    twice = next((name for name in named if named.count(name) > 1), None)
    if twice is not None:
        raise LightupError(f"--{twice} is given twice to `{prog}`; give it once (see `{prog} --help`)")


def check_not_empty(argv: list[str], prog: str) -> None:
    """An empty value ('', '  ' or ``--flag=``) is refused: no path, id or name lightup takes is empty, and
    tyro would take '' as given (``Path('')`` is the current folder) or a field as unset (its default)."""
    flag = None
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            flag, eq, value = arg.partition("=")
            if eq and not value.strip():
                raise LightupError(
                    f"{flag} is given an empty value; give a value or leave it out (see `{prog} --help`)"
                )
        elif not arg.strip():
            what = f"{flag} is given an empty value" if flag else "an empty argument '' is given"
            raise LightupError(f"{what}; give a value or leave it out (see `{prog} --help`)")


def usage_error(text: str, cls: type, argv: list[str], prog: str) -> LightupError:
    """What tyro printed on rejecting ``argv`` (for ``cls``, the command ``prog``), as one line: tyro's
    own message and its "did you mean" suggestions, without the box drawing."""
    reason = (_bad_choice(cls, argv) if "invalid choice" in text else "") or _error_text(text)
    return LightupError(
        f"bad arguments to `{prog}`{': ' + reason if reason else ''} (see `{prog} --help`): " + " ".join(argv)
    )


def flag_names(argv: list[str]) -> list[str]:
    """The field names that ``argv``'s flags set, in order: ``--n-envs 4`` and ``--n-envs=4`` give
    n-envs, and ``--no-quiet`` gives quiet (tyro's negated boolean)."""
    names = []
    for arg in argv:
        if arg.startswith("--") and len(arg) > 2:
            name = arg[2:].split("=", 1)[0]
            names.append(name.removeprefix("no-").replace("_", "-"))
    return names


def _error_text(text: str) -> str:
    """What went wrong, from tyro's error box, on one line without the box drawing: the box's first
    section (its lines unwrapped), and tyro's suggestion if it made one. For a field that may be None (its
    env family's default), the reason the value is not of the field's own type."""
    lines = [line.strip(" │╭╮╰╯─\t") for line in text.splitlines()]
    sections: list[list[str]] = [[]]
    for line in lines[1:]:  # the first line is the box's title
        if line and set(line) <= set("-━─"):
            sections.append([])
        elif line:
            sections[-1].append(line.lstrip("- ") if line.startswith("- ") else line)
    body = [s for s in sections if s]
    if not body:
        return ""
    first = " ".join(body[0][:1] + [x for x in body[0][1:] if not x.startswith(("Got errors", "<class"))])
    first = first.split(" Got errors:")[0].strip()
    if "no type matching" in first:
        own = [line.split(">: ", 1)[1] for line in body[0] if line.startswith("<class '") and ">: " in line]
        own = [reason for reason in own if "does not match choices ('None',)" not in reason]
        if own:
            first = f"{first.split(': ', 1)[0]}: {own[0]}"
    for section in body[1:]:
        if section[0].lower().startswith("perhaps you meant") and len(section) > 1:
            # tyro lists each flag it suggests, then that flag's help, indented below it
            flags = [line for line in section[1:] if line.startswith("-")]
            first += f"; did you mean {' or '.join(flags or section[1:2])}?"
            break
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
        if _unannotated(hint) is bool:
            continue  # a plain boolean flag takes no value: --quiet, --no-quiet
        if allowed is not None and value not in allowed:
            return f"{flag} must be one of {', '.join(allowed)}, got {value!r}"
    return ""
