"""Bounded inputs, capped JSON, output paths and flags with --resume: the behaviour behind the catalogue's
refusals (tests/test_catalogue.py), and what is still accepted."""

from __future__ import annotations

import json
import math
import shutil
import sys
import typing
from pathlib import Path

import pytest

from lightup import cli
from lightup.errors import LightupError
from lightup.jsonfile import MAX_DEPTH, depth, loads, read_json
from lightup.outputs import check_file, check_folder, folder_kind
from lightup.ranges import (
    RANGES,
    Range,
    _number_kind,
    check,
    check_config,
    check_counters,
    check_memory,
    ranges_help,
)


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from catalogue import make_base_run

    return make_base_run(tmp_path_factory.mktemp("inputs"))


def _copy(run: Path, tmp_path: Path) -> Path:
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


# --- ranges ---------------------------------------------------------------------------------------------


def _configs():
    from lightup.bench.config import BenchConfig
    from lightup.doctor.cli import DoctorConfig
    from lightup.training.config import TrainConfig
    from lightup.viz.report import ReportOptions

    return [TrainConfig(), BenchConfig(), DoctorConfig(), ReportOptions()]


@pytest.mark.parametrize("config", _configs(), ids=lambda c: type(c).__name__)
def test_every_number_of_every_config_has_a_range_and_its_default_is_in_it(config):
    check_config(config)  # asserts that each int and float field has a range, and checks the defaults
    hints = typing.get_type_hints(type(config), include_extras=True)
    numbers = [name for name, hint in hints.items() if _number_kind(hint) is not None]
    assert numbers and all(name in RANGES for name in numbers)


@pytest.mark.parametrize("name", sorted(RANGES))
def test_each_range_takes_its_ends_and_refuses_just_past_them(name):
    r = RANGES[name]
    step = 1 if r.integer else max(abs(r.high), 1) * 1e-9
    inside = [r.low + step if r.low_open else r.low, r.high - step if r.high_open else r.high]
    outside = [r.low if r.low_open else r.low - step, r.high if r.high_open else r.high + step]
    for value in inside:
        assert check(name, int(value) if r.integer else value) is not None
    for value in outside:
        with pytest.raises(LightupError, match=f"--{name.replace('_', '-')} must be"):
            check(name, int(value) if r.integer else value)
    for bad in (True, "1", None, [1]):
        with pytest.raises(LightupError):
            check(name, bad)
    if not r.integer:
        for bad in (math.nan, math.inf, -math.inf):
            with pytest.raises(LightupError, match="finite"):
                check(name, bad)


def test_seeds_are_0_to_2_to_the_32_less_1():
    assert check("seed", 0) == 0 and check("seed", 2**32 - 1) == 2**32 - 1
    for bad in (-1, 2**32, 2**70):
        with pytest.raises(LightupError, match="--seed must be an integer from 0 to 4_294_967_295"):
            check("seed", bad)


def test_a_range_says_its_ends():
    assert str(Range(1, 4096)) == "an integer from 1 to 4096"
    assert str(Range(0, 1, integer=False, low_open=True)) == "a finite number > 0 and <= 1"


def test_sizes_each_in_range_but_too_big_together_are_refused_by_memory(monkeypatch):
    import lightup.ranges as ranges

    monkeypatch.setattr(ranges, "physical_memory", lambda: 2**30)  # a 1 GiB machine
    check_memory(1, 64, 4, 20, 64)  # a small model: about 7 MiB
    with pytest.raises(
        LightupError, match=r"need about [\d,]+ GiB for one update, more than this machine's 1 GiB"
    ):
        check_memory(12, 1024, 16, 1024, 64)


def test_checkpoint_counters_in_range():
    check_counters({"steps": 0, "rounds": 0, "updates": 0, "episodes": 0, "solved_at": None})
    for counters, flag in [
        ({"steps": -1, "rounds": 0, "updates": 0, "episodes": 0}, "counter 'steps'"),
        ({"steps": 1, "rounds": "2", "updates": 0, "episodes": 0}, "counter 'rounds'"),
        ({"steps": 1, "rounds": 1, "updates": 0, "episodes": 1.5}, "counter 'episodes'"),
        ({"steps": 1, "rounds": 1, "updates": 0, "episodes": 0, "solved_at": -3}, "counter 'solved_at'"),
    ]:
        with pytest.raises(LightupError, match=flag):
            check_counters(counters, "f: ")
    with pytest.raises(LightupError, match="counters must be a JSON object"):
        check_counters([1, 2])


def test_the_docs_state_every_range_and_the_help_what_resume_takes(capsys):
    """Every number of every command has its range on the docs' Ranges page (the table's own words)."""
    page = (Path(__file__).parents[1] / "docs" / "ranges.md").read_text()
    for name, cmd in cli.COMMANDS.items():
        items = ranges_help(cli._attr(cmd.args)).removeprefix("Ranges: ").removesuffix(".")
        if not items:
            continue
        assert f"## lightup {name}\n" in page, name
        section = page.split(f"## lightup {name}\n", 1)[1].split("\n## ", 1)[0]
        for item in filter(None, items.split("; ")):
            flag, text = item.split(" ", 1)
            assert f"| `{flag}` | {text} |" in section, (name, flag, text)
    assert "| `--n-envs` | 1 to 1024 |" in page and "| `--seed` | 0 to 4_294_967_295 |" in page
    assert cli.main(["train", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--resume RUN_DIR` continues a run from its checkpoint; with it, only --total-steps" in out


# --- JSON ---------------------------------------------------------------------------------------------------


def test_depth_counts_nesting_outside_strings():
    assert depth("1") == 0
    assert depth('{"a": [1, {"b": []}]}') == 4
    assert depth('["[[[[", "\\"]]{{"]') == 1  # brackets inside strings, escaped quotes, do not count
    assert depth("[" * 100_000 + "]" * 100_000) == 100_000


def test_json_past_the_caps_is_one_line_naming_the_file(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LightupError, match=rf"'{deep}' holds JSON nested 100000 deep, more than the 64"):
        read_json(deep)
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH, "x") is not None
    with pytest.raises(LightupError, match="more than the 10 allowed"):
        loads('"' + "a" * 20 + '"', "x", max_bytes=10)
    with pytest.raises(LightupError, match="is not valid JSON"):
        loads("1" * 5000, "x")  # an integer of 5000 digits: Python refuses to parse it
    with pytest.raises(LightupError, match="is not valid JSON"):
        loads("{", "x")


def test_a_deep_metrics_line_is_an_error_and_a_torn_one_is_skipped(run, tmp_path):
    from lightup.training.logger import read_metrics

    copy = _copy(run, tmp_path)
    n = len(read_metrics(copy))
    with open(copy / "metrics.jsonl", "a") as f:
        f.write('{"step": 99, "x": [1, 2')  # torn by a kill
    assert len(read_metrics(copy)) == n
    with open(copy / "metrics.jsonl", "a") as f:
        f.write("\n" + "[" * 100_000 + "]" * 100_000 + "\n")
    with pytest.raises(LightupError, match="metrics.jsonl' line .* nested 100000 deep"):
        read_metrics(copy)


def test_deep_json_does_not_hit_the_recursion_limit_anywhere(run, tmp_path):
    copy = _copy(run, tmp_path)
    (copy / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    limit = sys.getrecursionlimit()
    from lightup.doctor.alarms import run_context

    with pytest.raises(LightupError, match="nested 100000 deep"):
        run_context(copy)
    assert sys.getrecursionlimit() == limit


# --- output paths and folders -----------------------------------------------------------------------------


def test_output_checks_make_nothing(tmp_path):
    check_folder(tmp_path / "a" / "b", "--out")
    check_file(tmp_path / "c" / "report.html", "--out")
    assert list(tmp_path.iterdir()) == []


def test_an_unwritable_folder_is_named_before_anything_is_written(tmp_path, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(
        tempfile, "mkstemp", refuse
    )  # what a read-only folder does for a user who is not root
    with pytest.raises(
        LightupError, match=rf"--out '{tmp_path}/ro/r.html' cannot be written: '{tmp_path}' is not"
    ):
        check_file(tmp_path / "ro" / "r.html", "--out")
    assert list(tmp_path.iterdir()) == []


def test_train_and_bench_mark_their_folders(run, tmp_path):
    assert (run / "lightup-run").is_file() and folder_kind(run) == "run"
    from lightup.bench.cli import main as bench_main

    out = tmp_path / "results"
    argv = ["--envs", "lightup/PressButton-v0", "--agents", "mlp", "--seeds", "1", "--budget", "64"]
    assert bench_main([*argv, "--bootstrap-reps", "10", "--quiet", "--out", str(out)]) == 0
    assert (out / "lightup-bench").is_file() and folder_kind(out) == "bench"


def test_report_rewrites_its_own_page_and_overwrites_another_file_only_with_force(run, tmp_path, capsys):
    copy = _copy(run, tmp_path)
    argv = ["report", str(copy), "--no-follow", "--no-video"]
    assert cli.main(argv) == 0 and cli.main(argv) == 0  # its own earlier report: no --force needed
    other = tmp_path / "notes.html"
    other.write_text("mine")
    assert cli.main([*argv, "--out", str(other)]) == 2
    assert "add --force" in capsys.readouterr().err and other.read_text() == "mine"
    assert cli.main([*argv, "--out", str(other), "--force"]) == 0
    assert other.read_text().startswith("<!DOCTYPE html>")


# --- flags given with --resume ----------------------------------------------------------------------------


def test_resume_applies_the_budget_and_the_output_flags(run, tmp_path):
    from lightup.training.cli import parse_resume
    from lightup.training.trainer import Trainer

    copy = _copy(run, tmp_path)
    parsed = parse_resume(["--resume", str(copy), "--total-steps", "128", "--no-tensorboard"])
    assert parsed == (str(copy), {"total_steps": 128, "tensorboard": False}, None, None)
    assert cli.main(["train", "--resume", str(copy), "--total-steps", "128", "--quiet"]) == 0
    trainer = Trainer.load(copy)
    assert trainer.steps == 128 and trainer.config.total_steps == 128
    assert json.loads((copy / "config.json").read_text())["total_steps"] == 64  # as the run started
    trainer.close()


@pytest.mark.parametrize(
    "flag, value", [("--lr", "nan"), ("--lr", "0.01"), ("--seed", "3"), ("--batch-size", "8")]
)
def test_resume_refuses_a_flag_that_changes_what_the_run_learns_with(run, tmp_path, capsys, flag, value):
    copy = _copy(run, tmp_path)
    before = (copy / "checkpoint.safetensors").read_bytes()
    assert cli.main(["train", "--resume", str(copy), flag, value]) == 2
    err = capsys.readouterr().err
    assert f"{flag} cannot change when resuming" in err and err.count("\n") == 1
    assert (copy / "checkpoint.safetensors").read_bytes() == before
