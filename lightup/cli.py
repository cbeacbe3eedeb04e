"""The ``lightup`` command: one tyro app, a subcommand for each job.

Each subcommand's arguments are a dataclass in a module that imports no torch; the module that does the
job is imported only when it runs, so ``lightup play`` never pays for torch or matplotlib.

Exit codes: 0 done, 2 bad input (a one-line ``error:``; ``--debug`` shows the traceback), 130 or 143 a run
stopped by SIGINT or SIGTERM after its checkpoint was saved, 1 a failure (a check that failed, or an
unexpected exception, whose traceback is shown).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import select
import sys
import traceback
from typing import Annotated, Any, NamedTuple, Union


class Command(NamedTuple):
    args: str
    """``module:Class``: the dataclass of the command's arguments (cheap to import)."""
    run: str
    """``module:function``: does the job with the parsed arguments and returns the exit code."""
    help: str
    defaults: str | None = None
    """``module:function``: argv -> the arguments' defaults (a config file read, say), or None."""


COMMANDS: dict[str, Command] = {
    "games": Command("lightup.demo:GamesArgs", "lightup.demo:run", "how a perfect and a random agent score"),
    "train": Command(
        "lightup.training.cli:TrainArgs",
        "lightup.training.cli:run",
        "train a Decision Transformer online, or --resume a run",
        "lightup.training.cli:defaults",
    ),
    "play": Command("lightup.envs.play:PlayArgs", "lightup.envs.play:run", "play a game in the terminal"),
    "bench": Command(
        "lightup.bench.config:BenchConfig",
        "lightup.bench.cli:run",
        "benchmark agents against SB3 peers over many seeds",
    ),
    "doctor": Command(
        "lightup.doctor.cli:DoctorConfig",
        "lightup.doctor.cli:run",
        "find where a learning agent is broken: checks, a ladder, alarms",
    ),
    "report": Command("lightup.viz.args:ReportArgs", "lightup.viz.report:run", "write a run's report.html"),
    "inspect": Command(
        "lightup.viz.args:InspectArgs",
        "lightup.viz.inspector:run",
        "one episode of a run's policy as a table",
    ),
    "watch": Command(
        "lightup.viz.args:WatchArgs", "lightup.viz.watch:run", "render a run's episodes to a GIF"
    ),
}

DESCRIPTION = (
    "lightup: online Decision Transformers and a doctor that finds why an agent does not learn. "
    "Add --debug to see tracebacks; lightup --version prints the version."
)


def _attr(spec: str) -> Any:
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def app(command: str | None = None, default: Any = None) -> Any:
    """The tyro app: a union of every command's arguments; ``default`` is ``command``'s defaults."""
    import tyro

    options = []
    for name, cmd in COMMANDS.items():
        cls = _attr(cmd.args)
        description = f"{cmd.help[0].upper()}{cmd.help[1:]}."
        if name == command:  # its own --help: what it may take
            description = " ".join(x for x in (description, getattr(cls, "NOTE", "")) if x)
        extra = {"default": default} if name == command and default is not None else {}
        options.append(Annotated[cls, tyro.conf.subcommand(name, description=description, **extra)])
    return Union[tuple(options)]  # noqa: UP007 (a union built at run time)


def parse(argv: list[str]) -> tuple[str, Any]:
    """``argv`` (without ``--debug``) -> (the command, its parsed arguments). ``--help`` prints and exits 0;
    anything tyro rejects is a one-line LightupError with tyro's own message and suggestions."""
    import tyro

    from lightup.args import check_given_once, check_not_empty, usage_error
    from lightup.errors import LightupError

    command = argv[0] if argv and argv[0] in COMMANDS else None
    if command is None and argv[:1] not in (["-h"], ["--help"]):
        given = f"unknown command {argv[0]!r}" if argv else "no command given"
        raise LightupError(f"{given}; choose one of: {', '.join(COMMANDS)} (see `lightup --help`)")
    rest = argv[1:] if command else argv
    default = _attr(COMMANDS[command].defaults)(rest) if command and COMMANDS[command].defaults else None
    if any(a in ("-h", "--help") for a in argv):  # tyro prints the help and exits 0
        return tyro.cli(app(command, default), args=argv, prog="lightup", description=DESCRIPTION)
    check_given_once(rest, f"lightup {command}")
    check_not_empty(rest, f"lightup {command}")
    printed = io.StringIO()
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            args = tyro.cli(app(command, default), args=argv, prog="lightup", console_outputs=True)
    except SystemExit:
        cls = _attr(COMMANDS[command].args)
        raise usage_error(printed.getvalue(), cls, rest, f"lightup {command}") from None
    return command, args


def main(argv: list[str] | None = None) -> int:
    from lightup.errors import LightupError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if argv == ["--version"]:
        from lightup import __version__

        print(f"lightup {__version__}")
        return 0
    try:
        try:
            command, args = parse(argv)
        except SystemExit as exit_:  # --help
            return int(exit_.code or 0)
        return int(_attr(COMMANDS[command].run)(args) or 0)
    except LightupError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError as err:
        if not _stdout_closed():  # a pipe of the run's own (a vector env's worker): a failure like any other
            return _unexpected(err)
        # the reader of stdout left (`lightup train --help | head`): nothing is wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit is quiet
        return 0
    except KeyboardInterrupt:  # outside a run's loop, which saves its checkpoint and returns 130 itself
        return 130
    except Exception as err:  # noqa: BLE001 (a bug, in lightup or in a user's env or policy)
        return _unexpected(err)


def _unexpected(err: Exception) -> int:
    traceback.print_exception(err)
    print(f"error: unexpected {type(err).__name__} (a bug: the traceback is above)", file=sys.stderr)
    return 1


def _stdout_closed() -> bool:
    """Whether stdout is a pipe whose reader has gone (the write end of such a pipe polls as an error)."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        return True
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


if __name__ == "__main__":
    sys.exit(main())
