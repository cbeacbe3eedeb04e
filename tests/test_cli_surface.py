"""What a user meets first: ``lightup --version`` and every command's ``--help``, each exiting 0."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

import lightup
from lightup import cli


def exit_code(argv: list[str]) -> int:
    """The exit status ``lightup ARGV`` would end with (``sys.exit(main())``, or a SystemExit inside)."""
    try:
        return int(cli.main(argv) or 0)
    except SystemExit as exit_:
        return int(exit_.code or 0)


def test_version_prints_the_installed_version_and_exits_0():
    done = subprocess.run(
        [sys.executable, "-m", "lightup.cli", "--version"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"lightup {importlib.metadata.version('lightup')}\n"
    assert lightup.__version__ == importlib.metadata.version("lightup")  # one version, not two


def test_usage_names_version(capsys):
    assert exit_code(["--help"]) == 0
    assert "--version" in capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(cli.COMMANDS))
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_of_every_command_exits_0(capsys, command, flag):
    assert exit_code([command, flag]) == 0
    out = capsys.readouterr().out
    assert "usage" in out.lower() and command in out


def test_games_still_refuses_arguments(capsys):
    assert exit_code(["games", "extra"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: games takes no arguments") and err.count("\n") == 1
