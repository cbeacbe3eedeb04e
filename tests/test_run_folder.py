"""The run folder's files after a stop: metrics cut back to the checkpoint, torn lines and temporary files of
cut writes removed (unit tests of `trim_metrics` and `remove_stale_temps`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lightup.checkpoint import atomic_write, remove_stale_temps
from lightup.training.logger import RunLogger, read_metrics, trim_metrics


def write_records(path, steps, torn: str = "") -> None:
    path.write_text("".join(json.dumps({"step": s, "x": s / 2}) + "\n" for s in steps) + torn)


def test_trim_metrics_drops_the_records_after_the_step_and_a_torn_last_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [32, 64, 64, 96, 128], torn='{"step": 160, "x"')
    assert trim_metrics(path, 64) == 3  # 96, 128 and the torn line
    assert [r["step"] for r in read_metrics(tmp_path)] == [32, 64, 64]
    assert path.read_text().endswith("\n")


def test_trim_metrics_keeps_lines_that_are_not_records_and_leaves_a_clean_file_untouched(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\nnot json\n[1, 2]\n' + "[" * 50_000 + "\n" + '{"step": 2}\n')
    before = path.stat().st_mtime_ns, path.read_text()
    assert trim_metrics(path, 5) == 0
    assert (path.stat().st_mtime_ns, path.read_text()) == before
    assert trim_metrics(path, 1) == 1
    assert path.read_text() == '{"step": 1}\nnot json\n[1, 2]\n' + "[" * 50_000 + "\n"


def test_a_torn_last_line_does_not_swallow_the_next_record_once_trimmed(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_records(path, [32], torn='{"step": 64, "x": 3')
    trim_metrics(path, 32)
    logger = RunLogger(tmp_path, tensorboard=False)
    logger.log(64, {"x": 1.0})
    logger.close()
    assert read_metrics(tmp_path) == [{"step": 32, "x": 16.0}, {"step": 64, "x": 1.0}]


def test_stale_temp_files_of_the_named_files_are_removed_and_nothing_else(tmp_path):
    atomic_write(tmp_path / "checkpoint.safetensors", lambda tmp: Path(tmp).write_bytes(b"ok"))
    stale = [tmp_path / ".checkpoint.safetensors.a1b2c3d4.tmp", tmp_path / ".config.json.zz_9x8y7.tmp"]
    others = [
        tmp_path / ".other.json.a1b2c3d4.tmp",
        tmp_path / "checkpoint.safetensors.tmp",
        tmp_path / "x.tmp",
    ]
    for p in stale + others:
        p.write_bytes(b"\0" * 64)
    removed = remove_stale_temps(tmp_path, ("checkpoint.safetensors", "config.json"))
    assert sorted(removed) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["checkpoint.safetensors", *(p.name for p in others)]
    )


def test_atomic_write_names_its_temporary_file_as_remove_stale_temps_finds_it(tmp_path):
    """The name `atomic_write` gives its temporary file: a kill mid-write leaves that file behind."""
    seen = []

    def cut_short(tmp):
        seen.append(Path(tmp))
        raise OSError("cut short")

    with pytest.raises(OSError):
        atomic_write(tmp_path / "config.json", cut_short)
    seen[0].write_bytes(b"left by a kill")  # as if the process had died before cleaning up
    assert remove_stale_temps(tmp_path, ("config.json",)) == seen
    assert not list(tmp_path.iterdir())


def test_tensorboard_shows_no_step_twice_after_a_resume_from_an_earlier_checkpoint(tmp_path, monkeypatch):
    """Killed after logging past its checkpoint (steps 544 to 768 logged, the checkpoint at 512), the run
    resumes from 512: TensorBoard hides the events the killed run logged after 512 (purge_step)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tiny import tiny_config

    from lightup.training.trainer import Trainer

    run = tmp_path / "run"
    trainer = Trainer(tiny_config(run, tensorboard=True, checkpoint_every=512))
    save = trainer.save_checkpoint
    monkeypatch.setattr(
        trainer, "save_checkpoint", lambda *a, **k: None if trainer.steps > 512 else save(*a, **k)
    )
    trainer.learn(768)  # as if killed at 768: only the checkpoint of 512 was written
    monkeypatch.undo()
    Trainer.load(run).learn(1024)
    events = EventAccumulator(str(run))
    events.Reload()
    steps = [e.step for e in events.Scalars("rollout/buffer_best_return")]
    assert steps == list(range(32, 1025, 32))
    assert [r["step"] for r in read_metrics(run) if "rollout/buffer_best_return" in r] == steps
