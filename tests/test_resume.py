"""A run stopped in any way (SIGINT, SIGTERM, SIGKILL, a full disk, an env that keeps raising) and resumed
equals the run that never stopped: every checkpoint tensor and every metrics record, on CPU, same seed."""

from __future__ import annotations

import errno
import json
import os
import re
import signal

import gymnasium as gym
import pytest
from interrupts import CHECKPOINT_EVERY, TOTAL, differences, lightup, train_argv, wait_for_step

from lightup import cli
from lightup.training.logger import read_metrics

STOP_AFTER = 700  # a step between two checkpoints (512 and 1024)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run, through the CLI as the stopped ones."""
    run = tmp_path_factory.mktemp("reference") / "run"
    proc = lightup(train_argv(run))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return run


def resume(run) -> None:
    proc = lightup(["train", "--resume", str(run)])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_between_checkpoints_says_so_exits_and_resumes_to_the_uninterrupted_run(
    reference, tmp_path, sig, code
):
    run = tmp_path / "run"
    proc = lightup(train_argv(run))
    wait_for_step(proc, run, STOP_AFTER)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    line = err.strip().splitlines()[-1]
    pattern = rf"{sig.name}: interrupted at step (\d+); checkpoint at step (\d+); resume with lightup train --resume {re.escape(str(run))}"  # noqa: E501
    match = re.fullmatch(pattern, line)
    assert match, line
    stopped, kept = int(match[1]), int(match[2])
    assert STOP_AFTER <= stopped < TOTAL and kept == stopped  # nothing lost: saved where it stopped
    assert max(r["step"] for r in read_metrics(run)) == stopped
    resume(run)
    assert differences(reference, run) == []
    # the runs explored (PressButton's misses sit at the worst return), so its options resumed exactly too
    assert sum(r.get("rollout/explored", 0) for r in read_metrics(reference)) > 0


def test_sigkill_between_checkpoints_resumes_to_the_uninterrupted_run(reference, tmp_path):
    run = tmp_path / "run"
    proc = lightup(train_argv(run))
    wait_for_step(proc, run, STOP_AFTER)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    resume(run)
    assert differences(reference, run) == []


def test_a_full_disk_at_a_checkpoint_keeps_the_old_one_says_so_in_one_line_and_resumes_exactly(
    reference, tmp_path, capsys, monkeypatch
):
    import lightup.checkpoint

    run = tmp_path / "run"
    real_save, calls, before = lightup.checkpoint.save_file, [], {}

    def disk_full_at_the_third(tensors, filename, metadata=None):
        if "checkpoint.safetensors" not in str(filename):  # the agent file written beside each checkpoint
            return real_save(tensors, filename, metadata=metadata)
        calls.append(filename)
        if len(calls) < 3:
            return real_save(tensors, filename, metadata=metadata)
        before["bytes"] = (run / "checkpoint.safetensors").read_bytes()
        with open(filename, "wb") as f:
            f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(lightup.checkpoint, "save_file", disk_full_at_the_third)
    assert cli.main(train_argv(run)) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(
        rf"error: could not write the checkpoint '{re.escape(str(run / 'checkpoint.safetensors'))}' "
        r"\(No space left on device\); the checkpoint already there \(step 1024\) is intact: free space and "
        rf"resume with lightup train --resume {re.escape(str(run))}",
        lines[0],
    ), lines[0]
    assert (run / "checkpoint.safetensors").read_bytes() == before["bytes"]
    assert not list(run.glob(".*.tmp"))  # the half-written temporary file is gone
    monkeypatch.setattr(lightup.checkpoint, "save_file", real_save)
    assert cli.main(["train", "--resume", str(run)]) == 0
    assert differences(reference, run) == []


class FailsFromAStep(gym.Wrapper):
    """PressButton whose steps raise once ``FAIL_FROM["step"]`` steps have been taken by all its copies."""

    FAIL_FROM: dict = {"step": None, "taken": 0}

    def step(self, action):
        state = self.FAIL_FROM
        state["taken"] += 1
        if state["step"] is not None and state["taken"] > state["step"]:
            raise RuntimeError("the button fell off")
        return super().step(action)


def _register_failing() -> str:
    from lightup.envs import make_env

    env_id = "test/FailsFromAStep-v0"
    if env_id not in gym.registry:
        gym.register(
            env_id, entry_point=lambda **kw: FailsFromAStep(make_env("lightup/PressButton-v0", **kw))
        )
    return env_id


def test_an_env_that_keeps_raising_stops_at_the_last_checkpoint_and_resumes_exactly(tmp_path, capsys):
    env_id = _register_failing()
    state = FailsFromAStep.FAIL_FROM

    def argv(run):
        return [a if a != "lightup/PressButton-v0" else env_id for a in train_argv(run, total=1536)]

    state.update(step=None, taken=0)
    assert cli.main(argv(tmp_path / "whole")) == 0
    state.update(step=1000, taken=0)  # after the checkpoint of step 512, before 1024
    run = tmp_path / "run"
    assert cli.main([*argv(run), "--max-env-errors", "3"]) == 2
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert "raised 3 times in a row (last: RuntimeError: the button fell off)" in line
    assert line.endswith(f"; checkpoint at step 512; resume with lightup train --resume {run}")
    state.update(step=None, taken=0)  # the env is fixed
    assert cli.main(["train", "--resume", str(run)]) == 0
    assert differences(tmp_path / "whole", run) == []


def test_a_run_killed_before_its_first_checkpoint_starts_again_with_resume(reference, tmp_path):
    """Killed before its first checkpoint, a folder holds config.json and metrics: --resume starts it again
    from its config.json (saying so), its old metrics dropped, and ends as the uninterrupted run."""
    run = tmp_path / "run"
    proc = lightup(train_argv(run))
    wait_for_step(proc, run, 64)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert not (run / "checkpoint.safetensors").exists() and read_metrics(run)
    proc = lightup(["train", "--resume", str(run)])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert f"note: {run} has no checkpoint (the run stopped before its first); starting it again" in err
    assert differences(reference, run) == []


def _crashed_copy(reference, run) -> None:
    """``run``: the reference folder as a kill in the middle of its first checkpoint's write leaves it: no
    checkpoint, a stale temporary file, metrics up to the kill with a torn last line."""
    import shutil

    shutil.copytree(reference, run)
    (run / "checkpoint.safetensors").unlink()
    (run / "policy.safetensors").unlink()  # written after the checkpoint: not there yet
    (run / "report.html").unlink(missing_ok=True)
    (run / ".checkpoint.safetensors.k2j9x_q1.tmp").write_bytes(b"\0" * 1000)
    lines = (run / "metrics.jsonl").read_text().splitlines(keepends=True)
    kept = [line for line in lines if json.loads(line)["step"] <= CHECKPOINT_EVERY]  # logged before the write
    (run / "metrics.jsonl").write_text("".join(kept) + lines[len(kept)][:15])


def test_a_run_folder_without_a_checkpoint_resumes_from_scratch_clean(reference, tmp_path, capsys):
    run = tmp_path / "run"
    _crashed_copy(reference, run)
    assert cli.main(["train", "--resume", str(run)]) == 0
    assert (
        "has no checkpoint (the run stopped before its first); starting it again" in capsys.readouterr().err
    )
    assert not list(run.glob(".*.tmp"))
    assert differences(reference, run) == []


def test_a_run_folder_without_a_checkpoint_is_reused_by_run_dir_with_a_note(reference, tmp_path, capsys):
    run = tmp_path / "run"
    _crashed_copy(reference, run)
    assert cli.main(train_argv(run)) == 0
    err = capsys.readouterr().err
    assert f"note: {run} holds a run stopped before its first checkpoint; starting a new run there" in err
    assert not list(run.glob(".*.tmp"))
    assert differences(reference, run) == []


def test_a_run_folder_with_a_checkpoint_is_still_refused_by_run_dir(reference, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(reference, run)
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    assert cli.main(train_argv(run)) == 2
    assert "already holds a run; continue it with --resume" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before


def test_a_stopped_run_resumes_once_its_config_json_is_unreadable_only_with_a_one_line_error(
    reference, tmp_path, capsys
):
    run = tmp_path / "run"
    _crashed_copy(reference, run)
    (run / "config.json").write_text("[" * 100_000)
    assert cli.main(["train", "--resume", str(run)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "config.json' is not a config lightup train wrote" in lines[0], lines


class Interrupting(gym.Wrapper):
    """PressButton that sends its own process SIGINT at the ``AT["step"]``-th step of all its copies (a
    Ctrl-C tied to the run, not to the clock); with ``AT["drift"]``, a reset ignores the seed it is given
    (an env that does not replay from its seed)."""

    AT: dict = {"step": None, "taken": 0, "drift": False, "resets": 0}

    def reset(self, *, seed=None, options=None):
        self.AT["resets"] += 1
        if self.AT["drift"] and seed is not None:
            seed += self.AT["resets"]
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.AT["taken"] += 1
        if self.AT["taken"] == self.AT["step"]:
            os.kill(os.getpid(), signal.SIGINT)
        return super().step(action)


def interrupting_argv(run, total: int = 1536) -> list[str]:
    from lightup.envs import make_env

    env_id = "test/Interrupting-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=lambda **kw: Interrupting(make_env("lightup/PressButton-v0", **kw)))
    return [env_id if a == "lightup/PressButton-v0" else a for a in train_argv(run, total=total)]


def interrupted_run(run, capsys, **at) -> str:
    """Run the interrupting env's config until its own SIGINT; returns the last line on stderr."""
    Interrupting.AT.update({"step": None, "taken": 0, "drift": False, "resets": 0, **at})
    assert cli.main(interrupting_argv(run)) == 130
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_a_stop_with_more_actions_than_are_kept_resumes_from_the_last_periodic_checkpoint(
    tmp_path, capsys, monkeypatch
):
    """Past the replay limit, a stop writes no checkpoint (the envs could not be brought back): the periodic
    one stays, and the run resumes from it exactly."""
    import lightup.training.rollout

    Interrupting.AT.update(step=None, taken=0, drift=False)
    assert cli.main(interrupting_argv(tmp_path / "whole")) == 0
    monkeypatch.setattr(lightup.training.rollout, "REPLAY_LIMIT", 64)
    line = interrupted_run(tmp_path / "run", capsys, step=STOP_AFTER)
    assert re.fullmatch(r"SIGINT: interrupted at step \d+; checkpoint at step 512; resume with .*", line), (
        line
    )
    monkeypatch.undo()
    Interrupting.AT.update(step=None)
    assert cli.main(["train", "--resume", str(tmp_path / "run")]) == 0
    assert differences(tmp_path / "whole", tmp_path / "run") == []


def test_envs_that_do_not_replay_from_their_seed_start_again_and_say_so(tmp_path, capsys):
    run = tmp_path / "run"
    line = interrupted_run(run, capsys, step=STOP_AFTER, drift=True)
    stopped = int(re.search(r"interrupted at step (\d+)", line)[1])
    Interrupting.AT.update(step=None)
    assert cli.main(["train", "--resume", str(run)]) == 0
    err = capsys.readouterr().err
    assert "did not come back to where the run stopped from their seeds and actions" in err
    steps = [r["step"] for r in read_metrics(run)]
    assert steps == sorted(steps) and steps[-1] == 1536 and stopped in steps


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        ("t", lambda v: v[:-1], "the checkpoint's rollout.t does not fit 4 envs"),
        ("played", lambda v: v.float(), "the checkpoint's rollout.played does not fit 4 envs"),
        ("t", lambda v: v + 10**9, "the checkpoint's rollout state is out of range"),
        ("exploring", lambda v: v[:-1], "the checkpoint's rollout.exploring does not fit 4 envs"),
        ("explore_left", lambda v: v - 10**9, "the checkpoint's rollout state is out of range"),
        ("explore_action", lambda v: v + 10**9, "the checkpoint's rollout state is out of range"),
    ],
)
def test_an_altered_rollout_state_is_a_one_line_error(tmp_path, capsys, name, change, message):
    from lightup.checkpoint import load_tensors, save_tensors

    run = tmp_path / "run"
    interrupted_run(run, capsys, step=STOP_AFTER)
    path = run / "checkpoint.safetensors"
    tensors, meta = load_tensors(path)
    tensors[f"rollout.{name}"] = change(tensors[f"rollout.{name}"])
    save_tensors(path, tensors, meta)
    before = path.read_bytes()
    assert cli.main(["train", "--resume", str(run)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert path.read_bytes() == before
