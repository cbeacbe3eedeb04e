"""How often a healthy model fails each rung: measured per-seed pass rates of healthy models (our Decision
Transformer in both layouts at the doctor's size, the reference MLP and the example GRU where measured;
benchmarks/rung_calibration.py, table in benchmarks/results/rung_calibration.md), and the false-alarm rate
of a rung's rule that follows from them, with its 95% bound. A failed rung states it beside its verdict, so
a user can weigh a failure against the rung's own noise."""

from __future__ import annotations

import math

PER_SEED: dict[str, tuple[int, int]] = {
    "overfit-batch": (30, 30),
    "lookup-table": (30, 30),
    "probe-constant": (30, 30),
    "probe-obs-reward": (30, 30),
    "probe-delayed-reward": (30, 30),
    "probe-action-reward": (30, 30),
    "probe-action-obs-reward": (30, 30),
    "command-follow": (30, 30),
    "continuous-target-action": (100, 100),
    "continuous-obs-action": (100, 100),
    "command-follow-later": (27, 30),
    "press-fixed-light": (30, 30),
    "press-size-2": (30, 30),
    "press-size-4": (43, 60),
    "press-length-5": (30, 30),
    "press-hard": (15, 30),
    "recall": (29, 30),
    "recall-rounds": (30, 30),
}
"""rung -> (seeds passed, seeds run) of its least healthy subject, one fresh initialisation per seed."""


def false_alarm(p: float, need: int, n: int) -> float:
    """P(fewer than ``need`` of ``n`` seeds pass) when each passes with probability p."""
    return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(need))


def lower_bound(passed: int, runs: int, confidence: float = 0.95) -> float:
    """The one-sided Clopper-Pearson lower bound of a per-seed pass rate: the p at which ``passed`` or more
    passes of ``runs`` have probability 1 - confidence (by bisection: no scipy at run time)."""
    if passed == 0:
        return 0.0
    low, high = 0.0, passed / runs
    for _ in range(60):
        mid = (low + high) / 2
        at_least = 1 - false_alarm(mid, passed, runs)  # P(passed or more | mid)
        low, high = (mid, high) if at_least < 1 - confidence else (low, mid)
    return low


def note(rung: str, need: int, n: int) -> str:
    """A sentence on the rung's measured false-alarm rate under the rule ``need`` of ``n`` seeds."""
    if rung not in PER_SEED:
        return "its false-alarm rate on healthy models is not measured"
    passed, runs = PER_SEED[rung]
    rate = false_alarm(passed / runs, need, n)
    bound = false_alarm(lower_bound(passed, runs), need, n)
    return (
        f"healthy models fail it {rate:.1%} of the time by its {need}-of-{n}-seeds rule, at most {bound:.1%} "
        f"at 95% confidence (the least healthy model passed {passed} of {runs} seeds; "
        "benchmarks/results/rung_calibration.md)"
    )
