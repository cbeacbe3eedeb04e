"""Guards of `lightup train --config FILE` and of the string settings: an integer thousands of digits long, a
TOML key of thousands of dotted parts, a NUL in a path or a name, and a W&B run that will not start are each a
one-line error (exit 2) that says what to do, read in bounded time, before anything is written."""

from __future__ import annotations

import time

import pytest

from lightup import cli


def refused(argv: list[str], capsys) -> str:
    """stderr of ``lightup train ARGV``, asserted to be one ``error:`` line with exit code 2."""
    capsys.readouterr()
    assert cli.main(["train", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err, err
    return err


LONG_NUMBERS = [
    ("i.yaml", "seed: " + "9" * 5000 + "\n", "holds a number written in 5,000 characters"),
    ("i.toml", "seed = " + "9" * 5000 + "\n", "holds an integer of more than 100 digits"),
    ("h.yaml", "seed: 0x" + "f" * 5000 + "\n", "holds a number written in 5,002 characters"),
    ("h.toml", "seed = 0x" + "f" * 5000 + "\n", "holds an integer of more than 100 digits"),
    ("tagged.yaml", 'seed: !!int "' + "9" * 5000 + '"\n', "holds a number written in 5,000 characters"),
    # base 60 (YAML 1.1): converted in time quadratic in its length, so refused before it is converted
    ("base60.yaml", "seed: " + "59:" * 300_000 + "1\n", "holds a number written in 900,001 characters"),
    ("i.json", '{"seed": ' + "9" * 5000 + "}", "an integer of more than 4300 digits"),
    ("date.yaml", "seed: 2020-13-45\n", "holds a value YAML cannot read (month must be in 1..12)"),
]


@pytest.mark.parametrize(("name", "text", "says"), LONG_NUMBERS, ids=[n for n, _, _ in LONG_NUMBERS])
def test_an_integer_of_thousands_of_digits_is_one_line(tmp_path, capsys, monkeypatch, name, text, says):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    start = time.perf_counter()
    err = refused(["--config", name, "--print-config"], capsys)
    assert says in err and repr(name) in err and "set_int_max_str_digits" not in err, err
    assert time.perf_counter() - start < 10  # base 60 unguarded: 20+ s
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


@pytest.mark.parametrize(
    "text",
    [
        "a" + ".a" * 5000 + " = 1\n",  # 20,000 parts: 1.8 GB and 6 s in tomllib
        "[" + ".".join(['"a.b"'] * 100) + "]\nx = 1\n",
        "exp_name = 'x'\nv = {" + " . ".join(["a"] * 100) + " = 1}\n",
    ],
    ids=["dotted key", "quoted table header", "inline table"],
)
def test_a_toml_key_of_many_dotted_parts_is_refused_before_parsing(tmp_path, capsys, text):
    path = tmp_path / "d.toml"
    path.write_text(text)
    err = refused(["--config", str(path), "--print-config"], capsys)
    assert "holds a key of more than the 64 dotted parts allowed" in err, err


def test_dots_in_toml_strings_floats_and_comments_do_not_count(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dots = ".x" * 200
    path = tmp_path / "ok.toml"
    path.write_text(
        f"# a comment{dots}\n"
        f'exp_name = "e{dots}"  # {dots}\n'
        f"run_root = '''r{dots}'''\n"
        "env_id = 'lightup/PressButton-v0'\nlr = 1.5e-3\nweight_decay = 1.0e-4\n"
        f"[command]  # {dots}\nkind = 'best'\n"
    )
    capsys.readouterr()
    assert cli.main(["train", "--config", str(path), "--print-config", "--total-steps", "256"]) == 0
    out = capsys.readouterr().out
    assert f"exp_name: e{dots}\n" in out and "lr: 0.0015\n" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.toml"]


CONTROL = [
    ("n.yaml", 'exp_name: "\\0abc"\n', "--exp-name holds the control character '\\x00'"),
    ("r.toml", 'run_root = "/tmp/x\\u0000y"\n', "--run-root holds the control character '\\x00'"),
    ("d.json", '{"run_dir": "/tmp/x\\u0000y"}', "--run-dir holds the control character '\\x00'"),
    ("w.yaml", 'wandb_project: "a\\x1b[31m"\n', "--wandb-project holds the control character '\\x1b'"),
]


@pytest.mark.parametrize(("name", "text", "says"), CONTROL, ids=[n for n, _, _ in CONTROL])
def test_a_control_character_in_a_string_setting_is_refused_by_name(
    tmp_path, capsys, monkeypatch, name, text, says
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(text)
    for extra in (["--print-config"], ["--total-steps", "256", "--quiet", "--no-tensorboard"]):
        err = refused(["--config", name, *extra], capsys)
        assert says in err and "give it without one" in err, err
        assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no run folder made


@pytest.mark.parametrize(
    ("flag", "value"), [("--exp-name", "a\nb"), ("--run-dir", "out\x1b[2J"), ("--run-root", "r\tx")]
)
def test_a_control_character_on_the_command_line_is_refused(tmp_path, capsys, monkeypatch, flag, value):
    monkeypatch.chdir(tmp_path)
    err = refused(["lightup/PressButton-v0", flag, value, "--total-steps", "256", "--quiet"], capsys)
    assert f"{flag} holds the control character" in err, err
    assert list(tmp_path.iterdir()) == []


TRACK = ["lightup/PressButton-v0", "--track", "--total-steps", "256", "--quiet", "--no-tensorboard"]


@pytest.fixture
def no_wandb_login(monkeypatch):
    """wandb.init failing as it does without credentials (no network, no key needed to test it)."""
    wandb = pytest.importorskip("wandb")

    def init(**kwargs):
        raise wandb.errors.UsageError("No API key configured. Use `wandb login` to log in.")

    monkeypatch.setattr(wandb, "init", init)


def test_a_w_and_b_run_that_will_not_start_is_one_line(tmp_path, capsys, no_wandb_login):
    run = tmp_path / "t"
    err = refused([*TRACK, "--run-dir", str(run)], capsys)
    assert "--track could not start a W&B run (No API key configured." in err, err
    assert "run `wandb login` or set WANDB_API_KEY, set WANDB_MODE=offline" in err and "drop --track" in err
    assert not (run / "metrics.jsonl").exists() and not (run / "checkpoint.safetensors").exists()


def test_a_w_and_b_run_that_will_not_start_leaves_no_run_folder(tmp_path, capsys, no_wandb_login):
    run = tmp_path / "t"
    refused([*TRACK, "--run-dir", str(run)], capsys)
    assert not run.exists()
