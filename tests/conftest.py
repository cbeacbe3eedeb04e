"""Fixtures shared by several test modules: the bench's finished tiny bench, the doctor's one torch thread."""

from __future__ import annotations

import pytest
import torch

from lightup.bench.config import BenchConfig


@pytest.fixture(scope="session")
def finished_bench(tmp_path_factory):
    """A finished tiny bench folder, with a hand-written note appended to its summary."""
    from lightup.bench.cli import run_bench

    config = BenchConfig(
        envs=("lightup/PressButton-v0",),
        agents=("mlp",),
        seeds=2,
        budget=256,
        eval_every=256,
        out=str(tmp_path_factory.mktemp("bench") / "done"),
        workers=2,
        bootstrap_reps=50,
        quiet=True,
    )
    out = run_bench(config, "lightup bench --the-command-it-ran")
    with open(out / "summary.md", "a", encoding="utf-8") as f:
        f.write("\n## This run\n\nA note by hand.\n")
    return out


@pytest.fixture
def one_thread():
    """The doctor's CLI runs on one torch thread: many times faster for these small models (the doctor's test
    modules use it for every test)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
