"""Statistics of a bench: per-run summaries and rliable's aggregates over normalised final returns.

Normalised score of a run: ``(final - random) / (threshold - random)``, where ``random`` is the mean return
of uniformly random actions on the evaluation seeds: 0 is random play, 1 is the reward threshold. Runs stop
at the threshold, so a solved run scores at least 1 and about 1 (its final return is the evaluation that
solved it). Aggregates follow Agarwal et al. 2021 ("Deep RL at the Edge of the Statistical Precipice"):
interquartile mean with stratified-bootstrap 95% confidence intervals, probability of improvement,
performance profiles (the fraction of runs above each normalised score).
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections import defaultdict

import numpy as np

from lightup.errors import LightupError

BENCH_EXTRA = 'pip install -e ".[bench]"'


def task_of(env_id: str, options: tuple[str, ...] | list[str] = ()) -> str:
    """An env with its options, the unit rliable calls a task: the id, then the options, space-separated."""
    return " ".join([env_id, *options])


def task_name(row: dict) -> str:
    """The task of a result row."""
    return task_of(row["env_id"], row.get("env_options") or ())


def group(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """Rows by (task, agent), in first-seen order."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        out[(task_name(row), row["agent"])].append(row)
    return dict(out)


def spread(values: list[float]) -> tuple[float, float, float] | None:
    """(median, min, max), or None for no values."""
    if not values:
        return None
    return statistics.median(values), min(values), max(values)


def median_to_solve(values: list[float | None]) -> float:
    """Median over all runs, an unsolved run (None) counting as never: infinite when half or more failed."""
    return float(np.median([math.inf if v is None else v for v in values])) if values else math.nan


def summarize_group(rows: list[dict]) -> dict:
    """One line of the summary table: fraction solved, env steps and wall time to the threshold over the
    solved runs (median, min, max), and the median final greedy return over all runs."""
    solved = [r for r in rows if r["solved_at"] is not None]
    finals = [r["final_eval"] for r in rows if r["final_eval"] is not None]
    return {
        "runs": len(rows),
        "solved": len(solved),
        "fraction_solved": len(solved) / len(rows) if rows else math.nan,
        "steps_to_solve": spread([r["solved_at"] for r in solved]),
        "wall_to_solve": spread([r["wall_s_to_solve"] for r in solved]),
        "final_return": statistics.median(finals) if finals else None,
        "median_steps_all": median_to_solve([r["solved_at"] for r in rows]),
        "median_wall_all": median_to_solve([r["wall_s_to_solve"] for r in rows]),
    }


def normalised_scores(
    rows: list[dict], agents: list[str], tasks: list[str], random_returns: dict[str, float]
) -> dict[str, np.ndarray]:
    """agent -> (runs, tasks) normalised final returns, runs in seed order (rliable's layout).

    A task without a reward threshold is scaled by the best final return any agent reached on it."""
    by = group(rows)
    out = {}
    for agent in agents:
        columns = []
        for task in tasks:
            group_rows = sorted(by.get((task, agent), []), key=lambda r: r["seed"])
            if not group_rows:
                raise LightupError(f"no runs of {agent} on {task}: the score table needs every pair")
            low = random_returns[task]
            high = group_rows[0]["threshold"]
            if high is None:
                high = max(r["final_eval"] for r in rows if task_name(r) == task)
            scale = high - low if high != low else 1.0
            columns.append([(r["final_eval"] - low) / scale for r in group_rows])
        n = min(len(c) for c in columns)  # stratified bootstrap needs as many runs on every task
        out[agent] = np.array([c[:n] for c in columns], dtype=np.float64).T  # (runs, tasks)
    return out


def _rliable():
    try:
        from rliable import library, metrics
    except ImportError as err:
        raise LightupError(
            f"the bench statistics need rliable ({err.name} is missing): {BENCH_EXTRA}"
        ) from None
    return library, metrics


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean over all runs and tasks: the mean of the middle 50% of scores."""
    _, metrics = _rliable()
    return float(metrics.aggregate_iqm(scores))


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
    """P(X > Y) per task (ties count one half), averaged over tasks: both (runs, tasks)."""
    _, metrics = _rliable()
    return float(metrics.probability_of_improvement(scores_x, scores_y))


def aggregate(
    scores: dict[str, np.ndarray],
    baseline: str | tuple[str, ...] = "sb3-ppo",
    reps: int = 2000,
    seed: int = 0,
    taus: np.ndarray | None = None,
) -> dict:
    """IQM with 95% stratified-bootstrap CIs per agent, probability of improvement of each DT agent over
    ``baseline`` (or each of several; those that ran) with its CI, and performance profiles with CIs at
    ``taus``."""
    library, metrics = _rliable()
    # rliable 1.2 hands arch a RandomState, which arch 7 deprecates (a FutureWarning per estimate).
    warnings.filterwarnings("ignore", category=FutureWarning, module="arch")

    # rliable's StratifiedBootstrap draws its run indices from NumPy's global stream (update_indices calls
    # np.random.choice), not from random_state: seed that too, and give the caller's state back after.
    saved = np.random.get_state()
    np.random.seed(seed)
    try:
        return _aggregate(scores, baseline, reps, seed, taus, library, metrics)
    finally:
        np.random.set_state(saved)


def _aggregate(scores, baseline, reps, seed, taus, library, metrics) -> dict:
    def rng():  # the same random stream for every estimate: reruns give the same intervals
        return np.random.RandomState(seed)

    iqm_point, iqm_ci = library.get_interval_estimates(
        scores, lambda x: np.array([metrics.aggregate_iqm(x)]), reps=reps, random_state=rng()
    )
    out: dict = {
        "iqm": {a: {"point": float(iqm_point[a][0]), "ci": iqm_ci[a][:, 0].tolist()} for a in scores},
        "probability_of_improvement": {},
    }
    baselines = (baseline,) if isinstance(baseline, str) else tuple(baseline)
    pairs = {
        f"{a} > {b}": (scores[a], scores[b])
        for b in baselines
        if b in scores
        for a in scores
        if a.startswith("dt-")
    }
    if pairs:
        poi_point, poi_ci = library.get_interval_estimates(
            pairs,
            lambda x, y: np.array([metrics.probability_of_improvement(x, y)]),
            reps=reps,
            random_state=rng(),
        )
        out["probability_of_improvement"] = {
            k: {"point": float(poi_point[k][0]), "ci": poi_ci[k][:, 0].tolist()} for k in pairs
        }
    if taus is None:  # from random play to past the best run
        top = max(float(np.max(s)) for s in scores.values())
        taus = np.linspace(0.0, max(1.2, top + 0.05), 61)
    profiles, profile_cis = library.create_performance_profile(scores, taus, reps=reps)
    out["profile"] = {
        "taus": taus.tolist(),
        **{a: {"fraction": profiles[a].tolist(), "ci": profile_cis[a].tolist()} for a in scores},
    }
    return out
