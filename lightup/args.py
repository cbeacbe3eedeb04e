"""Command-line parsing shared by the subcommands: a config dataclass read by tyro, one-line usage errors."""

from __future__ import annotations

from typing import TypeVar

import tyro

from lightup.errors import LightupError

T = TypeVar("T")


def parse_config(cls: type[T], argv: list[str], command: str) -> T:
    """Parse ``argv`` into ``cls`` with tyro; ``--help`` prints the help and exits, and anything tyro
    rejects becomes a one-line LightupError that points at ``lightup COMMAND --help``."""
    prog = f"lightup {command}"
    try:
        return tyro.cli(cls, args=list(argv), prog=prog, console_outputs=False)
    except SystemExit as exit_:
        if exit_.code == 0:  # --help
            tyro.cli(cls, args=["--help"], prog=prog)
            raise
        raise LightupError(f"bad arguments to `{prog}` (see `{prog} --help`): " + " ".join(argv)) from None
