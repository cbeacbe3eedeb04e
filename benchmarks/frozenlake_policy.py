"""Where a Decision Transformer's greedy policy on FrozenLake-v1 departs from the optimal one.

Trains the default recipe on FrozenLake-v1 (or reads a run folder), plays its greedy policy for a number of
episodes, and prints, for each state it visits, how often and which action it takes, beside the optimal
action and the success rate of the optimal policy with that one state changed to the DT's action (finite
horizon value iteration on the env's own transition table, at its 100-step limit).

Usage: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/frozenlake_policy.py --seed 1 --run-dir /tmp/fl1
"""

from __future__ import annotations

import argparse
import collections
from pathlib import Path

import numpy as np

from lightup import TrainConfig, Trainer
from lightup.training.agent import Agent, play_episodes

ACTIONS = "LDRU"  # FrozenLake's 0 left, 1 down, 2 right, 3 up


def backup(value: np.ndarray, table: dict, state: int, action: int) -> float:
    """The expected value of taking ``action`` in ``state``, then being worth ``value``."""
    return sum(p * (r + (0.0 if done else value[s2])) for p, s2, r, done in table[state][action])


def success(policy: np.ndarray, table: dict, horizon: int) -> np.ndarray:
    """Each state's probability of reaching the goal within ``horizon`` steps under ``policy``."""
    value = np.zeros(len(table))
    for _ in range(horizon):
        value = np.array([backup(value, table, s, policy[s]) for s in table])
    return value


def optimal(table: dict, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The optimal action of each state and Q of each (state, action), at ``horizon`` steps left."""
    value = np.zeros(len(table))
    for _ in range(horizon):
        q = np.array([[backup(value, table, s, a) for a in range(4)] for s in table])
        value = q.max(axis=1)
    return q.argmax(axis=1), q


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--run-dir", required=True, help="trained here unless it already holds a run")
    parser.add_argument("--episodes", type=int, default=300)
    args = parser.parse_args()
    run = Path(args.run_dir)
    if not (run / "policy.safetensors").exists():
        config = TrainConfig(
            env_id="FrozenLake-v1", seed=args.seed, total_steps=args.steps, run_dir=str(run), quiet=True,
            tensorboard=False, eval_episodes=100,
        )  # fmt: skip
        trainer = Trainer(config)
        trainer.learn()
        print(f"trained: last greedy evaluation {trainer.last_eval} (100 episodes)")
        trainer.close()
    agent = Agent.load(run)
    played = agent.make_env()  # with the run's adapter: states one-hot
    taken: dict[int, collections.Counter] = collections.defaultdict(collections.Counter)

    def count(observations, actions):
        taken[int(np.argmax(observations[0]))][int(np.asarray(actions).ravel()[0])] += 1

    returns = [
        r
        for i in range(args.episodes)
        for r in play_episodes(agent, played, seed=1000 + i, before_step=count)
    ]
    table = played.unwrapped.P
    best, q = optimal(table, 100)
    print(f"greedy success over {args.episodes} episodes: {np.mean(returns):.3f}")
    print(f"optimal policy's success at the 100-step limit: {success(best, table, 100)[0]:.3f}")
    print("state | visits | the DT's action (share) | optimal | Q* of the two | ", end="")
    print("the optimal policy's success with this state as the DT's")
    for s in sorted(taken):
        visits = sum(taken[s].values())
        action, n = taken[s].most_common(1)[0]
        changed = best.copy()
        changed[s] = action
        worth = success(changed, table, 100)[0]
        print(
            f"{s} | {visits} | {ACTIONS[action]} ({n / visits:.2f}) | {ACTIONS[best[s]]} | "
            f"{q[s, action]:.3f} / {q[s, best[s]]:.3f} | {worth:.3f}"
        )


if __name__ == "__main__":
    main()
