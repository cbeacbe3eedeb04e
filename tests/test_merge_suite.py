"""benchmarks/merge_suite.py: which rows each of its two reports takes (rliable needs every pair)."""

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


def _rows(pairs):
    return [{"env_id": env, "env_options": [], "agent": agent, "seed": 0} for env, agent in pairs]


def test_the_reports_take_the_envs_every_agent_ran_and_the_agents_that_ran_every_env(monkeypatch):
    merge = _merge_suite(monkeypatch)
    rows = _rows(
        [
            ("CartPole-v1", "dt-stacked"),
            ("CartPole-v1", "sb3-ppo"),
            ("CartPole-v1", "sb3-dqn"),
            ("LunarLander-v3", "dt-stacked"),
            ("LunarLander-v3", "sb3-ppo"),
        ]
    )
    by_env = merge.complete(rows, every="agent")
    assert {r["env_id"] for r in by_env} == {"CartPole-v1"}
    assert len(by_env) == 3
    by_agent = merge.complete(rows, every="task")
    assert {r["agent"] for r in by_agent} == {"dt-stacked", "sb3-ppo"}
    assert {r["env_id"] for r in by_agent} == {"CartPole-v1", "LunarLander-v3"}


def test_every_source_of_the_merge_is_a_committed_folder(monkeypatch):
    merge = _merge_suite(monkeypatch)
    rows = merge.gather()  # exits naming the folder where a (task, agent) lacks a seed
    pairs = {(merge.task_name(r), r["agent"]) for r in rows}
    assert pairs == set(merge.SOURCES)
    assert len(rows) == 10 * len(merge.SOURCES)
