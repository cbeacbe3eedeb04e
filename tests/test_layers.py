"""The package's layers (pyproject.toml's import-linter contracts) hold, and break on an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def lint(package_parent: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(package_parent))
    return subprocess.run(
        [str(LINT), "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=package_parent,
        env=env,
        capture_output=True,
        text=True,
    )


def test_the_import_contracts_hold():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("training/agent.py", "import lightup.viz.plots", "layers"),
        ("models/policy.py", "import lightup.training.returns", "layers"),
        ("viz/plots.py", "import lightup.training.cli", "only the commands import the commands"),
    ],
)
def test_an_upward_import_breaks_its_contract(tmp_path, module, line, contract):
    shutil.copytree(ROOT / "lightup", tmp_path / "lightup", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "lightup" / module
    path.write_text(path.read_text() + f"\n{line}  # an import against the layers\n")
    result = lint(tmp_path)
    assert result.returncode != 0
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout
