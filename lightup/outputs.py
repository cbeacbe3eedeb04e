"""Where commands may write: output paths checked before any work starts, and folders told apart.

A training run folder holds a ``lightup-run`` marker (written by `lightup train` before anything else), a
bench results folder a ``lightup-bench`` marker; folders made before the markers are known by their files
(a checkpoint or metrics.jsonl; a runs.jsonl). Each command refuses the other kind of folder, and no
command writes over a file it did not make for that purpose unless given ``--force``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from lightup.errors import LightupError

RUN_MARKER = "lightup-run"
BENCH_MARKER = "lightup-bench"
FolderKind = Literal["run", "bench"]
NAME_MAX = 255


def folder_kind(path: str | Path) -> FolderKind | None:
    """run: a folder made by `lightup train`; bench: one made by `lightup bench`; None: anything else."""
    path = Path(path)
    if not path.is_dir():
        return None
    if (path / RUN_MARKER).is_file() or (path / "checkpoint.safetensors").is_file():
        return "run"
    if (path / BENCH_MARKER).is_file() or (path / "runs.jsonl").is_file():
        return "bench"
    if (path / "metrics.jsonl").is_file():
        return "run"
    return None


def mark(path: str | Path, kind: FolderKind) -> None:
    """Write the marker of a folder this command has just made its own."""
    marker = Path(path) / (RUN_MARKER if kind == "run" else BENCH_MARKER)
    if not marker.exists():
        what = "a training run of `lightup train`" if kind == "run" else "the results of `lightup bench`"
        marker.write_text(f"This folder holds {what}.\n", encoding="utf-8")


# What to say when a command is handed the other kind of folder.
_USE = {
    "run": "a training run folder (made by `lightup train`): see it with `lightup report`, `inspect` or "
    "`watch`",
    "bench": "a bench results folder (made by `lightup bench`): write its report again with "
    "`lightup bench --report DIR`",
}


def refuse_kind(path: str | Path, wanted: FolderKind, flag: str) -> None:
    """A one-line error if ``path`` is a folder of the other kind than ``wanted``."""
    kind = folder_kind(path)
    if kind is not None and kind != wanted:
        raise LightupError(f"{flag} {str(path)!r} is {_USE[kind]}, not a {wanted} folder")


def check_run_folder(run_dir: str | Path) -> Path:
    """``run_dir`` as a Path if it is a folder and not one of another kind (a bench's), else a one-line
    error: checked before an output path next to it, so that a file given as RUN_DIR is named as such."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "is a file, not a run folder" if run_dir.exists() else "not found"
        raise LightupError(f"run folder {str(run_dir)!r} {what}; pass a folder made by `lightup train`")
    refuse_kind(run_dir, "run", "RUN_DIR")
    return run_dir


def check_folder(path: str | Path, flag: str, given: str | Path | None = None) -> None:
    """``path`` is a folder this process can write in, or one it can make (nothing is made here): not a
    file, not under a file, not read-only, not in /proc. A one-line error naming ``flag`` and the path
    ``given`` to it (default ``path``) otherwise."""
    path = Path(path)
    shown = str(given if given is not None else path)
    _check_names(path, flag, shown)
    for part in (path, *path.parents):  # a link to nothing reads as missing, and making it fails
        if part.is_symlink() and not part.exists():
            raise LightupError(
                f"{flag} {shown!r} cannot be made: {str(part)!r} is a link that leads nowhere (its target is "
                f"missing, or links loop); pick another {flag}"
            )
    if path.exists() and not path.is_dir():
        if given is not None:
            raise LightupError(f"{flag} {shown!r} cannot be made: {str(path)!r} is a file, not a folder")
        raise LightupError(f"{flag} {shown!r} is a file, not a folder; pick another {flag}")
    base = path
    while not base.exists() and base != base.parent:
        base = base.parent
    if not base.is_dir():
        raise LightupError(f"{flag} {shown!r} cannot be made: {str(base)!r} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".lightup-probe.", dir=base)
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise LightupError(
            f"{flag} {shown!r} cannot be written: {str(base)!r} is not writable "
            f"({err.strerror or type(err).__name__}); pick another {flag}"
        ) from None


def _check_names(path: Path, flag: str, shown: str) -> None:
    """Each name in ``path`` fits the file system (255 bytes on Linux and macOS): a longer one, e.g. a run
    name from a long --exp-name, would fail only when written."""
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise LightupError(
                f"{flag} {shown[:80]!r}... has a name of {len(os.fsencode(part))} bytes; names are at most "
                f"{NAME_MAX}"
            )


def check_file(
    path: str | Path,
    flag: str,
    force: bool = False,
    own: Callable[[Path], bool] | None = None,
    reads: str | Path | None = None,
) -> None:
    """``path`` can be written as a new file, or replaces one that ``own(path)`` says this command made
    (or any file with ``force``, except a file in the folder ``reads``, the run the command reads, that
    ``own`` does not recognise: --force does not let a report replace its run's checkpoint). A one-line
    error naming ``flag`` (and ``--force``) otherwise."""
    path = Path(path)
    _check_names(path, flag, str(path))
    if path.is_dir():
        raise LightupError(f"{flag} {str(path)!r} is a folder; give the path of a file")
    if path.exists() or path.is_symlink():
        if not path.is_file():
            raise LightupError(f"{flag} {str(path)!r} is not a regular file; pick another {flag}")
        mine = own is not None and own(path)
        if reads is not None and not mine and path.resolve().parent == Path(reads).resolve():
            raise LightupError(
                f"{flag} {str(path)!r} is a file of the run this command reads, not an output of it; pick "
                f"another {flag}"
            )
        if not force and not mine:
            raise LightupError(
                f"{flag} {str(path)!r} already exists and this command did not write it; pick another "
                f"{flag}, or add --force to overwrite it"
            )
    check_folder(path.parent, flag, path)


# The first bytes of every report (lightup.viz.report writes it; a run folder's check reads it): a file that
# starts so is an earlier report, rewritten without --force.
REPORT_SIGNATURE = b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n<title>lightup report: '


def starts_with(prefix: bytes) -> Callable[[Path], bool]:
    """``own`` for `check_file`: a file whose first bytes are ``prefix`` (an earlier output's signature)."""

    def own(path: Path) -> bool:
        with open(path, "rb") as f:
            return f.read(len(prefix)) == prefix

    return own
