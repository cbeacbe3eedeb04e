"""`lightup train --config FILE` and `--print-config`: the printed config read back is the same run (same
resolved config, same weights and metrics on a tiny budget); flags beside a file win; a run's config.json
reads back; a bad file is one line naming what is wrong, and reading one never runs code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from safetensors.torch import load_file

from lightup import cli
from lightup.training.logger import read_metrics

FLAGS = [
    "lightup/PressButton-v0", "--total-steps", "256", "--n-envs", "2", "--eval-episodes", "2", "--quiet",
    "--no-tensorboard", "--n-embd", "16", "--batch-size", "16", "--updates-per-round", "4",
]  # fmt: skip


def run_config(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    config.pop("run_dir")
    return config


def same_run(a: Path, b: Path) -> None:
    assert run_config(a) == run_config(b)
    wa, wb = load_file(a / "checkpoint.safetensors"), load_file(b / "checkpoint.safetensors")
    assert wa.keys() == wb.keys() and all((wa[k] == wb[k]).all() for k in wa)

    def plain(run: Path) -> list[dict]:  # time/ figures are wall-clock
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in read_metrics(run)]

    assert plain(a) == plain(b)


def printed(argv: list[str], capsys) -> str:
    capsys.readouterr()
    assert cli.main(["train", *argv, "--print-config"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["yaml", "toml"])
def test_printed_config_read_back_is_the_same_run(tmp_path, capsys, monkeypatch, fmt):
    monkeypatch.chdir(tmp_path)
    text = printed([*FLAGS, "--config-format", fmt], capsys)
    assert "context_len: " in text or "context_len = " in text  # the recipe's defaults, filled in
    assert not (tmp_path / "runs").exists()  # printing writes nothing
    path = tmp_path / f"run.{fmt}"
    path.write_text(text)
    assert cli.main(["train", "--config", str(path), "--run-dir", "from_file"]) == 0
    assert cli.main(["train", *FLAGS, "--run-dir", "from_flags"]) == 0
    same_run(tmp_path / "from_file", tmp_path / "from_flags")
    assert printed(["--config", str(path), "--config-format", fmt], capsys) == text  # a fixed point


def test_flags_given_beside_a_file_win_and_a_runs_config_json_reads_back(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["train", *FLAGS, "--run-dir", "first"]) == 0
    config_json = tmp_path / "first" / "config.json"
    text = printed(["--config", str(config_json), "--seed", "7", "--no-quiet"], capsys)
    assert "seed: 7\n" in text and "quiet: false\n" in text and "n_embd: 16\n" in text
    assert "run_dir: null\n" in text  # the run's own folder is not taken again
    assert cli.main(["train", "--config", str(config_json), "--run-dir", "again"]) == 0
    same_run(tmp_path / "first", tmp_path / "again")


BAD = [
    ("n_layr: 2\n", "unknown key 'n_layr'; did you mean n_layer?"),
    ("command:\n  kinds: best\n", "unknown key command.'kinds'; did you mean command.kind?"),
    ("lr: fast\n", "--lr must be a finite number > 0 and < 1, got 'fast'"),
    ("n_layer: 2.5\n", "--n-layer must be an integer from 1 to 64, got 2.5"),
    ("layout: diagonal\n", "--layout must be one of stacked, interleaved, got 'diagonal'"),
    ("optimizer_kernel: sgd\n", "--optimizer-kernel must be one of fused, foreach, got 'sgd'"),
    ("batch_size: 0\n", "--batch-size must be an integer from 1 to 65536, got 0"),
    ("- a list\n", "a config file holds a mapping of field names to values"),
    ("lr: [1, 2\n", "is not valid YAML"),
    ("a: &x [1]\nb: *x\n", "uses a YAML alias"),
    ("x: " + "[" * 100 + "]" * 100 + "\n", "nests deeper than the 64 levels allowed"),
    ("!!python/object/apply:os.system ['touch pwned']\n", "is not valid YAML"),
]


@pytest.mark.parametrize(("text", "says"), BAD, ids=[says.split(";")[0][:40] for _, says in BAD])
def test_a_bad_config_file_is_one_line_naming_the_fault(tmp_path, capsys, monkeypatch, text, says):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "run.yaml"
    path.write_text(text)
    assert cli.main(["train", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and says in err and str(path) in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.yaml"]  # nothing run, nothing written


def test_bad_toml_and_unreadable_and_huge_files(tmp_path, capsys):
    cases = {
        "bad.toml": ("lr = = 1\n", "is not valid TOML"),
        "huge.yaml": ("#" * (2 << 20), "more than the 1,048,576 of a config"),
        "missing.yaml": (None, "cannot read --config"),
        "folder.yaml": ("dir", "is not a regular file"),
    }
    for name, (text, says) in cases.items():
        path = tmp_path / name
        if text == "dir":
            path.mkdir()
        elif text is not None:
            path.write_text(text)
        assert cli.main(["train", "--config", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err, (name, err)
