"""The return-following curve's plot: commanded return against achieved, with the diagonal.

It is the Decision Transformer's own diagnostic (Chen et al. 2021, Figure 4): a policy that follows its
command gives a curve on the diagonal up to the best return it can reach, then flat. The sweep itself is
`lightup.training.follow`.
"""

from __future__ import annotations

import numpy as np

from lightup.training.follow import SWEEP_SEED, command_sweep, return_following

__all__ = ["SWEEP_SEED", "command_sweep", "plot_return_following", "return_following"]


def plot_return_following(rows: list[dict[str, float]], title: str = "Return following"):
    """Achieved against commanded return, with the diagonal: a matplotlib Figure."""
    from lightup.viz.plots import new_figure

    fig, ax = new_figure()
    c = np.array([r["command"] for r in rows])
    m = np.array([r["mean"] for r in rows])
    s = np.array([r["std"] for r in rows])
    lo, hi = float(min(c.min(), (m - s).min())), float(max(c.max(), (m + s).max()))
    pad = 0.05 * (hi - lo or 1.0)
    ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "--", color="gray", label="achieved = commanded")
    ax.errorbar(c, m, yerr=s, marker="o", capsize=3, label="achieved (mean ± std)")
    ax.set_xlabel("commanded return")
    ax.set_ylabel("achieved return")
    ax.set_title(title)
    ax.legend(loc="best")
    return fig
