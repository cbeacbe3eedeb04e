"""What a round's value targets cost on LunarLander-v3 with a full replay: one episode added, then every
stored step's TD(lambda) targets bootstrapped from the values of the moment, as the default's round does
before its updates; and the round of updates itself (which includes that bootstrap).

    python benchmarks/value_targets_cost.py [--rounds 9]

The replay holds 300 episodes (the default's capacity) of Gymnasium's heuristic lander with a fifth of its
actions random, seeded, so the same on every commit: about 80,000 steps. CPU seconds of the process, one
torch thread, medians over the rounds. Run it on two commits to compare them.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import gymnasium as gym
import numpy as np
import torch
from gymnasium.envs.box2d.lunar_lander import heuristic

from lightup.training.config import TrainConfig
from lightup.training.replay import Episode
from lightup.training.trainer import Trainer


def lander_episodes(n: int, seed: int = 0) -> list[Episode]:
    env, rng = gym.make("LunarLander-v3"), np.random.default_rng(seed)
    episodes = []
    while len(episodes) < n:
        obs, _ = env.reset(seed=int(rng.integers(1 << 30)))
        observations, actions, rewards, done = [], [], [], False
        while not done:
            random = rng.random() < 0.2
            action = int(rng.integers(4)) if random else int(heuristic(env.unwrapped, obs))
            observations.append(obs)
            actions.append(action)
            obs, reward, terminated, truncated, _ = env.step(action)
            rewards.append(reward)
            done = terminated or truncated
        episodes.append(
            Episode(
                np.array(observations, np.float32),
                np.array(actions),
                np.array(rewards, np.float32),
                terminated,
            )
        )
    return episodes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TrainConfig(
        env_id="LunarLander-v3", seed=0, quiet=True, tensorboard=False, run_dir=tempfile.mkdtemp() + "/run"
    )
    trainer = Trainer(config).learn(2048)  # the value nets trained a little, the recipe's config filled
    episodes = lander_episodes(300 + args.rounds)
    for episode in episodes[:300]:
        trainer.buffer.add(episode)
    lam = (trainer.config.advantage_lambda, 0.0)  # the default's two values (`ValuePair`)
    targets, rounds = [], []
    for episode in episodes[300:]:
        start = time.process_time()
        trainer.buffer.add(episode)
        trainer.buffer.bootstrap_value_targets(trainer._values, lam)
        targets.append(time.process_time() - start)
        trainer.buffer.add(episode)  # a fresh add, so that the round rebuilds what a round rebuilds
        start = time.process_time()
        trainer._update()
        rounds.append(time.process_time() - start)
    print(f"replay: {len(trainer.buffer)} episodes, {trainer.buffer.n_steps} steps")
    print(f"add + value targets: {statistics.median(targets) * 1e3:.1f} ms (median of {args.rounds})")
    print(f"round of updates (with its value targets): {statistics.median(rounds) * 1e3:.1f} ms")
    trainer.close()


if __name__ == "__main__":
    main()
