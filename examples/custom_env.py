"""Your own env, trained through the Python API: a new `gym.Env` class, handed to the trainer as a callable.

    python examples/custom_env.py               # 4000 env steps
    python examples/custom_env.py --steps 256   # a quick look (CI runs it so)
    python examples/custom_env.py --target 0.9  # fail (exit 1) unless greedy evaluation reaches 0.9

The trainer takes an env id, a callable returning a `gym.Env` (here), or a Gymnasium vector env. Nothing
needs registering: the run folder names the env by its class.
"""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym
import numpy as np
import torch

from lightup import Agent, TrainConfig, Trainer, play_episodes


class MatchTheSign(gym.Env):
    """
    ## Description
    The observation is one number in [-1, 1]; the agent earns 1 for the action that matches its sign
    (0: negative, 1: positive), else 0, for ``length`` steps.

    ## Action Space
    ``Discrete(2)``.

    ## Observation Space
    ``Box(-1, 1, (1,), float32)``.

    ## Rewards
    1 for the matching action, 0 otherwise: the best return is ``length``.

    ## Starting State
    A uniform number in [-1, 1], drawn again at every step.

    ## Episode End
    Terminates after ``length`` steps.

    ## Arguments
    ``length``: steps per episode (default 4).
    """

    def __init__(self, length: int = 4):
        self.length = length
        self.action_space = gym.spaces.Discrete(2)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        # read by the trainer: the return that counts as solved, and the highest possible one (commands are
        # capped there)
        self.reward_threshold = 0.9 * length
        self.max_return = float(length)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.t = 0
        self.x = self.np_random.uniform(-1.0, 1.0, (1,)).astype(np.float32)
        return self.x, {}

    def step(self, action):
        reward = float(int(action) == int(self.x[0] > 0))
        self.t += 1
        self.x = self.np_random.uniform(-1.0, 1.0, (1,)).astype(np.float32)
        return self.x, reward, self.t >= self.length, False, {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="env steps to train for")
    parser.add_argument("--target", type=float, default=None, help="fail unless evaluation reaches this")
    parser.add_argument("--run-dir", default=None, help="where the run goes (default: runs/...)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    config = TrainConfig(
        n_envs=8,
        rollout_steps=8,
        updates_per_round=8,
        batch_size=32,
        context_len=4,
        n_layer=1,
        n_embd=32,
        n_head=2,
        return_scale=4.0,  # returns-to-go reach the model divided by this: about 1 here
        eval_every=512,
        eval_episodes=20,
        stop_at_threshold=True,
        quiet=True,
        tensorboard=False,
        run_dir=args.run_dir,
    )
    trainer = Trainer(config, env=lambda: MatchTheSign(length=4)).learn(args.steps)
    print(f"run: {trainer.run_dir}  env steps: {trainer.steps}  last greedy evaluation: {trainer.last_eval}")

    # The trained policy alone, from the run folder, played on fresh envs of the class.
    agent = Agent.load(trainer.run_dir)
    envs = gym.vector.SyncVectorEnv(
        [lambda: MatchTheSign(length=4) for _ in range(20)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    returns = play_episodes(agent, envs, seed=0)
    envs.close()
    trainer.close()
    print(f"the loaded agent's mean return on 20 new episodes: {np.mean(returns):.2f}")
    if args.target is not None and not np.mean(returns) >= args.target:
        print(f"mean return {np.mean(returns):.2f} is below the target {args.target}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
