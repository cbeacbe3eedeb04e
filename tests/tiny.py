"""The smallest real training config: a run folder in seconds, for tests that need one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lightup.training.config import TrainConfig


def tiny_config(run_dir: str | Path, env_id: str = "lightup/PressButton-v0", **overrides) -> TrainConfig:
    """One layer of width 16, K 2, 4 envs x 8 steps, 2 updates of 8 windows a round; quiet, no TensorBoard."""
    base = dict(
        env_id=env_id,
        seed=0,
        n_envs=4,
        rollout_steps=8,
        updates_per_round=2,
        batch_size=8,
        context_len=2,
        n_layer=1,
        n_embd=16,
        n_head=2,
        eval_every=128,
        eval_episodes=2,
        quiet=True,
        tensorboard=False,
        run_dir=str(run_dir),
    )
    return TrainConfig(**{**base, **overrides})


# A tiny run's flags, for training from the CLI in a few seconds.
TINY_FLAGS = ["--n-envs", "2", "--rollout-steps", "8", "--updates-per-round", "1", "--n-layer", "1"]
TINY_FLAGS += ["--n-embd", "16", "--context-len", "2", "--eval-episodes", "2", "--quiet", "--no-tensorboard"]


def user_cli(args: list[str], cwd: str | Path, **env: str) -> subprocess.CompletedProcess:
    """`lightup ARGS` in a fresh process run in ``cwd`` that can import tests/user_envs.py (a user's module),
    with no LIGHTUP_ENV_MODULES unless ``env`` sets it."""
    environ = {k: v for k, v in os.environ.items() if k != "LIGHTUP_ENV_MODULES"}
    environ.update(PYTHONPATH=str(Path(__file__).parent), **env)
    return subprocess.run(
        [sys.executable, "-m", "lightup.cli", *args], capture_output=True, text=True, env=environ, cwd=cwd
    )
