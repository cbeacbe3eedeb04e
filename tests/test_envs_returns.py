"""Measured returns match the formulas in the env docstrings; memory games defeat memoryless policies."""

import math

import numpy as np
import pytest

from lightup.envs import make_env, reward_threshold
from lightup.envs.gamble import OUTCOMES, expected_return
from lightup.envs.scripted import FunctionAgent, RandomAgent, episode_returns, optimal_agent

EPISODES = 2000


def _close(returns: np.ndarray, expected: float) -> bool:
    # Four standard errors: the rollouts are seeded, so this either always passes or always fails.
    return abs(returns.mean() - expected) <= 4 * returns.std() / math.sqrt(len(returns)) + 1e-9


def _random_miss(n: int, length: int) -> float:
    return sum(n**-k for k in range(1, length + 1))


# (env id, options, optimal return, uniformly random return), from the docstrings.
CASES = [
    ("lightup/PressButton-v0", {}, 1.0, 0.5),
    ("lightup/PressButton-v0", {"size": 4, "game_length": 5}, 5.0, 5 / 4),
    ("lightup/PressButton-v0", {"size": 4, "game_length": 5, "hard_mode": True}, 5.0, 5 / 4),
    ("lightup/PressButton-v0", {"size": 2, "game_length": 3, "fixed_light": True}, 3.0, 3 / 2),
    ("lightup/PressButton-v0", {"size": 3, "game_length": 4, "end_on_miss": True}, 4.0, _random_miss(3, 4)),
    (
        "lightup/PressButton-v0",
        {"size": 4, "game_length": 5, "hard_mode": True, "end_on_miss": True},
        5.0,
        (1 - 4**-5) / 3,
    ),
    ("lightup/RecallButton-v0", {}, 1.0, 0.5),
    ("lightup/RecallButton-v0", {"size": 4, "delay": 3}, 1.0, 0.25),
    ("lightup/ProbeConstant-v0", {}, 1.0, 1.0),
    ("lightup/ProbeObsReward-v0", {}, 0.0, 0.0),
    ("lightup/ProbeDelayedReward-v0", {}, 1.0, 1.0),
    ("lightup/ProbeActionReward-v0", {}, 1.0, 0.0),
    ("lightup/ProbeActionObsReward-v0", {}, 1.0, 0.0),
    ("lightup/CommandFollow-v0", {}, 1.0, 0.0),
    ("lightup/Gamble-v0", {}, 1.0, -13 / 6),
    # uniform actions in [0, 1]: E|U - 3/4| = E|U - 1/4| = 5/16; E|U - V| = 1/3 for V uniform; E[U] = 1/2
    ("lightup/ProbeTargetAction-v0", {}, 1.0, 11 / 16),
    ("lightup/ProbeObsAction-v0", {}, 1.0, 2 / 3),
    ("lightup/CommandFollowContinuous-v0", {}, 1.0, 0.5),
]  # fmt: skip


@pytest.mark.parametrize("env_id, options, optimal, random", CASES)
def test_measured_returns_match_docstring_formulas(env_id, options, optimal, random):
    env = make_env(env_id, **options)
    best = episode_returns(env, optimal_agent(env), EPISODES, seed=1)
    chance = episode_returns(env, RandomAgent(env, seed=2), EPISODES, seed=3)
    assert _close(best, optimal), (best.mean(), optimal)
    assert _close(chance, random), (chance.mean(), random)
    assert best.mean() >= reward_threshold(env)
    if optimal > random:  # else the agent has no say (one action, or ProbeObsReward)
        assert reward_threshold(env) > chance.mean()


@pytest.mark.parametrize("size, length", [(4, 5), (3, 7), (2, 8)])
def test_hard_mode_needs_a_step_counter(size, length):
    env = make_env("lightup/PressButton-v0", size=size, game_length=length, hard_mode=True)
    assert np.all(episode_returns(env, optimal_agent(env), 200, seed=0) == length)
    # Pressing the lit button is right exactly on presses 0, n, 2n, ...: ceil(L / n), chance when n divides L.
    press_lit = episode_returns(env, FunctionAgent(np.argmax), 200, seed=0)
    assert np.all(press_lit == math.ceil(length / size))
    assert press_lit.mean() < reward_threshold(env)


def test_hard_mode_press_lit_scores_chance_when_size_divides_length():
    env = make_env("lightup/PressButton-v0", size=4, game_length=8, hard_mode=True)
    assert episode_returns(env, FunctionAgent(np.argmax), 50, seed=0).mean() == 8 / 4


MEMORYLESS = {
    "press the lit one": lambda obs: np.argmax(obs[:-1]),
    "always 0": lambda obs: 0,
    "always the last button": lambda obs: 3,
    "last entry decides": lambda obs: 2 if obs[-1] else 1,
}


@pytest.mark.parametrize("policy", MEMORYLESS.values(), ids=MEMORYLESS.keys())
def test_recall_defeats_memoryless_policies(policy):
    env = make_env("lightup/RecallButton-v0", size=4, delay=2)
    assert _close(episode_returns(env, FunctionAgent(policy), EPISODES, seed=0), 1 / 4)


def test_recall_scripted_agent_always_remembers():
    for delay in (0, 1, 5):
        env = make_env("lightup/RecallButton-v0", size=5, delay=delay)
        assert np.all(episode_returns(env, optimal_agent(env), 100, seed=delay) == 1.0)


def test_recall_episode_lasts_delay_plus_two_steps():
    env = make_env("lightup/RecallButton-v0", size=3, delay=4)
    env.reset(seed=0)
    steps = [env.step(0) for _ in range(6)]
    assert [s[2] for s in steps] == [False] * 5 + [True]
    assert steps[-2][0].tolist() == [0, 0, 0, 1]  # the cue


@pytest.mark.parametrize("action", sorted(OUTCOMES))
def test_gamble_expected_return_matches_play(action):
    env = make_env("lightup/Gamble-v0")
    assert env.unwrapped.expected_return(action) == expected_return(action)
    assert _close(
        episode_returns(env, FunctionAgent(lambda obs: action), EPISODES, seed=action),
        expected_return(action),
    )


def test_gamble_conditioning_on_the_best_return_picks_the_worst_action():
    assert [expected_return(a) for a in (0, 1, 2)] == [-5.0, -2.5, 1.0]
    env = make_env("lightup/Gamble-v0")
    agent = RandomAgent(env, seed=0)
    actions, returns = [], []
    for i in range(3000):
        obs, _ = env.reset(seed=0 if i == 0 else None)
        actions.append(agent.act(obs))
        returns.append(env.step(actions[-1])[1])
    actions, returns = np.array(actions), np.array(returns)
    # Uniformly random data, as in the paper: only the big gamble ever paid the best return...
    assert set(actions[returns == returns.max()]) == {0}
    assert min(OUTCOMES, key=expected_return) == 0
    # ...and among the episodes that returned +1, a third gambled (P(a=1 | R=1) = 0.5 / 1.5).
    assert abs(np.mean(actions[returns == 1.0] == 1) - 1 / 3) < 0.05
