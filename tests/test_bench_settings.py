"""A bench folder resumed by a code whose settings for its agents changed is refused, not mixed."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil

import pytest

from lightup.bench.cli import load_config, run_bench
from lightup.errors import LightupError
from lightup.training import recipe


def _copy(finished_bench, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    return folder, {p.name: p.read_bytes() for p in folder.iterdir()}


def _resume(folder, **changes):
    config = load_config(folder / "config.json")
    return run_bench(dataclasses.replace(config, out=str(folder), resume=True, **changes))


def _rows(folder) -> list[dict]:
    return [json.loads(line) for line in (folder / "runs.jsonl").read_text().splitlines()]


def test_each_trainer_row_records_the_recipe_it_ran_with(finished_bench):
    assert {row["recipe"] for row in _rows(finished_bench)} == {recipe.recipe_digest()}


def test_a_changed_default_refuses_the_resume_and_changes_nothing(finished_bench, tmp_path, monkeypatch):
    folder, files = _copy(finished_bench, tmp_path)
    before = recipe.recipe_digest()
    monkeypatch.setitem(recipe.DEFAULTS, "updates_per_round", recipe.DEFAULTS["updates_per_round"] + 1)
    assert recipe.recipe_digest() != before
    message = (
        "holds 2 runs of mlp whose recipe differs from this code's (e.g. on lightup/PressButton-v0, seed"
    )
    with pytest.raises(LightupError, match=re.escape(message)):
        _resume(folder, seeds=3)
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files


def test_the_same_recipe_resumes_and_rows_from_before_the_record_are_kept(finished_bench, tmp_path):
    folder, _ = _copy(finished_bench, tmp_path)
    first, second = _rows(folder)
    del first["recipe"]  # a row from a lightup that did not record its recipe
    (folder / "runs.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    _resume(folder, seeds=3)
    rows = _rows(folder)
    assert sorted(r["seed"] for r in rows) == [0, 1, 2] and rows[0] == first


def test_a_peer_row_whose_hyperparameters_changed_refuses_the_resume(finished_bench, tmp_path):
    """An SB3 peer's row records the hyperparameters it ran with; the zoo's for this job now differ."""
    from lightup.bench.zoo import as_recorded, hyperparameters

    folder, _ = _copy(finished_bench, tmp_path)
    recorded = as_recorded(*hyperparameters("ppo", "lightup/PressButton-v0"))
    row = {**_rows(folder)[0], "agent": "sb3-ppo", "hyperparameters": recorded}
    row["hyperparameters"]["learning_rate"] = 0.5  # not what this code's zoo table gives
    (folder / "runs.jsonl").write_text(json.dumps(row) + "\n")
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    message = "holds 1 runs of sb3-ppo whose hyperparameters differ from this code's (e.g. on lightup/PressB"
    with pytest.raises(LightupError, match=re.escape(message)):
        _resume(folder, agents=("mlp", "sb3-ppo"))
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == files
