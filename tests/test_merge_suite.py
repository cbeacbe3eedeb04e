"""benchmarks/merge_suite.py: every (env, agent) of the suite, seeds 0 to 9, from committed folders."""

import importlib.util
import sys
from pathlib import Path


def _merge_suite(monkeypatch):
    path = Path(__file__).parent.parent / "benchmarks" / "merge_suite.py"
    spec = importlib.util.spec_from_file_location("merge_suite", path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_every_source_of_the_merge_is_a_committed_folder(monkeypatch):
    merge = _merge_suite(monkeypatch)
    rows = merge.gather()  # exits naming the folder where a (task, agent) lacks a seed
    pairs = {(merge.task_name(r), r["agent"]) for r in rows}
    assert pairs == set(merge.SOURCES)
    assert len(rows) == 10 * len(merge.SOURCES)
    envs, agents = {t for t, _ in pairs}, {a for _, a in pairs}
    assert len(pairs) == len(envs) * len(agents) == 11 * 3  # rliable's table: every agent on every env
