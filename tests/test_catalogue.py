"""Every case of the bad-input catalogue (tests/catalogue.py) through the real command line, in process:
its exit code, exactly one line on stderr that says what it should, no traceback, and not one file in its
folder created, changed or removed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from catalogue import CASES, make_base_run, prepare

from lightup import cli


@pytest.fixture(scope="session")
def base_run(tmp_path_factory) -> Path:
    return make_base_run(tmp_path_factory.mktemp("catalogue"))


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: a hash of each file's bytes, "dir" for each folder, "other"
    for anything else (a FIFO, which reading would block on)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_dir():
            out[rel] = "dir"
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "other"
    return out


def test_the_catalogue_covers_the_kinds():
    names = [case.name for case in CASES]
    assert len(CASES) >= 80 and len(set(names)) == len(names)
    assert all(case.expected_exit == 2 for case in CASES)
    argvs = [" ".join(case.argv) for case in CASES]
    for kind in ("--seed -1", "nan", "inf", "/proc/", "--force", "100k deep", "--resume"):
        assert any(kind in a for a in argvs) or any(kind in c.name or kind in c.says for c in CASES), kind


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_one_line_and_changes_nothing(case, base_run, tmp_path, monkeypatch, capsys):
    argv = prepare(case, tmp_path, base_run)
    monkeypatch.chdir(tmp_path)  # anything written to a relative path would land here and be seen
    before = snapshot(tmp_path)
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == case.expected_exit, (code, err)
    assert "Traceback" not in out + err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert case.says.format(tmp=tmp_path, run=tmp_path / "run") in lines[0]
    assert snapshot(tmp_path) == before
