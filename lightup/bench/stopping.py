"""How a stopped bench ends: SIGTERM taken as Ctrl-C, and the one line that says how to go on."""

from __future__ import annotations

import contextlib
import dataclasses
import shlex
import signal
import threading
from collections.abc import Iterator

from lightup.bench.config import BenchConfig


@contextlib.contextmanager
def sigterm_stops() -> Iterator[list[int]]:
    """While open, SIGTERM (a job scheduler's stop, ``kill``) stops the bench as Ctrl-C does: it raises
    KeyboardInterrupt, so the finished runs are kept and the pool's runs stopped (`run_local`). Yields a
    one-item list holding the signal that stopped it (SIGINT unless SIGTERM came). Only the main thread may
    set a handler; elsewhere SIGTERM keeps its own."""
    stopped_by = [signal.SIGINT]
    if threading.current_thread() is not threading.main_thread():
        yield stopped_by
        return

    def stop(signum, frame):
        stopped_by[0] = signum
        # a second SIGTERM (`timeout` passing its own on) is not a request to stop at once: it must not cut
        # the pool's shutdown short, which kills the runs (`run_local`) in place of letting them stop after
        # their round
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, stop)
    try:
        yield stopped_by
    finally:
        signal.signal(signal.SIGTERM, old)


def interrupted_line(config: BenchConfig, args: list[str] | None, signum: int = signal.SIGINT) -> str:
    """The one line a bench stopped by Ctrl-C (or ``signum``) ends with: the runs kept in runs.jsonl, and
    the command that runs only the rest (its own flags ``args`` with --resume; from ``config`` when None)."""
    name, path = signal.Signals(signum).name, config.out_dir / "runs.jsonl"
    try:
        with open(path, "rb") as f:  # a count of finished rows: one line each, read in chunks
            done = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(2**20), b""))
    except OSError:
        return f"{name}: bench stopped before its first run finished; nothing to resume, run it again"
    flags = args if args is not None else _all_flags(config)
    if "--resume" not in flags:
        flags = [*flags, "--resume"]
    return (
        f"{name}: bench stopped with {done} runs kept in {str(path)!r}; run the rest with: "
        f"lightup bench {shlex.join(flags)}"
    )


def _all_flags(config: BenchConfig) -> list[str]:
    """Flags that give ``config`` again (each field not at its default), for a bench run from Python."""
    flags = []
    for field in dataclasses.fields(config):
        value, flag = getattr(config, field.name), "--" + field.name.replace("_", "-")
        if value == field.default or field.name == "report":
            continue
        if isinstance(value, bool):
            flags.append(flag if value else f"--no-{flag[2:]}")
        elif isinstance(value, tuple):
            flags += [flag, *value]
        else:
            flags += [flag, str(value)]
    if config.out is None:  # the folder it wrote to, whatever its defaults become
        flags += ["--out", str(config.out_dir)]
    return flags
