"""The Python examples of the README and of the docs pages run as written, on a tiny budget.

Every ```python block is run, in a fresh namespace inside a temporary folder (run folders land there), with
each ``total_steps=N`` cut to a few hundred env steps. A block directly under the line
``<!-- target API: not run yet -->`` describes an API being built: it is only checked to parse.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
NOT_RUN = "<!-- target API: not run yet -->"
TINY_BUDGET = 256
FENCE = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def python_blocks(page: Path) -> list[tuple[int, str, bool]]:
    """(line number, code, runnable) of each ```python block of a page."""
    text = page.read_text(encoding="utf-8")
    out = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        out.append((text.count("\n", 0, match.start()) + 1, match.group(1), before.strip() != NOT_RUN))
    return out


def tiny(code: str) -> str:
    """The example with its training budget cut: every run folder it makes is a few seconds' work."""
    return re.sub(r"total_steps=[\d_]+", f"total_steps={TINY_BUDGET}", code)


BLOCKS = [(page, line, code, run) for page in PAGES for line, code, run in python_blocks(page)]
RUNNABLE = [
    pytest.param(code, id=f"{page.relative_to(ROOT)}:{line}") for page, line, code, run in BLOCKS if run
]


def test_the_readme_and_the_getting_started_page_hold_runnable_examples():
    pages = {page.name for page, _, _, run in BLOCKS if run}
    assert {"README.md", "getting-started.md", "custom.md", "games.md"} <= pages


@pytest.mark.parametrize(
    "page, line, code", [pytest.param(p, n, c, id=f"{p.name}:{n}") for p, n, c, _ in BLOCKS]
)
def test_every_python_block_parses(page, line, code):
    ast.parse(code, filename=f"{page}:{line}")


@pytest.mark.parametrize("code", RUNNABLE)
def test_python_example_runs(code, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    small = tiny(code)
    if ".learn(" in code:  # every training run in an example is cut to the tiny budget
        assert f"total_steps={TINY_BUDGET}" in small, "an example that trains must name total_steps"
    exec(compile(small, "example", "exec"), {"__name__": "__example__"})
    assert capsys.readouterr().out  # each example shows its result


def test_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    local = [t for t in targets if not t.startswith(("http://", "https://", "#"))]
    assert local, "the README links the docs and the results"
    missing = [t for t in local if not (ROOT / t.split("#")[0]).exists()]
    assert not missing, missing
