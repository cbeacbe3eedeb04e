"""``lightup play ENV_ID [key=value ...] [--seed N]``: play a game yourself, one press per line."""

from __future__ import annotations

import argparse
import sys

import gymnasium as gym
import numpy as np

from lightup.envs import GAME_IDS, make_env, parse_options
from lightup.errors import LightupError
from lightup.ranges import check_args, flags_help

USAGE = "lightup play ENV_ID [key=value ...] [--seed N]"


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises a one-line LightupError instead of printing usage and exiting."""

    def error(self, message: str):
        raise LightupError(f"{message} (usage: {USAGE})")


def describe(env: gym.Env, obs: np.ndarray) -> str:
    """The game's own words for its observation, or the raw numbers for any other Gymnasium env."""
    game = env.unwrapped
    if hasattr(game, "describe"):
        return game.describe(obs)
    return f"observation: {np.array2string(np.asarray(obs), precision=3)}"


def main(argv: list[str]) -> int:
    parser = ArgumentParser(
        prog="lightup play",
        usage=USAGE,
        description="Play a game, one press per line.",
        epilog=flags_help(("seed",)),
    )
    parser.add_argument("env_id", help=f"a game id ({', '.join(GAME_IDS)}) or any Gymnasium id")
    parser.add_argument(
        "options", nargs="*", default=[], help="game options as name=value, e.g. size=4 hard_mode=true"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the first episode")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help
        return int(exit_.code or 0)

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
