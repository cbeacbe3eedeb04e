"""The results folder's human side: summary.md, stats.json and the performance-profile plot."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lightup.bench.stats import aggregate, group, normalised_scores, summarize_group, task_name

BASELINE = "sb3-ppo"


def _fmt(x: float | None, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if math.isinf(x):
        return "never"
    return f"{x:,.{digits}f}"


def _spread(s: tuple[float, float, float] | None, digits: int = 0) -> str:
    return "-" if s is None else f"{_fmt(s[0], digits)} ({_fmt(s[1], digits)} to {_fmt(s[2], digits)})"


def _ratio(a: float, b: float) -> str:
    if math.isinf(a) and not math.isinf(b):
        return "never solved"
    if math.isinf(b) or b == 0 or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.2f}"


def summary_table(rows: list[dict]) -> list[str]:
    lines = [
        "| env | agent | solved | env steps to threshold, median (min to max) | wall s to threshold, "
        "median (min to max) | final greedy return, median |",
        "|---|---|---|---|---|---|",
    ]
    for (task, agent), runs in group(rows).items():
        s = summarize_group(runs)
        lines.append(
            f"| {task} | {agent} | {s['solved']}/{s['runs']} | {_spread(s['steps_to_solve'])} | "
            f"{_spread(s['wall_to_solve'], 1)} | {_fmt(s['final_return'], 1)} |"
        )
    return lines


def against_baseline(rows: list[dict], task: str = "CartPole-v1") -> list[str]:
    """The issue's targets: each DT agent's median env steps and wall time to solve ``task`` at most SB3
    PPO's in the same bench. Unsolved runs count as never solving (the median is "never" when half fail)."""
    by = group(rows)
    if (task, BASELINE) not in by:
        return []
    base = summarize_group(by[(task, BASELINE)])
    dts = [agent for (t, agent) in by if t == task and agent.startswith("dt-")]
    if not dts:
        return []
    lines = [
        f"## {task}: Decision Transformer against {BASELINE}, same bench",
        "",
        "Target: ratio at most 1 (the DT needs no more env steps and no more wall time than PPO). Medians "
        "over all seeds, an unsolved run counting as never.",
        "",
        "| agent | median env steps to solve | ratio to PPO | median wall s to solve | ratio to PPO | "
        "targets met |",
        "|---|---|---|---|---|---|",
        f"| {BASELINE} | {_fmt(base['median_steps_all'])} | 1 | {_fmt(base['median_wall_all'], 1)} | 1 | |",
    ]
    for agent in dts:
        s = summarize_group(by[(task, agent)])
        steps_ratio = _ratio(s["median_steps_all"], base["median_steps_all"])
        wall_ratio = _ratio(s["median_wall_all"], base["median_wall_all"])
        met = [
            name
            for name, r in (("steps", steps_ratio), ("wall time", wall_ratio))
            if r not in ("-", "never solved") and float(r) <= 1
        ]
        lines.append(
            f"| {agent} | {_fmt(s['median_steps_all'])} | {steps_ratio} | {_fmt(s['median_wall_all'], 1)} | "
            f"{wall_ratio} | {', '.join(met) or 'no'} |"
        )
    return [*lines, ""]


def plot_profiles(stats: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    profile = stats["profile"]
    taus = np.array(profile["taus"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for agent, p in profile.items():
        if agent == "taus":
            continue
        (line,) = ax.plot(taus, p["fraction"], label=agent)
        ci = np.array(p["ci"])
        ax.fill_between(taus, ci[0], ci[1], color=line.get_color(), alpha=0.2)
    ax.set_xlabel("normalised final return τ (0 random, 1 reward threshold)")
    ax.set_ylabel("fraction of runs with score > τ")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(out_dir: Path, rows: list[dict], header: list[str], random_returns: dict, reps: int) -> str:
    """Write summary.md, stats.json and performance_profile.png into ``out_dir``; returns the markdown."""
    tasks = list(dict.fromkeys(task_name(r) for r in rows))
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    scores = normalised_scores(rows, agents, tasks, random_returns)
    stats = aggregate(scores, BASELINE, reps=reps)
    stats["random_returns"] = random_returns
    stats["runs_per_agent"] = {a: int(s.shape[0]) for a, s in scores.items()}
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=1) + "\n")
    plot_profiles(stats, out_dir / "performance_profile.png")

    lines = [*header, "", "## Per env and agent", "", *summary_table(rows), ""]
    lines += [
        "Steps and wall time to the threshold are over the solved runs; wall time counts building the envs "
        "and the model, training and the evaluations, one torch thread per run.",
        "",
    ]
    lines += against_baseline(rows)
    lines += [
        "## Aggregate over envs (rliable)",
        "",
        "Score: normalised final greedy return, (return - random) / (threshold - random); random play on the "
        "evaluation seeds scores " + ", ".join(f"{t} {v:.1f}" for t, v in random_returns.items()) + ". "
        f"95% stratified-bootstrap confidence intervals, {reps} replications.",
        "",
        "| agent | runs per env | IQM | 95% CI |",
        "|---|---|---|---|",
    ]
    for agent, v in stats["iqm"].items():
        lines.append(
            f"| {agent} | {stats['runs_per_agent'][agent]} | {v['point']:.3f} | "
            f"[{v['ci'][0]:.3f}, {v['ci'][1]:.3f}] |"
        )
    if stats["probability_of_improvement"]:
        lines += ["", "| probability of improvement | P | 95% CI |", "|---|---|---|"]
        for pair, v in stats["probability_of_improvement"].items():
            lines.append(f"| {pair} | {v['point']:.3f} | [{v['ci'][0]:.3f}, {v['ci'][1]:.3f}] |")
    lines += ["", "![performance profile](performance_profile.png)", ""]
    lines += hyperparameter_notes(rows)
    text = "\n".join(lines) + "\n"
    (out_dir / "summary.md").write_text(text)
    return text


def hyperparameter_notes(rows: list[dict]) -> list[str]:
    seen: dict[tuple[str, str], dict] = {}
    for r in rows:
        hp = r.get("hyperparameters") or {}
        if hp.get("from_zoo") is not None:
            seen.setdefault((r["env_id"], r["agent"]), hp)
    if not seen:
        return []
    lines = ["## Stable-Baselines3 hyperparameters", ""]
    for (env_id, agent), hp in seen.items():
        source = "RL Baselines3 Zoo" if hp["from_zoo"] else "not in the zoo: lightup's zoo-like fallback"
        values = ", ".join(f"{k} {v}" for k, v in hp.items() if k != "from_zoo")
        lines.append(f"- {agent} on {env_id} ({source}): {values}")
    return [*lines, "", "See lightup/bench/zoo.py for the sources.", ""]
