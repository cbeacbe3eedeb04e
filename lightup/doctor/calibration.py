"""How often a healthy model fails each rung: measured per-seed pass rates of our Decision Transformer
(stacked, the doctor's size; benchmarks/rung_calibration.py, table in
benchmarks/results/rung_calibration.md), and the false-alarm rate of a rung's rule that follows from them.
A failed rung states it beside its verdict, so a user can weigh a failure against the rung's own noise."""

from __future__ import annotations

import math

PER_SEED: dict[str, tuple[int, int]] = {}
"""rung -> (seeds passed, seeds run) of the healthy model, one fresh initialisation per seed."""


def false_alarm(p: float, need: int, n: int) -> float:
    """P(fewer than ``need`` of ``n`` seeds pass) when each passes with probability p."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(need))


def note(rung: str, need: int, n: int) -> str:
    """A sentence on the rung's measured false-alarm rate under the rule ``need`` of ``n`` seeds."""
    if rung not in PER_SEED:
        return "its false-alarm rate on healthy models is not measured"
    passed, runs = PER_SEED[rung]
    rate = false_alarm(passed / runs, need, n)
    return (
        f"healthy models fail it {rate:.1%} of the time (they pass {passed} of {runs} seeds; "
        "benchmarks/results/rung_calibration.md)"
    )
