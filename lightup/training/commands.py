"""Commands: the target return asked of the policy at the start of each rollout episode.

Each strategy looks at the returns of the episodes in the replay buffer and proposes a target; the trainer
caps it at the env's highest possible return when that is known.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
import tyro

from lightup.args import MaybeFloat, default_hint


@dataclass
class CommandConfig:
    kind: Annotated[
        Literal["fixed", "best", "topk"] | None,
        tyro.conf.arg(metavar="{fixed,best,topk}", help_behavior_hint=default_hint),
    ] = None
    """fixed: value; best: the best return plus a margin; topk: the k best's mean + std (default: recipe)."""
    value: float = 0.0
    """The target of ``fixed``, and the target of the others before any episode is stored."""
    margin: float = 0.2
    """best: raise the best return by this share of the returns' spread (best less worst)."""
    offset: MaybeFloat = None
    """best: and by this much (default: the recipe's, a share of the return scale)."""
    jitter: float = 0.2
    """best: less a uniform random share, up to this, of the way up from the worst return."""
    k: int = 50
    """topk: how many of the best returns to use."""


def propose_target(config: CommandConfig, returns: np.ndarray, rng: np.random.Generator) -> float:
    """A target return from the returns of stored episodes (any order). ``config.kind`` must be set (the
    trainer fills in the recipe's default)."""
    if config.kind == "fixed" or len(returns) == 0:
        return float(config.value)
    if config.kind == "best":
        # Measured from the worst return, not from 0: the same steps whatever the sign or offset of the
        # returns (a best of -500 among returns down to -1000 asks for -395 before jitter).
        best, worst = returns.max(), returns.min()
        target = best + config.margin * (best - worst) + (config.offset or 0.0)
        return float(target - rng.uniform(0.0, config.jitter) * (target - worst))
    top = np.sort(returns)[-config.k :]
    return float(top.mean() + top.std())


def capped(target: float, max_return: float | None) -> float:
    """``target``, at most the env's highest possible return when that is known."""
    return min(target, max_return) if max_return is not None else target


def rollout_commands(
    config: CommandConfig, max_return: float | None, returns: np.ndarray, rng: np.random.Generator, n: int
) -> np.ndarray:
    """``n`` draws of the rollout command (float64 (n,)) from the returns of the stored episodes."""
    return np.array([capped(propose_target(config, returns, rng), max_return) for _ in range(n)])


def eval_command(kind: str, config: CommandConfig, max_return: float | None, returns: np.ndarray) -> float:
    """The command of greedy evaluation (``TrainConfig.eval_command``): ``max`` (the env's highest return),
    ``best`` (the best stored return), or ``rollout`` (the rollout command without its random part)."""
    if kind == "max" and max_return is not None:
        return max_return
    if kind == "best" and len(returns):
        return capped(float(returns.max()), max_return)
    # rollout (or nothing stored yet)
    command = dataclasses.replace(config, jitter=0.0)
    return capped(propose_target(command, returns, np.random.default_rng(0)), max_return)
