"""What `lightup train --resume` refuses, in one line (exit code 2) and changing nothing in the run folder: an
optimizer state or entropy temperature out of range, a checkpoint that is another run's (or a config.json
edited to another), a folder whose checkpoint went missing after the run passed it, and a folder another
lightup process is training in."""

from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest
import torch
from interrupts import lightup, wait_for_step
from test_bad_files import alter, digest, one_line_error
from tiny import TINY_FLAGS, tiny_config

from lightup import cli
from lightup.training import recovery
from lightup.training.logger import read_metrics

RESUME = ["--total-steps", "192", "--quiet"]


def train(run: Path, **overrides) -> Path:
    from lightup.training.trainer import Trainer

    trainer = Trainer(tiny_config(run, total_steps=128, checkpoint_every=64, **overrides))
    trainer.learn()
    trainer.close()
    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny PressButton run: checkpoints at 64 and 128 steps, metrics past both, an agent file."""
    return train(tmp_path_factory.mktemp("guards") / "run")


@pytest.fixture
def run(trained, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def refused(run: Path, capsys, argv: list[str] | None = None) -> str:
    """The one-line error of ``lightup train --resume RUN`` (or ``argv``), the folder left as it was."""
    before = digest(run)
    error = one_line_error(argv or ["train", "--resume", str(run), *RESUME], capsys)
    assert digest(run) == before
    return error


def test_a_finished_run_leaves_no_lock_file_and_resumes(run, capsys):
    assert not (run / recovery.LOCK).exists()
    assert cli.main(["train", "--resume", str(run), *RESUME]) == 0
    assert not (run / recovery.LOCK).exists()
    assert max(r["step"] for r in read_metrics(run)) == 192


# --- 1. optimizer states and the entropy temperature out of range ---


def set_to(name: str, value: float):
    def change(tensors: dict) -> None:
        tensors[name] = torch.full_like(tensors[name], value)

    return change


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "alpha.optim.0.step",
            -1.0,
            "the optimizer state alpha.optim.0.step out of range (-1 is not a whole",
        ),
        ("optim.0.step", -1.0, "the optimizer state optim.0.step out of range (-1 is not a whole"),
        ("optim.0.step", 2.5, "the optimizer state optim.0.step out of range (2.5 is not a whole"),
        ("value_opt.optim.0.step", -3.0, "value_opt.optim.0.step out of range"),
        ("optim.3.exp_avg_sq", -1e-3, "optim.3.exp_avg_sq out of range (-0.001 where a mean of squares"),
        ("alpha.optim.0.exp_avg_sq", -5.0, "alpha.optim.0.exp_avg_sq out of range"),
        ("log_alpha", float("nan"), "the entropy temperature log_alpha nan, out of range"),
        ("log_alpha", 1e30, "the entropy temperature log_alpha 1e+30, out of range"),
    ],
)
def test_an_optimizer_state_out_of_range_is_refused(run, capsys, name, value, message):
    alter(run / "checkpoint.safetensors", tensors=set_to(name, value))
    error = refused(run, capsys)
    assert message in error and "use a checkpoint written by lightup" in error, error


# --- 2. a checkpoint of another run, a config.json of another ---


@pytest.fixture(scope="module")
def cartpole(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("guards") / "cartpole", env_id="CartPole-v1")


def test_a_checkpoint_of_another_env_copied_into_a_run_is_refused(run, cartpole, capsys):
    shutil.copy(cartpole / "checkpoint.safetensors", run / "checkpoint.safetensors")
    error = refused(run, capsys)
    assert "is not the checkpoint of the run in" in error
    assert "env_id is 'CartPole-v1' in the checkpoint, 'lightup/PressButton-v0' in config.json" in error


@pytest.mark.parametrize(
    ("field", "value"), [("env_id", "CartPole-v1"), ("seed", 7), ("n_embd", 32), ("lr", 0.01)]
)
def test_a_config_json_edited_to_another_run_is_refused(run, capsys, field, value):
    path = run / "config.json"
    config = json.loads(path.read_text())
    saved = config[field]
    config[field] = value
    path.write_text(json.dumps(config))
    error = refused(run, capsys)
    assert f"{field} is {saved!r} in the checkpoint, {value!r} in config.json" in error, error


def test_fields_a_resume_may_change_do_not_count_as_another_run(run):
    path = run / "config.json"
    config = json.loads(path.read_text())
    config.update(total_steps=99, quiet=False, run_dir="/somewhere/it/was/before")  # a moved folder
    path.write_text(json.dumps(config))
    assert cli.main(["train", "--resume", str(run), *RESUME]) == 0


# --- 3. a checkpoint gone missing ---


@pytest.mark.parametrize("keep_agent", [True, False])
def test_a_run_past_a_checkpoint_that_is_now_missing_is_refused(run, capsys, keep_agent):
    (run / "checkpoint.safetensors").unlink()
    if not keep_agent:
        (run / "policy.safetensors").unlink()
    error = refused(run, capsys)
    assert "has no checkpoint.safetensors, but its run went past a checkpoint that is now missing" in error
    assert "restore the checkpoint, or start a new run in another folder" in error
    assert ("policy.safetensors" in error) == keep_agent and "metrics.jsonl goes on to step 128" in error


def test_an_agent_file_alone_tells_a_checkpoint_was_written(run, capsys):
    (run / "checkpoint.safetensors").unlink()
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:1]))  # step 32, before the first checkpoint
    error = refused(run, capsys)
    assert "it holds the policy.safetensors written beside one" in error


def test_a_run_killed_before_its_first_checkpoint_still_starts_again(run, capsys):
    (run / "checkpoint.safetensors").unlink()
    (run / "policy.safetensors").unlink()
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    (run / "metrics.jsonl").write_text("".join(lines[:2]))  # steps 32 and 64: killed while writing it
    assert cli.main(["train", "--resume", str(run), *RESUME]) == 0
    assert (
        "has no checkpoint (the run stopped before its first); starting it again" in capsys.readouterr().err
    )
    assert max(r["step"] for r in read_metrics(run)) == 192


# --- 4. one process trains in a folder at a time ---


def stopped_run(run: Path, every: int) -> object:
    """A `lightup train` process in ``run``, stopped (SIGSTOP) once it has logged a round: it holds the
    folder as a process training there does, and nothing changes in it while the test looks."""
    flags = ["--total-steps", "10000000", "--checkpoint-every", str(every), "--run-dir", str(run)]
    proc = lightup(["train", "lightup/PressButton-v0", *TINY_FLAGS, *flags])
    wait_for_step(proc, run, 2 * 16 if every > 1000 else every + 16)
    proc.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + 30  # its last write done (a checkpoint is renamed into place whole)
    while any(p.name.endswith(".tmp") for p in run.iterdir()) and time.monotonic() < deadline:
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.01)
        proc.send_signal(signal.SIGSTOP)
    return proc


def end(proc) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)


def test_a_run_still_training_is_not_resumed_nor_trained_again_into(tmp_path, capsys):
    run = tmp_path / "run"
    proc = stopped_run(run, every=32)
    try:
        assert (run / "checkpoint.safetensors").is_file()
        in_use = f"is in use by another lightup process (pid {proc.pid}); wait for it or use another folder"
        assert in_use in refused(run, capsys)
        other = ["train", "lightup/PressButton-v0", *TINY_FLAGS, "--run-dir", str(run), "--total-steps", "64"]
        assert "already holds a run; continue it with --resume" in refused(run, capsys, other)
    finally:
        end(proc)
    assert cli.main(["train", "--resume", str(run), "--total-steps", "32", "--quiet"]) == 0  # lock gone


def test_two_new_runs_in_one_folder_are_refused_before_its_first_checkpoint(tmp_path, capsys):
    run = tmp_path / "run"
    proc = stopped_run(run, every=10**6)
    try:
        assert not (run / "checkpoint.safetensors").exists()
        other = ["train", "lightup/PressButton-v0", *TINY_FLAGS, "--run-dir", str(run), "--total-steps", "64"]
        assert f"in use by another lightup process (pid {proc.pid})" in refused(run, capsys, other)
        assert f"in use by another lightup process (pid {proc.pid})" in refused(run, capsys)
    finally:
        end(proc)


def test_a_trainer_whose_checkpoint_changed_after_it_was_read_does_not_train_over_it(run):
    from lightup.errors import LightupError
    from lightup.training.trainer import Trainer

    first = Trainer.load(run)
    Trainer.load(run).learn(160).close()  # another trainer went on meanwhile
    before = digest(run)
    with pytest.raises(LightupError, match="changed after this run read it"):
        first.learn(192)
    assert digest(run) == before
    first.close()
