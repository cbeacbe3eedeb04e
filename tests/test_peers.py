"""The SB3 peers of `lightup bench`: the zoo's entries found for ``module:EnvId`` ids, and the zoo's
``normalize: true`` trained on ``VecNormalize`` and evaluated on the raw env through frozen statistics."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env  # the dev extra installs the bench extra
from stable_baselines3.common.vec_env import VecNormalize

from lightup.bench.job import Job
from lightup.bench.sb3 import _Greedy, build_model, greedy_returns, run_sb3
from lightup.bench.zoo import hyperparameters
from lightup.envs import make_env


def test_a_module_prefixed_id_finds_the_zoo_entry_of_its_env():
    params, from_zoo = hyperparameters("ppo", "minigrid:MiniGrid-DoorKey-5x5-v0")
    assert from_zoo and params["zoo_steps"] == 100_000 and params["n_steps"] == 128
    assert hyperparameters("ppo", "mymodule:MountainCar-v0") == hyperparameters("ppo", "MountainCar-v0")
    assert hyperparameters("ppo", "FrozenLake-v1")[1] is False  # the zoo has no PPO entry for it


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_normalised_peer_trains_on_vecnormalize_and_is_scored_on_raw_observations_through_frozen_stats():
    job = Job("MountainCar-v0", "sb3-ppo", seed=0, budget=512, eval_every=512, eval_episodes=2)
    row = run_sb3(job, "ppo")
    assert row["hyperparameters"]["zoo_normalize"] is True and row["steps"] >= 512
    assert [len(row["curve"]), row["curve"][0][1]] == [1, -200.0]  # two greedy episodes, each cut at 200

    env = make_vec_env(lambda: make_env("MountainCar-v0"), n_envs=16, seed=0)
    model, _ = build_model("ppo", job, VecNormalize(env, gamma=0.99))
    model.learn(256)  # the running statistics move away from mean 0, variance 1
    normalizer = model.get_vec_normalize_env()
    raw = np.array([[-0.5, 0.0], [0.3, 0.05]], dtype=np.float32)
    assert not np.allclose(normalizer.normalize_obs(raw), raw, atol=0.1)
    expected = model.predict(normalizer.normalize_obs(raw), deterministic=True)[0]
    assert np.array_equal(_Greedy(model).act(raw, None, None), expected)

    mean, count = normalizer.obs_rms.mean.copy(), normalizer.obs_rms.count
    evaluation = gym.vector.SyncVectorEnv(
        [lambda: make_env("MountainCar-v0") for _ in range(2)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    greedy_returns(model, evaluation)  # 400 raw observations read through the statistics
    assert normalizer.obs_rms.count == count and np.array_equal(normalizer.obs_rms.mean, mean)
