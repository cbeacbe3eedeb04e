"""The env contract: Gymnasium's checker, seeding, registration, options and one-line argument errors."""

import importlib
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import lightup.envs
from lightup.envs import GAME_IDS, make_env, parse_options, reward_threshold
from lightup.envs.press_button import PressButtonEnv
from lightup.envs.recall_button import RecallButtonEnv
from lightup.envs.scripted import RandomAgent
from lightup.errors import LightupError

# Games whose observations or rewards depend on the seed.
RANDOM_IDS = {
    "lightup/PressButton-v0",
    "lightup/RecallButton-v0",
    "lightup/ProbeObsReward-v0",
    "lightup/ProbeActionObsReward-v0",
    "lightup/Gamble-v0",
}
NON_DEFAULT = [
    ("lightup/PressButton-v0", {"size": 4, "game_length": 5, "hard_mode": True}),
    ("lightup/PressButton-v0", {"size": 3, "game_length": 4, "end_on_miss": True, "fixed_light": True}),
    ("lightup/RecallButton-v0", {"size": 5, "delay": 0}),
    ("lightup/RecallButton-v0", {"size": 3, "delay": 6}),
]
ALL_CONFIGS = [(env_id, {}) for env_id in GAME_IDS] + NON_DEFAULT


def _rollout(env_id, options, seed, episodes=4, action_seed=0):
    env = make_env(env_id, **options)
    agent = RandomAgent(env, seed=action_seed)
    trace = []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed if i == 0 else None)
        trace.append(("reset", obs.tolist()))
        done = False
        while not done:
            obs, reward, terminated, truncated, _ = env.step(agent.act(obs))
            trace.append((obs.tolist(), reward, terminated, truncated))
            done = terminated or truncated
    return trace


@pytest.mark.parametrize("env_id, options", ALL_CONFIGS)
def test_env_passes_gymnasium_checker_without_warnings(env_id, options):
    env = make_env(env_id, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    assert env.observation_space.dtype == np.float32


@pytest.mark.parametrize("env_id, options", ALL_CONFIGS)
def test_same_seed_gives_same_rollout(env_id, options):
    assert _rollout(env_id, options, seed=7) == _rollout(env_id, options, seed=7)


@pytest.mark.parametrize("env_id", sorted(RANDOM_IDS))
def test_different_seeds_give_different_rollouts(env_id):
    # Same actions, different env seeds: only the env's own randomness can differ.
    assert _rollout(env_id, {}, seed=1, episodes=20) != _rollout(env_id, {}, seed=2, episodes=20)


@pytest.mark.parametrize("env_id, options", ALL_CONFIGS)
def test_ansi_render_and_describe_return_text(env_id, options):
    env = make_env(env_id, render_mode="ansi", **options)
    obs, _ = env.reset(seed=0)
    assert isinstance(env.render(), str) and env.render()
    assert isinstance(env.unwrapped.describe(obs), str)
    box = isinstance(env.action_space, gym.spaces.Box)
    obs, *_ = env.step(np.zeros(env.action_space.shape, env.action_space.dtype) if box else 0)
    assert isinstance(env.render(), str)
    assert isinstance(env.unwrapped.describe(obs), str)


def test_terminated_and_truncated_stay_separate():
    env = make_env("lightup/PressButton-v0", size=2, game_length=3)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(3)]
    assert flags == [(False, False), (False, False), (True, False)]


@pytest.mark.parametrize(
    "env_id, options",
    [("lightup/PressButton-v0", {"game_length": 1023}), ("lightup/RecallButton-v0", {"delay": 1021})],
)
def test_longest_games_end_by_termination_not_by_the_time_limit(env_id, options):
    env = make_env(env_id, **options)
    env.reset(seed=0)
    steps = 0
    while True:
        _, _, terminated, truncated, _ = env.step(0)
        steps += 1
        if terminated or truncated:
            break
    assert (steps, terminated, truncated) == (1023, True, False)


def test_registration_is_idempotent_and_uses_classes():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        importlib.reload(lightup.envs)
    for env_id in GAME_IDS:
        spec = gym.spec(env_id)
        assert isinstance(spec.entry_point, type)
        assert spec.max_episode_steps == 1024
        assert spec.reward_threshold is not None


def test_reward_threshold_follows_options_and_falls_back_to_spec():
    assert reward_threshold(make_env("lightup/PressButton-v0")) == pytest.approx(0.9)
    assert reward_threshold(make_env("lightup/PressButton-v0", game_length=5)) == pytest.approx(4.5)
    assert reward_threshold(make_env("lightup/ProbeObsReward-v0")) == 0.0
    assert reward_threshold(make_env("CartPole-v1")) == 475.0


def test_make_env_accepts_gymnasium_ids_and_their_options():
    env = make_env("CartPole-v1", sutton_barto_reward=True)
    assert env.unwrapped._sutton_barto_reward is True


@pytest.mark.parametrize(
    "env_id, options, message",
    [
        ("Nope-v0", {}, "unknown env id 'Nope-v0'; lightup games: " + ", ".join(GAME_IDS)),
        ("LunarLander-v2", {}, "unknown env id 'LunarLander-v2' (Gymnasium: Environment version v2 for "
         "`LunarLander` is deprecated. Please use `LunarLander-v3` instead.); lightup games: "),
        ("CartPole-v9", {}, "It provides versioned environments: [ `v0`, `v1` ].); lightup games: "),
        ("lightup/PressButton-v0", {"foo": 1}, "unknown option 'foo' for lightup/PressButton-v0; valid "
         "options: size, game_length, hard_mode, fixed_light, end_on_miss"),
        ("lightup/Gamble-v0", {"size": 2}, "valid options: (none)"),
        ("CartPole-v1", {"size": 2}, "valid options: sutton_barto_reward"),
        ("lightup/PressButton-v0", {"size": 0}, "size must be an integer from 2 to 1024, got 0"),
        ("lightup/PressButton-v0", {"render_mode": "human"}, "render_mode must be None or 'ansi'"),
    ],
)  # fmt: skip
@pytest.mark.filterwarnings("ignore:.*render_mode='human'")
def test_make_env_errors_are_one_line(env_id, options, message):
    with pytest.raises(LightupError) as err:
        make_env(env_id, **options)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (PressButtonEnv, {"size": 1}, "size must be an integer from 2 to 1024, got 1"),
        (PressButtonEnv, {"size": 2.0}, "size must be an integer from 2 to 1024, got 2.0"),
        (PressButtonEnv, {"size": True}, "size must be an integer from 2 to 1024, got True"),
        (PressButtonEnv, {"game_length": 0}, "game_length must be an integer from 1 to 1023, got 0"),
        (PressButtonEnv, {"game_length": 1024}, "game_length must be an integer from 1 to 1023, got 1024"),
        (PressButtonEnv, {"hard_mode": "yes"}, "hard_mode must be true or false, got 'yes'"),
        (PressButtonEnv, {"end_on_miss": 1}, "end_on_miss must be true or false, got 1"),
        (RecallButtonEnv, {"delay": -1}, "delay must be an integer from 0 to 1021, got -1"),
        (RecallButtonEnv, {"size": 0}, "size must be an integer from 2 to 1024, got 0"),
    ],
)
def test_bad_arguments_raise_lightup_error_with_valid_range(cls, kwargs, message):
    with pytest.raises(LightupError, match="^" + message.replace("(", r"\(").replace(")", r"\)") + "$"):
        cls(**kwargs)


def test_numpy_integers_are_accepted():
    assert PressButtonEnv(size=np.int64(3)).size == 3


def test_parse_options_types_values():
    pairs = ["size=4", "hard_mode=true", "end_on_miss=False", "rate=0.5", "name=abc", "delay=-1"]
    assert parse_options(pairs) == {
        "size": 4,
        "hard_mode": True,
        "end_on_miss": False,
        "rate": 0.5,
        "name": "abc",
        "delay": -1,
    }
    assert type(parse_options(["size=4"])["size"]) is int


@pytest.mark.parametrize("pairs", [["size4"], ["=4"], ["size=2", "size=3"]])
def test_parse_options_rejects_malformed_pairs(pairs):
    with pytest.raises(LightupError):
        parse_options(pairs)
