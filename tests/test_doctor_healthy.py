"""Never blame a healthy model: the GRU a user writes from examples/custom_policy.py, and the models of other
shapes of tests/healthy_shapes.py, pass every static check at several initialisations (the models of
tests/user_policies.py are checked so in tests/test_doctor.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from healthy_shapes import HEALTHY_SHAPES

from lightup.doctor.checks import CHECK_NAMES, Subject, run_static
from lightup.doctor.subjects import load_factory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_the_example_gru_passes_every_static_check_at_several_inits(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    factory = load_factory("custom_policy:make_policy")
    for seed in (0, 1, 2):
        only = tuple(n for n in CHECK_NAMES if n != "overfit_batch" or seed == 0)
        results = run_static(Subject(factory, name="gru-example", seed=seed), only=only)
        assert {r.name: r.detail for r in results if r.verdict != "pass"} == {}, f"seed {seed}"


@pytest.mark.parametrize("name", list(HEALTHY_SHAPES))
def test_healthy_models_of_other_shapes_pass_every_static_check(name):
    """No blame for a model of a shape the other tests do not use: every check passes (or skips, with its
    reason) at two initialisations (the overfitting one at the first: it takes seconds), but a slow learner
    may be inconclusive in overfit_batch, where its step count meets a broken model's (limits.OVERFIT)."""
    for seed in (0, 1):
        only = tuple(n for n in CHECK_NAMES if n != "overfit_batch" or seed == 0)
        subject = dataclasses.replace(HEALTHY_SHAPES[name], seed=seed)
        results = run_static(subject, only=only)
        blamed = {
            r.name: r.detail
            for r in results
            if r.verdict == "inconclusive"
            and r.name != "overfit_batch"
            or not r.passed
            and r.verdict != "inconclusive"
        }
        assert blamed == {}, seed
