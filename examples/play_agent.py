"""Load a trained run and play it: `Agent.load` reads the run's policy.safetensors (weights and command
defaults only, never code), and `play_episodes` plays it on the env it was trained on.

    lightup train lightup/PressButton-v0 --run-dir runs/press --total-steps 3000
    python examples/play_agent.py runs/press                 # 10 greedy episodes
    python examples/play_agent.py runs/press --command 0.5   # ask for another return

Without a run folder it trains a small one first (``--steps``, default 2000), so that it runs as it is.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch

from lightup import Agent, TrainConfig, Trainer, play_episodes
from lightup.envs import parse_options
from lightup.training.envs import make_vector_env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default=None, help="a run folder or a policy.safetensors file")
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument(
        "--command", type=float, default=None, help="the return to ask for (default: the run's)"
    )
    parser.add_argument(
        "--steps", type=int, default=2000, help="env steps of the run trained without a folder"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    run = args.run
    if run is None:
        config = TrainConfig(
            env_id="lightup/PressButton-v0",
            n_envs=8,
            rollout_steps=8,
            updates_per_round=8,
            batch_size=32,
            context_len=4,
            n_embd=32,
            eval_every=512,
            total_steps=args.steps,
            quiet=True,
            tensorboard=False,
            run_dir=tempfile.mkdtemp(prefix="play-agent-"),
        )
        run = Trainer(config).learn().run_dir

    agent = Agent.load(run)
    if agent.env_id is None:
        raise SystemExit(f"{run}: the run trained on an env given in Python; play it with play_episodes")
    envs = make_vector_env(agent.env_id, parse_options(list(agent.env_options)), args.episodes)
    returns = play_episodes(agent, envs, command=args.command)
    envs.close()
    command = agent.command if args.command is None else args.command
    print(f"{agent.env_id}: commanded {command:g}, returns {returns}, mean {np.mean(returns):.2f}")


if __name__ == "__main__":
    main()
