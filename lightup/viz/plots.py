"""Plots of a run, drawn from its metrics file (`metrics.jsonl`), never from a trainer's memory.

Figures are made with ``matplotlib.figure.Figure`` directly, not pyplot: no global state, no GUI backend,
safe in a training process and in threads.
"""

from __future__ import annotations

import io
import math

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

# (figure name, title, y label, [(tag, label), ...]); a figure is drawn when any of its tags was logged.
PANELS: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    (
        "returns",
        "Episode return and commanded return",
        "return",
        [
            ("rollout/ep_rew_mean", "episode return (rollouts)"),
            ("rollout/commanded_return", "commanded return"),
            ("rollout/buffer_best_return", "best return in the buffer"),
        ],
    ),
    (
        "evaluation",
        "Greedy evaluation",
        "return",
        [("eval/mean_reward", "evaluation return"), ("eval/command", "evaluation command")],
    ),
    ("loss", "Loss", "loss", [("train/loss", "loss"), ("train/nll", "negative log-likelihood")]),
    (
        "entropy",
        "Entropy",
        "nats",
        [("train/entropy", "entropy (training batches)"), ("rollout/entropy", "entropy (rollouts)")],
    ),
    (
        "action_probability",
        "How sure the policy is",
        "probability",
        [("rollout/max_prob", "probability of the most likely action (rollouts)")],
    ),
    ("episode_length", "Episode length", "steps", [("rollout/ep_len_mean", "episode length (rollouts)")]),
]
# Logged by some runs only: the share of illegal actions, the start token's probability, action shares.
OPTIONAL_MARKERS = ("illegal", "start", "action_frac", "action_share", "action_prob")


def new_figure(width: float = 7.0, height: float = 3.6) -> tuple[Figure, object]:
    # Fixed margins rather than layout="constrained", which takes about twice as long to draw.
    fig = Figure(figsize=(width, height), dpi=100)
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.14)
    return fig, fig.add_subplot()


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def series(records: list[dict], tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a numeric tag; records without it are skipped, "nan"/"inf" strings become NaN."""
    steps, values = [], []
    for r in records:
        if tag not in r:
            continue
        v = r[tag]
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                continue
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        steps.append(r.get("step", len(steps)))
        values.append(float(v))
    return np.array(steps, dtype=float), np.array(values, dtype=float)


def numeric_tags(records: list[dict]) -> list[str]:
    tags: dict[str, None] = {}
    for r in records:
        for k, v in r.items():
            if k != "step" and isinstance(v, int | float) and not isinstance(v, bool):
                tags.setdefault(k)
    return list(tags)


def _panel(title: str, ylabel: str, lines: list[tuple[np.ndarray, np.ndarray, str]], records) -> Figure:
    fig, ax = new_figure()
    for x, y, label in lines:
        ax.plot(x, y, marker="o" if len(x) < 30 else None, markersize=3, label=label)
    if title.startswith("Greedy"):
        x, std = series(records, "eval/std_reward")
        _, mean = series(records, "eval/mean_reward")
        if len(std) == len(mean) and len(std):
            ax.fill_between(x, mean - std, mean + std, alpha=0.2, label="± std")
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 200k, 1M: long runs' labels fit
    ax.set_xlabel("env steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return fig


def metric_figures(records: list[dict], threshold: float | None = None) -> dict[str, tuple[str, Figure]]:
    """name -> (title, figure) for every panel with data, plus one for each optional tag and any other
    logged numbers (so nothing logged goes unseen)."""
    out: dict[str, tuple[str, Figure]] = {}
    used: set[str] = {"eval/std_reward"}
    for name, title, ylabel, tags in PANELS:
        lines = []
        for tag, label in tags:
            x, y = series(records, tag)
            used.add(tag)
            if len(x):
                lines.append((x, y, label))
        if not lines:
            continue
        fig = _panel(title, ylabel, lines, records)
        if threshold is not None and name in ("returns", "evaluation"):
            fig.axes[0].axhline(threshold, color="green", linestyle=":", label=f"threshold {threshold:g}")
            fig.axes[0].legend(loc="best", fontsize="small")
        out[name] = (title, fig)
    rest = [t for t in numeric_tags(records) if t not in used]
    optional = [t for t in rest if any(m in t for m in OPTIONAL_MARKERS)]
    if optional:
        lines = [(*series(records, t), t) for t in optional]
        out["illegal_or_start"] = (
            "Illegal actions / start token / action shares",
            _panel("Illegal actions, start token, action shares", "share or probability", lines, records),
        )
    others = [t for t in rest if t not in optional]
    if others:
        out["other"] = ("Everything else logged", grid_figure(records, others))
    return out


def grid_figure(records: list[dict], tags: list[str]) -> Figure:
    cols = 3
    rows = math.ceil(len(tags) / cols)
    fig = Figure(figsize=(10, 2.4 * rows), dpi=100)
    fig.subplots_adjust(
        left=0.06, right=0.98, top=1 - 0.3 / rows, bottom=0.25 / rows, hspace=0.5, wspace=0.25
    )
    for i, tag in enumerate(tags):
        ax = fig.add_subplot(rows, cols, i + 1)
        x, y = series(records, tag)
        ax.plot(x, y)
        ax.set_title(tag, fontsize="small")
        ax.tick_params(labelsize="x-small")
        ax.grid(alpha=0.3)
    return fig


def alarms(records: list[dict]) -> list[tuple[int, str, str]]:
    """(step, tag, text) for every non-number logged: alarms (tags with "alarm" or "doctor/"), notes, and
    values that were NaN or infinite (the logger writes those as strings)."""
    out = []
    for r in records:
        for k, v in r.items():
            if k == "step":
                continue
            if isinstance(v, str) or "alarm" in k or k.startswith("doctor/"):
                out.append((int(r.get("step", -1)), k, str(v)))
    return out
