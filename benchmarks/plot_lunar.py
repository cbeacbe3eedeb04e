"""Greedy evaluation against env steps for each LunarLander-v3 seed: the value baseline, the policy baseline,
and the policy baseline in the interleaved layout (three tokens per step).

    python benchmarks/plot_lunar.py      # reads the committed raw records, writes results/learning_lunar.png

The records are the runs of `learning_lunar.md`, one line per logged round with
``run`` and ``seed`` added; a resumed run logs the steps after its checkpoint twice, and the later wins.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RESULTS = Path(__file__).parent / "results"
PANELS = {  # title: (file, run name) of each set of seeds
    "value baseline (the defaults before 3b6f467), seeds 0 to 7": [
        ("learning_lunar_probes6.jsonl", "schedu64"),
        ("learning_lunar_probes7.jsonl", "schedu64"),
        ("learning_lunar_qpol.jsonl", "def"),
    ],
    "policy baseline (the defaults since 3b6f467), seeds 0 to 13": [("learning_lunar_qpol.jsonl", "qpol")],
    "the same in the interleaved layout, seeds 0 to 9": [("learning_lunar_interleaved.jsonl", "il")],
}


def curves(sources: list[tuple[str, str]]) -> dict[int, dict[int, float]]:
    """Seed -> {env step: greedy evaluation}."""
    out: dict[int, dict[int, float]] = {}
    for name, run in sources:
        for line in (RESULTS / name).read_text().splitlines():
            record = json.loads(line)
            if record["run"] == run and "eval/mean_reward" in record:
                out.setdefault(record["seed"], {})[record["step"]] = record["eval/mean_reward"]
    return out


def main() -> None:
    fig, axes = plt.subplots(1, len(PANELS), figsize=(6 * len(PANELS), 4.5), sharey=True)
    for ax, (title, sources) in zip(axes, PANELS.items(), strict=True):
        for seed, points in sorted(curves(sources).items()):
            steps = sorted(points)
            if seed < 10:
                ax.plot(steps, [points[s] for s in steps], marker=".", label=f"seed {seed}")
            else:  # the seeds run beyond the ten the target counts
                label = "seeds 10 on (extra)" if seed == 10 else None
                ax.plot(steps, [points[s] for s in steps], color="gray", linewidth=0.8, label=label)
        ax.axhline(200, color="black", linestyle="--", linewidth=1)
        ax.set(title=title, xlabel="env steps", xlim=(0, 1_000_000), ylim=(-250, 280))
        ax.legend(fontsize=7, ncol=2, loc="lower right")
    axes[0].set_ylabel("greedy evaluation (20 episodes)")
    fig.suptitle("LunarLander-v3 within 1M env steps: threshold 200 (dashed); a run stops when it reaches it")
    fig.tight_layout()
    fig.savefig(RESULTS / "learning_lunar.png", dpi=110)


if __name__ == "__main__":
    main()
