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
from lightup.bench.stats import task_of
from lightup.errors import EnvRaised, LightupError, error_line

__all__ = [
    "AGENTS",
    "BENCH_EXTRA",
    "SB3_AGENTS",
    "CONTINUOUS_ONLY",
    "DISCRETE_ONLY",
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
SB3_AGENTS: dict[str, str] = {"sb3-ppo": "ppo", "sb3-dqn": "dqn", "sb3-sac": "sac", "sb3-td3": "td3"}
DISCRETE_ONLY, CONTINUOUS_ONLY = ("sb3-dqn",), ("sb3-sac", "sb3-td3")
"""Agents for one kind of action space only; the others play both."""
AGENTS: tuple[str, ...] = (*TRAINER_AGENTS, *SB3_AGENTS)
BENCH_EXTRA = 'pip install -e ".[bench]"'


def run_job(job: Job) -> dict:
    """Train and evaluate one run in this process (one torch thread); returns its result row."""
    import torch

    torch.set_num_threads(1)
    if job.agent not in AGENTS:
        raise LightupError(f"unknown agent {job.agent!r}; choose from: {', '.join(AGENTS)}")
    try:
        row = _run_agent(job)
    except EnvRaised as err:  # the run's own folder is a temporary one: the bench's --resume goes on
        cause = error_line(err.__cause__) if err.__cause__ is not None else str(err)
        raise EnvRaised(
            f"{job.agent} on {task_of(job.env_id, job.env_options)} seed {job.seed}: env {job.env_id} raised "
            f"({cause}); fix the env, then run the bench again with --resume"
        ) from err.__cause__
    curve = row["curve"]
    row["final_eval"] = curve[-1][1] if curve else None
    row["best_eval"] = max((c[1] for c in curve), default=None)
    row["worker"] = f"{socket.gethostname()}:{os.getpid()}"
    return {**asdict(job), **row}


def _run_agent(job: Job) -> dict:
    """The row of one run of ``job.agent`` (each runner starts its clock after its imports, just before it
    builds the envs and the model)."""
    if job.agent in TRAINER_AGENTS:
        return _run_trainer(job)
    try:
        from lightup.bench.sb3 import run_sb3
    except ImportError as err:
        raise LightupError(
            f"{job.agent} needs Stable-Baselines3 ({err.name} is missing): {BENCH_EXTRA}"
        ) from None
    return run_sb3(job, SB3_AGENTS[job.agent])


def _run_trainer(job: Job) -> dict:
    from lightup.training.config import TrainConfig, with_overrides
    from lightup.training.logger import read_metrics
    from lightup.training.recipe import recipe_digest
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
        if job.solved_at_return is not None:
            trainer.threshold = job.solved_at_return
        trainer.learn()
        if trainer.interrupted_by is not None:  # Ctrl-C stopped the run short: stop here too
            raise KeyboardInterrupt
        # The trainer stops at the evaluation that reached the threshold: the time so far is the time to it.
        wall_to_solve = time.perf_counter() - start if trainer.solved_at is not None else None
        evals = [r for r in read_metrics(tmp / "run") if "eval/mean_reward" in r]
        weights = weights_digest(trainer.policy)
        follow = return_following_fit(trainer)
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
        "recipe": recipe_digest(),
        "follow": follow,
    }
    if config.ema > 0:  # the trained weights' evaluations on the same episodes: the run without averaging
        row["trained_curve"] = [[r["step"], float(r["eval/trained_mean_reward"])] for r in evals]
    return row


FOLLOW_COMMANDS = 5
FOLLOW_EPISODES = 4


def return_following_fit(trainer) -> dict | None:
    """The return-following curve as numbers: greedy play of the trained policy commanded ``FOLLOW_COMMANDS``
    returns evenly spread over its replay's range (``FOLLOW_EPISODES`` episodes each, fixed seeds), and the
    least-squares line of achieved against commanded: its slope (1: every command followed, 0: commands
    ignored) and the mean absolute error of achieved from commanded, as a share of the range. None when the
    replay holds fewer than two distinct returns."""
    from lightup.training.follow import command_sweep, return_following

    returns = trainer.buffer.returns()
    if len(returns) < 2 or returns.max() <= returns.min():
        return None
    low, high = float(returns.min()), float(returns.max())
    c = trainer.config
    rows = return_following(
        trainer.eval_policy,
        c.env_id,
        command_sweep(low, high, FOLLOW_COMMANDS),
        c.return_scale,
        trainer.options,
        episodes=FOLLOW_EPISODES,
        gamma=c.gamma,
        max_episode_steps=c.max_episode_steps,
    )
    commanded = np.array([r["command"] for r in rows])
    achieved = np.array([r["mean"] for r in rows])
    slope = float(np.polyfit(commanded, achieved, 1)[0])
    error = float(np.mean(np.abs(achieved - commanded)) / (high - low))
    return {"low": low, "high": high, "slope": slope, "error": error, "points": rows}


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
