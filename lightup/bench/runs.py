"""One bench run: an agent trained from scratch on one env with one seed, evaluated greedily as it learns.

Every agent is evaluated the same way: greedy actions, ``eval_episodes`` episodes (one per env of a vector
env reset with seeds ``EVAL_SEED + i``, the trainer's own evaluation seeds), every ``eval_every`` env steps
and at the end of the budget, stopping at the first evaluation whose mean reaches the env's reward
threshold. A run is a plain function of a picklable ``Job``, so a process pool and Ray run it alike.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from lightup.bench.job import Job, weights_digest
from lightup.errors import LightupError

__all__ = [
    "AGENTS",
    "BENCH_EXTRA",
    "SB3_AGENTS",
    "TRAINER_AGENTS",
    "Job",
    "random_return",
    "run_job",
    "weights_digest",
]

TRAINER_AGENTS: dict[str, dict] = {
    "dt-stacked": {"policy": "dt", "layout": "stacked"},
    "dt-interleaved": {"policy": "dt", "layout": "interleaved"},
    "mlp": {"policy": "mlp"},
}
SB3_AGENTS: dict[str, str] = {"sb3-ppo": "ppo", "sb3-dqn": "dqn"}
AGENTS: tuple[str, ...] = (*TRAINER_AGENTS, *SB3_AGENTS)
BENCH_EXTRA = 'pip install -e ".[bench]"'


def run_job(job: Job) -> dict:
    """Train and evaluate one run in this process (one torch thread); returns its result row."""
    import torch

    torch.set_num_threads(1)
    # Each runner starts its clock after its imports, just before it builds the envs and the model.
    if job.agent in TRAINER_AGENTS:
        row = _run_trainer(job)
    elif job.agent in SB3_AGENTS:
        try:
            from lightup.bench.sb3 import run_sb3
        except ImportError as err:
            raise LightupError(
                f"{job.agent} needs Stable-Baselines3 ({err.name} is missing): {BENCH_EXTRA}"
            ) from None
        row = run_sb3(job, SB3_AGENTS[job.agent])
    else:
        raise LightupError(f"unknown agent {job.agent!r}; choose from: {', '.join(AGENTS)}")
    curve = row["curve"]
    row["final_eval"] = curve[-1][1] if curve else None
    row["best_eval"] = max((c[1] for c in curve), default=None)
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return {**asdict(job), **row}


def _run_trainer(job: Job) -> dict:
    from lightup.training.config import TrainConfig, with_overrides
    from lightup.training.logger import read_metrics
    from lightup.training.trainer import Trainer

    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="lightup-bench-"))
    try:
        fields = dict(
            env_id=job.env_id,
            env_options=job.env_options,
            seed=job.seed,
            total_steps=job.budget,
            eval_every=job.eval_every,
            eval_episodes=job.eval_episodes,
            stop_at_threshold=True,
            checkpoint_every=job.budget + 1,  # one checkpoint at the end; the folder is thrown away anyway
            quiet=True,
            tensorboard=False,
            run_dir=str(tmp / "run"),
            threads=1,
            **TRAINER_AGENTS[job.agent],
        )
        config = with_overrides(TrainConfig(**fields), dict(job.overrides))
        trainer = Trainer(config)
        trainer.learn()
        if trainer.interrupted_by is not None:  # Ctrl-C stopped the run short: stop here too
            raise KeyboardInterrupt
        # The trainer stops at the evaluation that reached the threshold: the time so far is the time to it.
        wall_to_solve = time.perf_counter() - start if trainer.solved_at is not None else None
        evals = [r for r in read_metrics(tmp / "run") if "eval/mean_reward" in r]
        weights = weights_digest(trainer.policy)
        trainer.close()
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row = {
        "threshold": trainer.threshold,
        "solved_at": trainer.solved_at,
        "wall_s_to_solve": wall_to_solve,
        "steps": trainer.steps,
        "wall_s": wall,
        "curve": [[r["step"], float(r["eval/mean_reward"])] for r in evals],
        "weights_sha256": weights,
        "hyperparameters": {"from_zoo": None},
    }
    if config.ema > 0:  # the trained weights' evaluations on the same episodes: the run without averaging
        row["trained_curve"] = [[r["step"], float(r["eval/trained_mean_reward"])] for r in evals]
    return row


def random_return(env_id: str, env_options: tuple[str, ...] = (), episodes: int = 20) -> float:
    """Mean return of uniformly random actions on the evaluation seeds: the zero of normalised scores."""
    from lightup.envs import make_env, parse_options
    from lightup.training.agent import EVAL_SEED, play_episodes

    env = make_env(env_id, **parse_options(list(env_options)))
    # The actions' own stream: seeded like the env, they would copy its draws (a random agent that
    # always presses the lit button).
    env.action_space.seed(7)
    agent = _Random(env.action_space)
    returns = [play_episodes(agent, env, seed=EVAL_SEED + i)[0] for i in range(episodes)]
    env.close()
    return float(np.mean(returns))


class _Random:
    """Uniformly random actions, as an agent of `play_episodes`."""

    def __init__(self, space):
        self.space = space

    def reset(self, n: int) -> None:
        pass

    def act(self, observations, rewards, episode_starts, **_) -> np.ndarray:
        return np.array([self.space.sample() for _ in range(len(observations))])
