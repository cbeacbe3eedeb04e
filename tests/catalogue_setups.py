"""The files the cases of the bad-input catalogue (tests/catalogue.py) need: a tiny finished run, copies
of it with a crafted checkpoint or file, a bench results folder, plain files where folders are expected.
Each setup takes (the case's folder, the tiny run) and writes only inside the case's folder."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

Setup = Callable[[Path, Path], None]


def make_base_run(root: Path) -> Path:
    """A tiny finished training run (checkpoint, config.json, metrics.jsonl) in ``root``/run: seconds."""
    from tiny import tiny_config

    from lightup.training.trainer import Trainer

    run = Path(root) / "run"
    Trainer(tiny_config(run, total_steps=64, eval_every=64)).learn().close()
    return run


def run_copy(tmp: Path, base: Path) -> None:
    shutil.copytree(base, tmp / "run")


def plain_file(name: str, text: str = "mine\n") -> Setup:
    def setup(tmp: Path, base: Path) -> None:
        (tmp / name).write_text(text)

    return setup


def both(*setups: Setup) -> Setup:
    def setup(tmp: Path, base: Path) -> None:
        for step in setups:
            step(tmp, base)

    return setup


def dangling_links(tmp: Path, base: Path) -> None:
    """``nowhere``, a link to a missing folder, and ``loop1`` and ``loop2``, links to each other."""
    (tmp / "nowhere").symlink_to(tmp / "missing" / "x")
    (tmp / "loop1").symlink_to(tmp / "loop2")
    (tmp / "loop2").symlink_to(tmp / "loop1")


def bench_folder(tmp: Path, base: Path) -> None:
    """A bench results folder as `lightup bench` leaves it, reduced to what tells it apart."""
    folder = tmp / "results"
    folder.mkdir()
    (folder / "lightup-bench").write_text("This folder holds the results of `lightup bench`.\n")
    (folder / "runs.jsonl").write_text('{"env_id": "lightup/PressButton-v0", "agent": "mlp", "seed": 0}\n')
    (folder / "config.json").write_text(json.dumps({"envs": ["lightup/PressButton-v0"], "seeds": 1}))
    (folder / "summary.md").write_text("# Bench\n")


def crafted(change: Callable[[dict], object] | None = None, raw: str | None = None) -> Setup:
    """A copy of the run whose checkpoint metadata is ``change(meta)`` as JSON, or the text ``raw``."""

    def setup(tmp: Path, base: Path) -> None:
        from safetensors.torch import save_file

        from lightup.checkpoint import load_tensors

        run_copy(tmp, base)
        path = tmp / "run" / "checkpoint.safetensors"
        tensors, meta = load_tensors(path)
        text = raw if raw is not None else json.dumps(change(meta))
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"lightup": text})

    return setup


def crafted_tensors(change: Callable[[dict, dict], None], file: str = "checkpoint.safetensors") -> Setup:
    """A copy of the run whose checkpoint's (or another ``file``'s) tensors and metadata are changed in
    place by ``change``."""

    def setup(tmp: Path, base: Path) -> None:
        from safetensors.torch import save_file

        from lightup.checkpoint import load_tensors

        run_copy(tmp, base)
        path = tmp / "run" / file
        tensors, meta = load_tensors(path)
        change(tensors, meta)
        save_file(
            {k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"lightup": json.dumps(meta)}
        )

    return setup


def set_tensor(name: str, make: Callable) -> Callable[[dict, dict], None]:
    return lambda tensors, meta: tensors.__setitem__(name, make(tensors[name]))


def with_config(**fields) -> Callable[[dict], dict]:
    return lambda meta: dict(meta, config=dict(meta["config"], **fields))


def with_counters(**counters) -> Callable[[dict], dict]:
    return lambda meta: dict(meta, counters=dict(meta["counters"], **counters))


def run_file(name: str, text: str, append: bool = False) -> Setup:
    """A copy of the run with its ``name`` file replaced by (or, ``append``, extended with) ``text``."""

    def setup(tmp: Path, base: Path) -> None:
        run_copy(tmp, base)
        path = tmp / "run" / name
        path.write_text((path.read_text() if append else "") + text)

    return setup


DEEP = "[" * 100_000 + "]" * 100_000  # JSON nested 100k deep
LONG_LINE = '{"step": 1, "x": "' + "a" * 2_000_000 + '"}\n'  # one metrics record of 2 MB


def deep_runs_line(tmp: Path, base: Path) -> None:
    bench_folder(tmp, base)
    with open(tmp / "results" / "runs.jsonl", "a") as f:
        f.write(DEEP + "\n")


def fifo_in_bench(name: str) -> Setup:
    """A bench folder whose ``name`` is a named pipe: reading it would wait for a writer for ever."""

    def setup(tmp: Path, base: Path) -> None:
        import os

        bench_folder(tmp, base)
        (tmp / "results" / name).unlink()
        os.mkfifo(tmp / "results" / name)

    return setup


def read_only(tmp: Path, base: Path) -> None:
    """A folder nobody but root may write in."""
    (tmp / "ro").mkdir()
    (tmp / "ro").chmod(0o500)


def old_folders(tmp: Path, base: Path) -> None:
    """An empty folder, a truncated checkpoint and a safetensors file that is not a lightup checkpoint."""
    import torch
    from safetensors.torch import save_file

    (tmp / "empty").mkdir()
    (tmp / "truncated").mkdir()
    (tmp / "truncated" / "checkpoint.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    (tmp / "foreign").mkdir()
    save_file({"weight": torch.zeros(2)}, str(tmp / "foreign" / "checkpoint.safetensors"))


def env_run(env_id: str) -> Setup:
    """A tiny finished run of ``env_id`` (one of tests/user_envs.py, say) in place of the PressButton one."""

    def setup(tmp: Path, base: Path) -> None:
        import user_envs  # noqa: F401 (registers the user envs)
        from tiny import tiny_config

        from lightup.training.trainer import Trainer

        Trainer(tiny_config(tmp / "run", env_id, total_steps=64, eval_every=64)).learn().close()

    return setup


def optimizer_moment(shape: tuple[int, ...]) -> Callable[[dict, dict], None]:
    """The first Adam moment of the model's optimizer replaced by zeros of ``shape``."""
    import torch

    return set_tensor("optim.0.exp_avg", lambda t: torch.zeros(shape))
