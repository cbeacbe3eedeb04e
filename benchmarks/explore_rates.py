"""How often random play reaches the goal: uniform actions against actions held as exploration's options.

For each env, 200 episodes (env seeds 0..199) of uniformly random actions, then 200 of random actions each
held for floor(1 / U) steps, U uniform in (0, 1] (drawn by `lightup.training.explore.Explorer` itself, on
torch's generator seeded 0); prints the share of episodes that reach the goal. Envs without a time limit of
their own are cut at lightup's default (`lightup.envs.time_limit`). Continuous actions (a [-1, 1] box here):
uniform vectors of the box, and options holding one (`Explorer(..., continuous=True)`).
Usage: python benchmarks/explore_rates.py [ENV_ID ...] (default: every env below)
"""

import sys

import gymnasium as gym
import numpy as np
import torch

from lightup.envs.time_limit import time_limited
from lightup.training.explore import Explorer

EPISODES = 200

GOAL = {  # whether an episode that ended with (terminated, last reward) reached its goal
    "MountainCar-v0": lambda terminated, reward: terminated,
    "Acrobot-v1": lambda terminated, reward: terminated,
    "CliffWalking-v1": lambda terminated, reward: terminated,
    "FrozenLake-v1": lambda terminated, reward: terminated and reward > 0,  # not a hole
    "Taxi-v4": lambda terminated, reward: terminated,
    "MiniGrid-DoorKey-5x5-v0": lambda terminated, reward: terminated and reward > 0,
    "MountainCarContinuous-v0": lambda terminated, reward: terminated,
}


def goal_share(env_id: str, held: bool) -> float:
    if env_id.startswith("MiniGrid"):
        import minigrid  # noqa: F401  (registers the MiniGrid envs)
    env = gym.make(env_id)
    env = time_limited(env) if env.spec.max_episode_steps is None else env
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    continuous = isinstance(env.action_space, gym.spaces.Box)
    n = int(env.action_space.shape[0]) if continuous else int(env.action_space.n)
    explorer = Explorer(1, n, continuous=continuous)
    reached = 0
    for episode in range(EPISODES):
        env.reset(seed=episode)
        explorer.begin(np.array([0]), chance=1.0)
        done = False
        while not done:
            if continuous:
                action = rng.uniform(-1.0, 1.0, (1, n)).astype(np.float32)
                action = explorer.act(action)[0] if held else action[0]
            else:
                action = int(rng.integers(n))
                if held:
                    action = int(explorer.act(np.array([action]))[0])
            _, reward, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
        reached += GOAL[env_id](terminated, reward)
    env.close()
    return reached / EPISODES


def main() -> None:
    print(f"{EPISODES} episodes each, env seeds 0..{EPISODES - 1}.\n")
    print("| env | uniform actions | held actions |")
    print("|---|---|---|")
    for env_id in sys.argv[1:] or GOAL:
        print(f"| {env_id} | {goal_share(env_id, False):.1%} | {goal_share(env_id, True):.1%} |", flush=True)


if __name__ == "__main__":
    main()
