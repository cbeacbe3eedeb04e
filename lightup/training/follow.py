"""The return-following curve: command a sweep of returns and measure what the policy achieves at each
(`lightup.viz.follow` plots it; the bench reports it as a number).

It is the Decision Transformer's own diagnostic (Chen et al. 2021, Figure 4): a policy that follows its
command gives a curve on the diagonal up to the best return it can reach, then flat.
"""

from __future__ import annotations

import numpy as np
import torch

from lightup.envs.time_limit import DEFAULT_MAX_EPISODE_STEPS
from lightup.models.policy import SequencePolicy
from lightup.training.agent import Agent, play_episodes
from lightup.training.envs import make_vector_env

SWEEP_SEED = 2_000_000  # episodes of the sweep use fixed seeds, apart from training's and evaluation's


def command_sweep(low: float, high: float, n: int = 7) -> list[float]:
    """``n`` evenly spaced commands from ``low`` to ``high`` (one command if they are equal)."""
    if not np.isfinite(low) or not np.isfinite(high):
        raise ValueError(f"command range must be finite, got {low}..{high}")
    if high <= low:
        return [float(low)]
    return [float(c) for c in np.linspace(low, high, n)]


@torch.inference_mode()
def return_following(
    policy: SequencePolicy,
    env_id: str,
    commands: list[float],
    return_scale: float,
    env_options: dict | None = None,
    episodes: int = 4,
    gamma: float = 1.0,
    greedy: bool = True,
    seed: int = SWEEP_SEED,
    max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS,
) -> list[dict[str, float]]:
    """Per command, the mean and std of the return of ``episodes`` episodes (played in lockstep, on the same
    seeds for every command, exactly as training rollouts feed the policy; an env with no time limit cut at
    ``max_episode_steps``, as the run's own)."""
    envs = make_vector_env(env_id, env_options or {}, episodes, max_episode_steps)
    agent = Agent(policy, return_scale, gamma)
    out = []
    try:
        for command in commands:
            achieved = np.array(play_episodes(agent, envs, command=command, seed=seed, deterministic=greedy))
            out.append(
                {"command": float(command), "mean": float(achieved.mean()), "std": float(achieved.std())}
            )
    finally:
        envs.close()
    return out
