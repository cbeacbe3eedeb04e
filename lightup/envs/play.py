"""``lightup play ENV_ID [key=value ...] [--seed N]``: play a game yourself, one press per line."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated

import gymnasium as gym
import numpy as np
import tyro

from lightup.args import Strings, default_hint, parse_config
from lightup.envs import GAME_IDS, make_env, parse_options
from lightup.errors import LightupError
from lightup.ranges import check_args


@dataclass
class PlayArgs:
    """`lightup play ENV_ID [name=value ...] [--seed N]`: a game, one press per line."""

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")]
    """A game id (lightup/PressButton-v0, ...) or a Gymnasium id with a discrete action space."""
    options: Annotated[Strings, tyro.conf.Positional, tyro.conf.arg(metavar="NAME=VALUE")] = ()
    """Options of the game, e.g. size=4 hard_mode=true."""
    seed: Annotated[int | None, tyro.conf.arg(metavar="INT", help_behavior_hint=default_hint)] = None
    """Seed of the first episode (default: a fresh one)."""


def describe(env: gym.Env, obs: np.ndarray) -> str:
    """The game's own words for its observation, or the raw numbers for any other Gymnasium env."""
    game = env.unwrapped
    if hasattr(game, "describe"):
        return game.describe(obs)
    return f"observation: {np.array2string(np.asarray(obs), precision=3)}"


def main(argv: list[str]) -> int:
    """`lightup play ARGV`, from Python."""
    return run(parse_config(PlayArgs, argv, "play"))


def run(args: PlayArgs) -> int:
    """Play until the input ends or the player types q."""
    check_args(args, ("seed",))
    env = make_env(args.env_id, **parse_options(args.options))
    if not isinstance(env.action_space, gym.spaces.Discrete):
        raise LightupError(
            f"{args.env_id} has a {type(env.action_space).__name__} action space; play needs a Discrete one "
            f"(buttons), such as {GAME_IDS[0]} or CartPole-v1"
        )
    low = int(env.action_space.start)
    high = low + int(env.action_space.n) - 1

    episode, total = 1, 0.0
    obs, _ = env.reset(seed=args.seed)
    print(f"episode {episode}: {describe(env, obs)}")
    while True:
        print(f"press ({low}-{high}, q to quit): ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:  # end of input
            print()
            return 0
        text = line.strip()
        if text.lower() in ("q", "quit"):
            return 0
        try:
            action = int(text)
        except ValueError:
            action = None
        if action is None or not low <= action <= high:
            print(f"not a button: {text!r}; type a number from {low} to {high}, or q")
            continue

        obs, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        print(f"reward {float(reward):+g}, total {total:g}")
        if terminated or truncated:
            cut = " (cut short by the time limit)" if truncated and not terminated else ""
            print(f"episode return: {total:g}{cut}")
            episode, total = episode + 1, 0.0
            obs, _ = env.reset()
            print(f"\nepisode {episode}: {describe(env, obs)}")
        else:
            print(describe(env, obs))
