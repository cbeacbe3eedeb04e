"""Observation adapters (Discrete one-hot, Dict/Tuple flattened, MiniGrid's image) and `module:EnvId` ids:
hand-made spaces, real envs trained end to end, and the one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from tiny import TINY_FLAGS, tiny_config, user_cli

import lightup.envs as envs_module
from lightup.envs import adapters_of, make_env
from lightup.envs.adapters import adapt, plan
from lightup.errors import LightupError
from lightup.training.trainer import Trainer

TESTS = Path(__file__).parent
TAXI = "Taxi-v4" if "Taxi-v4" in gym.registry else "Taxi-v3"


class SpaceEnv(gym.Env):
    """Gives ``obs`` (an element of ``space``) at every reset and step; one action, episodes of one step."""

    def __init__(self, space: gym.Space, obs):
        self.observation_space, self.action_space, self.obs = space, spaces.Discrete(1), obs

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.obs, {}

    def step(self, action):
        return self.obs, 1.0, True, False, {}


def _adapted(space, obs):
    env, names = adapt(SpaceEnv(space, obs))
    first, _ = env.reset(seed=0)
    return names, env.observation_space, first


def test_a_box_needs_no_adapter():
    names, space, obs = _adapted(spaces.Box(-1, 1, (2, 3)), np.zeros((2, 3), np.float32))
    assert names == () and space.shape == (2, 3) and obs.shape == (2, 3)


def test_discrete_observations_become_one_hot():
    names, space, obs = _adapted(spaces.Discrete(4, start=2), 4)
    assert names == ("flatten",)
    assert space.shape == (4,)
    assert obs.tolist() == [0, 0, 1, 0]  # 4 is the third value of {2, 3, 4, 5}


def test_multi_discrete_and_multi_binary_observations_become_flat_vectors():
    names, space, obs = _adapted(spaces.MultiDiscrete([2, 3]), np.array([1, 2]))
    assert names == ("flatten",) and obs.tolist() == [0, 1, 0, 0, 1]  # one-hot of 1 in 2, then of 2 in 3
    names, space, obs = _adapted(spaces.MultiBinary(3), np.array([1, 0, 1], np.int8))
    assert names == ("flatten",) and space.shape == (3,) and obs.tolist() == [1, 0, 1]


def test_dict_and_tuple_observations_are_flattened_part_by_part():
    space = spaces.Dict({"pos": spaces.Box(-5, 5, (2,)), "key": spaces.Discrete(3)})
    names, flat, obs = _adapted(space, {"pos": np.array([0.5, -1.0], np.float32), "key": 2})
    assert names == ("flatten",) and flat.shape == (5,)
    assert obs.tolist() == [0, 0, 1, 0.5, -1.0]  # a Dict's parts in the order of their sorted keys
    space = spaces.Tuple((spaces.Discrete(2), spaces.Tuple((spaces.MultiBinary(2), spaces.Box(0, 1, (1,))))))
    names, flat, obs = _adapted(space, (1, (np.array([1, 1], np.int8), np.array([0.25], np.float32))))
    assert names == ("flatten",) and obs.tolist() == [0, 1, 1, 1, 0.25]


@pytest.mark.parametrize(
    "space, part",
    [
        (spaces.Text(8), "Text"),
        (spaces.Graph(spaces.Box(0, 1, (2,)), None), "Graph"),
        (spaces.Sequence(spaces.Discrete(3)), "Sequence"),
        (spaces.Dict({"image": spaces.Box(0, 1, (2,)), "mission": spaces.Text(8)}), "Text"),
    ],
)
def test_a_space_that_cannot_be_a_fixed_vector_is_a_one_line_error(space, part):
    with pytest.raises(LightupError, match=f"has an observation space with a {part} part") as err:
        plan(SpaceEnv(space, None))
    assert "\n" not in str(err.value)


def test_recorded_adapters_that_no_longer_fit_the_env_are_an_error():
    env = SpaceEnv(spaces.Discrete(3), 0)
    with pytest.raises(LightupError, match=r"made with the adapters \[\], but the env now needs"):
        adapt(env, ())
    with pytest.raises(LightupError, match="unknown observation adapter 'resize'"):
        adapt(env, ("resize",))
    assert adapt(env, ("flatten",))[1] == ("flatten",)


def test_make_env_applies_and_names_the_adapters():
    env = make_env("FrozenLake-v1")
    assert adapters_of(env) == ("flatten",) and env.observation_space.shape == (16,)
    assert adapters_of(make_env("CartPole-v1")) == ()


def test_minigrid_keeps_its_image_through_its_own_wrapper_then_is_flattened():
    env = make_env("minigrid:MiniGrid-Empty-5x5-v0")
    assert adapters_of(env) == ("minigrid_image", "flatten")
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == (7 * 7 * 3,) and obs.shape == (147,)
    raw = env.unwrapped.gen_obs()["image"]
    assert np.array_equal(obs, raw.reshape(-1))  # the agent's view, cell by cell, as minigrid encodes it


@pytest.mark.parametrize("env_id", ["FrozenLake-v1", TAXI])
def test_discrete_observation_envs_train_end_to_end_and_resume_with_their_adapters(tmp_path, env_id):
    trainer = Trainer(tiny_config(tmp_path / "run", env_id, total_steps=96, checkpoint_every=64)).learn()
    n_states = gym.spec(env_id).make().observation_space.n
    assert trainer.config.obs_adapters == ("flatten",) and trainer.policy.obs_dim == n_states
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["obs_adapters"] == ["flatten"]
    again = Trainer.load(tmp_path / "run")
    assert again.config.obs_adapters == ("flatten",) and again.steps == trainer.steps


class ShiftedActionsEnv(gym.Env):
    """Discrete(3, start=-1) actions (-1, 0, 1), as a user writes a left/stay/right env; any other action
    raises. The reward is the action taken; episodes of 4 steps."""

    observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = spaces.Discrete(3, start=-1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not one of -1, 0, 1")
        self.t += 1
        return np.zeros(2, np.float32), float(action), self.t == 4, False, {}


def test_discrete_actions_that_start_elsewhere_are_shifted_to_start_at_0():
    env, names = adapt(ShiftedActionsEnv())
    assert names == ("shift_actions",) and env.action_space == spaces.Discrete(3)
    env.reset(seed=0)
    assert [env.step(i)[1] for i in (0, 1, 2)] == [-1.0, 0.0, 1.0]


def test_an_env_with_shifted_actions_trains_without_an_env_error(tmp_path):
    trainer = Trainer(tiny_config(tmp_path / "run", total_steps=96), env=ShiftedActionsEnv).learn()
    assert trainer.n_actions == 3
    assert not (tmp_path / "run" / "env_errors.log").exists()


# --- module:EnvId ---


def test_a_module_env_id_imports_the_module_that_registers_it(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    env = make_env("user_envs:UserCorridor-v0", length=5)
    assert env.unwrapped.length == 5 and adapters_of(env) == ("flatten",)


@pytest.mark.parametrize(
    "env_id, message",
    [
        ("user_envs:UserBroken-v0", "env user_envs:UserBroken-v0 could not be made (RuntimeError: licence "
         "file not found)"),
        ("no_such_module_here:Env-v0", "importing its module 'no_such_module_here' failed "
         "(ModuleNotFoundError: No module named 'no_such_module_here')"),
        ("user_envs:Missing-v0", "unknown env id 'Missing-v0': importing 'user_envs' did not register it"),
    ],
)  # fmt: skip
def test_module_env_ids_that_fail_are_one_line_errors_naming_the_env(monkeypatch, env_id, message):
    monkeypatch.syspath_prepend(str(TESTS))
    with pytest.raises(LightupError) as err:
        make_env(env_id)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_users_module_env_trains_from_the_cli_and_is_not_imported_from_the_run_unasked(tmp_path):
    run = tmp_path / "run"
    args = ["train", "user_envs:UserCorridor-v0", "--total-steps", "32", *TINY_FLAGS, "--run-dir", str(run)]
    done = user_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["env_id"] == "user_envs:UserCorridor-v0" and config["obs_adapters"] == ["flatten"]
    # Resuming reads the id from the run's files: its module is imported only when the user says so.
    refused = user_cli(["train", "--resume", str(run)], tmp_path)
    assert refused.returncode == 2
    assert "module 'user_envs', which lightup does not import because a file names it" in refused.stderr
    assert "LIGHTUP_ENV_MODULES=user_envs" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    trusted = user_cli(["train", "--resume", str(run)], tmp_path, LIGHTUP_ENV_MODULES="user_envs")
    assert trusted.returncode == 0, trusted.stderr


def test_a_users_module_env_benches_from_the_cli_and_its_report_imports_it_only_when_trusted(tmp_path):
    out = tmp_path / "bench"
    args = ["bench", "--envs", "user_envs:UserCorridor-v0", "--agents", "dt-stacked", "--seeds", "1"]
    done = user_cli([*args, "--budget", "64", "--eval-every", "64", "--out", str(out), "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "user_envs:UserCorridor-v0" in (out / "summary.md").read_text()
    refused = user_cli(["bench", "--report", str(out)], tmp_path)
    assert refused.returncode == 2 and "LIGHTUP_ENV_MODULES=user_envs" in refused.stderr
    trusted = user_cli(["bench", "--report", str(out)], tmp_path, LIGHTUP_ENV_MODULES="user_envs")
    assert trusted.returncode == 0, trusted.stderr


def test_a_minigrid_id_without_its_module_trains_and_resumes_from_theuser_cli(tmp_path):
    """MiniGrid registers its envs only when imported: its ids work as typed, in a fresh process, for a
    new run and for a resumed one (whose id is read from the run's files)."""
    run = tmp_path / "run"
    args = ["train", "MiniGrid-Empty-5x5-v0", "--total-steps", "32", *TINY_FLAGS, "--run-dir", str(run)]
    done = user_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr
    config = json.loads((run / "config.json").read_text())
    assert config["env_id"] == "MiniGrid-Empty-5x5-v0"
    assert config["obs_adapters"] == ["minigrid_image", "flatten"]
    resumed = user_cli(["train", "--resume", str(run), "--total-steps", "48"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr


def test_an_id_of_a_known_family_whose_package_is_missing_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(
        envs_module.REGISTERING_PACKAGES, "LightupFamily-", ("lightup_tests_not_installed", "pip install it")
    )
    with pytest.raises(LightupError) as err:
        make_env("LightupFamily-Room-v0")
    assert str(err.value) == (
        "env LightupFamily-Room-v0 is registered by the package lightup_tests_not_installed, which is not "
        "installed: pip install it"
    )
