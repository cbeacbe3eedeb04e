"""The results folder's human side: summary.md, stats.json, the performance profile and the learning curves.

Every file is written whole or not at all (a temporary file renamed over the old one)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lightup.bench.stats import aggregate, group, normalised_scores, summarize_group, task_name
from lightup.checkpoint import atomic_write

BASELINE = "sb3-ppo"
PEERS = (
    "sb3-ppo",
    "sb3-dqn",
    "sb3-sac",
    "sb3-td3",
)  # the probability of improvement of each DT agent over each
# Hand-written notes on a run start at this heading; re-rendering a folder keeps them.
NOTES = "## This run"


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
    if math.isinf(b) and not math.isinf(a):
        return "PPO never solved"  # the DT did: better than any ratio
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


def against_baseline(rows: list[dict]) -> list[str]:
    """Issue 6's targets, for every env where SB3 PPO ran beside a Decision Transformer: each DT agent's
    median env steps and wall time to solve at most PPO's in the same bench. Unsolved runs count as never
    solving (the median is "never" when half fail)."""
    by = group(rows)
    lines = []
    for task in dict.fromkeys(t for t, _ in by):
        if (task, BASELINE) not in by:
            continue
        base = summarize_group(by[(task, BASELINE)])
        steps, wall = _fmt(base["median_steps_all"]), _fmt(base["median_wall_all"], 1)
        dts = [agent for (t, agent) in by if t == task and agent.startswith("dt-")]
        if not dts:
            continue
        lines += [
            f"## {task}: Decision Transformer against {BASELINE}, same bench",
            "",
            "Target: ratio at most 1 (the DT needs no more env steps and no more wall time than PPO). "
            "Medians over all seeds, an unsolved run counting as never.",
            "",
            "| agent | median env steps to solve | ratio to PPO | median wall s to solve | ratio to PPO | "
            "targets met |",
            "|---|---|---|---|---|---|",
            f"| {BASELINE} | {steps} | 1 | {wall} | 1 | |",
        ]
        for agent in dts:
            s = summarize_group(by[(task, agent)])
            steps_ratio = _ratio(s["median_steps_all"], base["median_steps_all"])
            wall_ratio = _ratio(s["median_wall_all"], base["median_wall_all"])
            met = [
                name
                for name, r in (("steps", steps_ratio), ("wall time", wall_ratio))
                if r == "PPO never solved" or (r not in ("-", "never solved") and float(r) <= 1)
            ]
            lines.append(
                f"| {agent} | {_fmt(s['median_steps_all'])} | {steps_ratio} | "
                f"{_fmt(s['median_wall_all'], 1)} | {wall_ratio} | {', '.join(met) or 'no'} |"
            )
        lines.append("")
    return lines


def _save(fig, path: Path) -> None:
    import matplotlib.pyplot as plt

    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)


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
    _save(fig, path)


def plot_curves(rows: list[dict], path: Path) -> None:
    """One panel per env: every run's greedy evaluations against env steps, coloured by agent, and the
    reward threshold. A run's line ends where it reached the threshold (the bench stops it there)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import EngFormatter

    by = group(rows)
    tasks = list(dict.fromkeys(t for t, _ in by))
    agents = list(dict.fromkeys(a for _, a in by))
    colours = {a: f"C{i}" for i, a in enumerate(agents)}
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        for agent in agents:
            for i, run in enumerate(by.get((task, agent), [])):
                steps, returns = zip(*run["curve"], strict=True) if run["curve"] else ((), ())
                label = f"{agent} ({len(by[(task, agent)])} runs)" if i == 0 else None
                ax.plot(steps, returns, color=colours[agent], alpha=0.6, lw=1, marker=".", ms=3, label=label)
        threshold = next((r["threshold"] for (t, _), runs in by.items() if t == task for r in runs), None)
        if threshold is not None:
            ax.axhline(threshold, color="k", ls="--", lw=0.8, label="threshold")
        ax.set_title(task, fontsize=9)
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1M: long budgets' labels fit
        ax.set_xlabel("env steps")
        ax.set_ylabel("greedy evaluation, mean return")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    _save(fig, path)


def write_report(
    out_dir: Path, rows: list[dict], header: list[str], random_returns: dict, reps: int, notes: str = ""
) -> str:
    """Write summary.md, stats.json, performance_profile.png and curves.png into ``out_dir``; returns the
    markdown. ``notes`` (hand-written, from the `NOTES` heading on) go at the end of summary.md."""
    tasks = list(dict.fromkeys(task_name(r) for r in rows))
    agents = list(dict.fromkeys(r["agent"] for r in rows))
    scores = normalised_scores(rows, agents, tasks, random_returns)
    stats = aggregate(scores, PEERS, reps=reps)
    stats["random_returns"] = random_returns
    stats["runs_per_agent"] = {a: int(s.shape[0]) for a, s in scores.items()}
    atomic_write(out_dir / "stats.json", lambda tmp: Path(tmp).write_text(json.dumps(stats, indent=1) + "\n"))
    plot_profiles(stats, out_dir / "performance_profile.png")
    plot_curves(rows, out_dir / "curves.png")

    lines = [*header, "", "## Per env and agent", "", *summary_table(rows), ""]
    lines += [
        "Steps and wall time to the threshold are over the solved runs; wall time counts building the envs "
        "and the model, training and the evaluations, one torch thread per run.",
        "",
    ]
    lines += ["![learning curves](curves.png)", ""]
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
    lines += following_table(rows)
    lines += hyperparameter_notes(rows)
    text = "\n".join(lines) + "\n"
    if notes:
        text += "\n" + notes.rstrip("\n") + "\n"
    atomic_write(out_dir / "summary.md", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return text


def following_table(rows: list[dict]) -> list[str]:
    """Per env and trainer agent, the return-following fit of the runs' final policies (`runs.return_
    following_fit`): median slope and error over the runs that measured one."""
    lines = []
    for (task, agent), runs in group(rows).items():
        fits = [r["follow"] for r in runs if r.get("follow")]
        if fits:
            slope = float(np.median([f["slope"] for f in fits]))
            error = float(np.median([f["error"] for f in fits]))
            lines.append(f"| {task} | {agent} | {len(fits)} | {slope:.2f} | {error:.2f} |")
    if not lines:
        return []
    return [
        "## Return following",
        "",
        "Greedy return achieved against commanded, over the range of each run's final replay (5 commands, "
        "4 episodes each): the least-squares slope (1: every command followed; 0: ignored) and the mean "
        "absolute error from the diagonal as a share of the range; medians over the runs.",
        "",
        "| env | agent | runs | slope | error |",
        "|---|---|---|---|---|",
        *lines,
        "",
    ]


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
