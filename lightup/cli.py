"""The ``lightup`` command: a thin dispatcher; each subcommand parses its own arguments.

User errors (``LightupError``) print one line and exit with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import sys

# subcommand -> (module, function, one-line help). Modules are imported only when their command runs,
# so `lightup play` never pays for torch or matplotlib.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "games": ("lightup.demo", "main", "what a perfect and a random agent score on each lightup game"),
    "train": ("lightup.training.cli", "main", "train a Decision Transformer online (default: CartPole-v1)"),
    "play": ("lightup.envs.play", "main", "play a lightup game in the terminal"),
    "bench": ("lightup.bench.cli", "main", "benchmark agents against SB3 PPO and DQN over many seeds"),
    "doctor": (
        "lightup.doctor.cli",
        "main",
        "find where a learning agent is broken: checks, a ladder, alarms",
    ),
    "report": ("lightup.viz.report", "main", "write a run's report.html: plots, return following, video"),
    "inspect": ("lightup.viz.inspector", "main", "one episode of a run's policy, step by step, as a table"),
    "watch": ("lightup.viz.watch", "main", "render episodes of a run's policy to a GIF or MP4"),
}


def _usage() -> str:
    lines = ["usage: lightup COMMAND [options]   (add --debug to see tracebacks; --version)", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from lightup.errors import LightupError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0 if argv else 2
    if argv[0] == "--version":
        from lightup import __version__

        print(f"lightup {__version__}")
        return 0
    command, rest = argv[0], argv[1:]
    try:
        if command not in COMMANDS:
            raise LightupError(f"unknown command {command!r}; choose one of: {', '.join(COMMANDS)}")
        module, function, _ = COMMANDS[command]
        return int(getattr(importlib.import_module(module), function)(rest) or 0)
    except LightupError as err:
        if debug:
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
