"""``lightup games``: what a perfect and a clueless agent score on each lightup game.

Each game is played for 200 seeded episodes by its scripted optimal agent and by a uniformly random one;
a game is a useful test only if the first reaches the reward threshold and the second does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from lightup.envs import GAME_IDS, make_env, reward_threshold
from lightup.envs.scripted import RandomAgent, episode_returns, optimal_agent

EPISODES = 200
SEED = 0
# Defaults for every game, plus the hard PressButton that a memoryless agent cannot solve.
GAMES: list[tuple[str, dict[str, Any]]] = [(env_id, {}) for env_id in GAME_IDS]
GAMES.insert(1, ("lightup/PressButton-v0", {"size": 4, "game_length": 5, "hard_mode": True}))


@dataclass
class GamesArgs:
    """`lightup games` takes no flags: each game is played by its scripted optimal agent and a random one."""


def run(args: GamesArgs | None = None) -> int:
    """Print the table of what the optimal and the random agent score on each game."""
    table = Table(title=f"lightup games: mean return over {EPISODES} seeded episodes")
    table.add_column("env (options)", no_wrap=True)
    for column in ("optimal", "random", "threshold"):
        table.add_column(column, justify="right")
    for env_id, options in GAMES:
        env = make_env(env_id, **options)
        optimal = episode_returns(env, optimal_agent(env), EPISODES, seed=SEED).mean()
        random = episode_returns(env, RandomAgent(env, seed=SEED), EPISODES, seed=SEED).mean()
        name = env_id
        if options:
            name += "\n  " + " ".join(f"{k}={v}" for k, v in options.items())
        table.add_row(name, f"{optimal:.3f}", f"{random:.3f}", f"{reward_threshold(env):g}")
        env.close()
    Console().print(table)
    return 0
