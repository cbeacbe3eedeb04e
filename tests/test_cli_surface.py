"""What a user meets first: ``lightup --version``, every command's ``--help`` (exit 0, each flag's help in
at most two lines, defaults shown as values), and tyro's own messages on a mistake."""

from __future__ import annotations

import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

import lightup
from lightup import cli

COLUMNS = 80  # help is laid out for the terminal's width: two lines at the narrowest usual one


def exit_code(argv: list[str]) -> int:
    """The exit status ``lightup ARGV`` would end with (``sys.exit(main())``, or a SystemExit inside)."""
    try:
        return int(cli.main(argv) or 0)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def help_text(command: str) -> str:
    env = dict(os.environ, COLUMNS=str(COLUMNS))
    done = subprocess.run(
        [sys.executable, "-m", "lightup.cli", command, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def flag_helps(text: str) -> dict[str, list[str]]:
    """Each flag of a tyro help page -> the lines of its help text. A flag's entry starts with the flag at
    the box's left edge; its help sits in the column to the right, on the flag's line or below it."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        inner = line.strip().strip("│").rstrip()
        if not inner.startswith(" ") or inner.startswith(("╭", "╰")):
            continue
        body = inner[1:]
        if body.startswith("-") or re.match(r"[A-Z_=]+ ", body):  # a flag or a positional, at the left edge
            flag, _, rest = body.partition("  ")
            current = flag.split(",")[0].split(" ")[0]
            entries[current] = [rest.strip()] if rest.strip() else []
        elif current is not None and body.strip():
            entries[current].append(body.strip())
    return entries


def test_version_prints_the_installed_version_and_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "lightup.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"lightup {importlib.metadata.version('lightup')}\n"
    assert lightup.__version__ == importlib.metadata.version("lightup")  # one version, not two


def test_usage_lists_every_command(capsys):
    assert exit_code(["--help"]) == 0
    out = capsys.readouterr().out
    assert "--version" in out
    assert all(name in out for name in cli.COMMANDS)


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command_exits_0(capsys, command, flag):
    assert exit_code([command, flag]) == 0
    out = capsys.readouterr().out
    assert "usage" in out.lower() and f"lightup {command}" in out


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
def test_each_flag_is_helped_in_at_most_two_lines_with_its_default(command):
    helps = flag_helps(help_text(command))
    assert command == "games" or len(helps) > 1, helps  # the parser found the flags
    for flag, lines in helps.items():
        assert 1 <= len(lines) <= 2, (flag, lines)
        text = " ".join(lines)
        assert "(default: None)" not in text and "(default: )" not in text, (flag, text)
        if flag not in ("-h", "RUN_DIR", "ENV_ID") and not flag.startswith("--no-"):
            # a value, or where it comes from ("(default: the recipe's)"), or a flag that is off unless given
            assert "(default: " in text or "(required)" in text, (flag, text)


def test_train_help_shows_the_env_id_and_resume():
    text = help_text("train")
    assert "usage: lightup train" in text and "ENV_ID" in text.split("\n", 1)[0]
    helps = flag_helps(text)
    for flag in ("ENV_ID", "--resume", "--config", "--print-config", "--track", "--command.kind"):
        assert flag in helps, flag


def test_tyro_suggestions_are_kept(capsys):
    assert exit_code(["train", "--n-layr", "2"]) == 2
    err = capsys.readouterr().err
    assert (
        err.count("\n") == 1 and "Unrecognized options: --n-layr" in err and "did you mean --n-layer" in err
    )


def test_games_refuses_arguments(capsys):
    assert exit_code(["games", "extra"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad arguments to `lightup games`: Unrecognized options: extra")
    assert err.count("\n") == 1


def test_play_imports_no_torch():
    code = (
        "import sys; from lightup import cli; cli.parse(['play', 'CartPole-v1']); "
        "print('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr


def test_help_read_by_a_pager_that_stops_early_is_no_error():
    """`lightup train --help | head -1`: the reader leaves before the help ends; no traceback, exit 0."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "lightup.cli", "train", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.stdout.readline().startswith(b"usage: lightup train")
    proc.stdout.close()  # as head does after its line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0 and "Traceback" not in err and "error" not in err, err


def test_a_broken_pipe_of_the_run_s_own_is_a_failure_not_a_closed_pager(monkeypatch, capsys):
    """A BrokenPipeError from a pipe other than stdout (a dead vector-env worker) exits 1 with its
    traceback; only a reader of stdout that left is quiet."""
    import lightup.demo

    def run(args):
        raise BrokenPipeError(32, "Broken pipe")  # e.g. AsyncVectorEnv's worker gone

    monkeypatch.setattr(lightup.demo, "run", run)
    assert cli.main(["games"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: unexpected BrokenPipeError" in err
