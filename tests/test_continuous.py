"""Continuous actions end to end: the tanh-Gaussian head, Box action spaces in the trainer, the probes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from tiny import tiny_config

from lightup.envs import make_env
from lightup.errors import LightupError
from lightup.models import DecisionTransformer, DTConfig, MLPConfig, ReturnConditionedMLP
from lightup.models.heads import TanhNormal, action_distribution, log_det_tanh
from lightup.training.agent import Agent
from lightup.training.trainer import Trainer


def test_tanh_gaussian_log_prob_matches_a_hand_worked_value():
    """Two dimensions: u = 0.5 under N(0, 1) and u = -1 under N(1, 2), y = tanh(u).
    log p(y) = sum [log N(u) - log(1 - tanh(u)^2)], with log(1 - tanh(u)^2) = -2 log cosh(u):
    dim 1: -0.5 log(2 pi) - 0.125 + 2 log cosh(0.5) = -0.918939 - 0.125 + 0.240229 = -0.803710
    dim 2: -log 2 - 0.5 log(2 pi) - 0.5 + 2 log cosh(1) = -0.693147 - 0.918939 - 0.5 + 0.867562 = -1.244524
    """
    params = torch.tensor([[0.0, 1.0, 0.0, math.log(2.0)]], dtype=torch.float64)  # means, then log-stds
    y = torch.tanh(torch.tensor([[0.5, -1.0]], dtype=torch.float64))
    log_prob = action_distribution(params, discrete=False).log_prob(y)
    assert log_prob.shape == (1,)
    assert abs(float(log_prob[0]) - (-0.803710 - 1.244524)) < 1e-5


def test_tanh_gaussian_log_det_is_finite_where_the_naive_form_is_not():
    u = torch.tensor([0.0, 3.0, 30.0, -30.0])
    stable = log_det_tanh(u)
    assert torch.isfinite(stable).all()
    assert torch.isinf(torch.log(1 - torch.tanh(u) ** 2)[2:]).all()  # what the stable form avoids
    assert abs(float(stable[2]) - (2 * math.log(2) - 60)) < 1e-4  # log(4 e^-60) for large u
    dist = TanhNormal(torch.full((4, 2), 20.0), torch.full((4, 2), -5.0))
    actions, log_prob = dist.rsample_with_log_prob()
    assert torch.isfinite(log_prob).all() and (actions.abs() <= 1).all()
    assert torch.isfinite(dist.log_prob(torch.ones(4, 2))).all()  # an action at the bound


def test_tanh_gaussian_entropy_estimate_is_unbiased_and_has_gradients():
    """The one-draw estimate -log p(y) averages to the entropy: for tiny std the tanh is linear near 0, so
    the entropy is the Gaussian's, 0.5 log(2 pi e) + log std per dimension."""
    torch.manual_seed(0)
    log_std = torch.full((20000, 3), math.log(0.01), requires_grad=True)
    dist = TanhNormal(torch.zeros(20000, 3), log_std)
    entropy = dist.entropy()
    expected = 3 * (0.5 * math.log(2 * math.pi * math.e) + math.log(0.01))
    assert abs(float(entropy.detach().mean()) - expected) < 0.02
    entropy.mean().backward()
    assert torch.allclose(log_std.grad, torch.full_like(log_std, 1 / 20000), rtol=1e-2)


@pytest.mark.parametrize("layout", ["stacked", "interleaved"])
def test_the_start_embedding_is_not_any_action(layout):
    """At t = 0 the previous action is ignored (a learned start embedding stands in), and the start differs
    from the zero action at a later step."""
    torch.manual_seed(0)
    model = DecisionTransformer(
        DTConfig(obs_dim=2, act_dim=2, discrete=False, context_len=4, layout=layout, timestep_embedding=False)
    ).eval()
    torch.nn.init.normal_(model.head.weight, std=1.0)
    torch.nn.init.normal_(model.start_embedding, std=1.0)
    rtg, states, mask = torch.ones(1, 1), torch.ones(1, 1, 2), torch.ones(1, 1, dtype=torch.bool)
    with torch.no_grad():
        start_a = model(rtg, states, torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long), mask)
        start_b = model(rtg, states, torch.ones(1, 1, 2), torch.zeros(1, 1, dtype=torch.long), mask)
        zero_later = model(rtg, states, torch.zeros(1, 1, 2), torch.full((1, 1), 3), mask)
    assert torch.equal(start_a, start_b)
    assert (start_a - zero_later).abs().max() > 1e-3


def test_the_mlp_reads_a_start_flag_apart_from_the_zero_action():
    torch.manual_seed(0)
    model = ReturnConditionedMLP(MLPConfig(obs_dim=2, act_dim=2, discrete=False, use_prev_action=True))
    torch.nn.init.normal_(model.head.weight, std=1.0)
    rtg, states, mask = torch.ones(1, 1), torch.ones(1, 1, 2), torch.ones(1, 1, dtype=torch.bool)
    with torch.no_grad():
        start = model(rtg, states, torch.zeros(1, 1, 2), torch.zeros(1, 1, dtype=torch.long), mask)
        zero_later = model(rtg, states, torch.zeros(1, 1, 2), torch.ones(1, 1, dtype=torch.long), mask)
    assert (start - zero_later).abs().max() > 1e-3


# --- bad action spaces ---


class _SpaceEnv(gym.Env):
    def __init__(self, action_space: gym.Space):
        self.action_space = action_space
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        return np.zeros(1, np.float32), 0.0, True, False, {}


BAD_SPACES = [
    (spaces.Box(-np.inf, np.inf, (2,), np.float32), "unbounded Box"),
    (spaces.Box(-1.0, np.inf, (2,), np.float32), "unbounded Box"),
    (spaces.MultiDiscrete([3, 2]), "MultiDiscrete action space"),
    (spaces.MultiBinary(3), "MultiBinary action space"),
    (spaces.Box(-1.0, 1.0, (2, 2), np.float32), r"shape \(2, 2\)"),
    (spaces.Box(0, 5, (2,), np.int64), "dtype int64"),
    (spaces.Tuple([spaces.Discrete(2), spaces.Discrete(2)]), "Tuple action space"),
]


@pytest.mark.parametrize("space, reason", BAD_SPACES, ids=[r for _, r in BAD_SPACES])
def test_bad_action_spaces_are_one_line_errors(tmp_path, space, reason):
    with pytest.raises(LightupError, match=reason) as err:
        Trainer(tiny_config(tmp_path / "run"), env=lambda: _SpaceEnv(space))
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()


def test_a_bad_action_space_from_the_cli_exits_2_in_one_line(tmp_path):
    environ = {**os.environ, "PYTHONPATH": str(Path(__file__).parent)}
    args = ["train", "user_envs:UserUnbounded-v0", "--run-dir", str(tmp_path / "run"), "--total-steps", "64"]
    proc = subprocess.run(
        [sys.executable, "-m", "lightup.cli", *args], capture_output=True, text=True, env=environ, timeout=120
    )
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "unbounded Box" in lines[0], proc.stderr
    assert not (tmp_path / "run").exists()


# --- the trainer on the continuous probes ---


def probe_config(tmp_path, env_id: str, **kw):
    larger = dict(n_envs=8, updates_per_round=8, batch_size=32, context_len=4, n_embd=32, eval_episodes=20)
    return tiny_config(tmp_path / "run", env_id, **{"buffer_kind": "fifo", **larger, **kw})


@pytest.mark.parametrize(
    "env_id, policy, layout",
    [
        ("lightup/ProbeTargetAction-v0", "dt", "stacked"),
        ("lightup/ProbeTargetAction-v0", "dt", "interleaved"),
        ("lightup/ProbeTargetAction-v0", "mlp", "stacked"),
        ("lightup/ProbeObsAction-v0", "dt", "stacked"),
        ("lightup/ProbeObsAction-v0", "dt", "interleaved"),
    ],
)
def test_trainer_solves_the_continuous_probes(tmp_path, env_id, policy, layout):
    """Seed 0, at most 4000 env steps: greedy evaluation reaches the threshold (0.95) on 20 episodes."""
    config = probe_config(
        tmp_path, env_id, policy=policy, layout=layout, stop_at_threshold=True, eval_every=512
    )
    trainer = Trainer(config).learn(4000)
    assert trainer.config.obs_adapters == ("rescale_action",)
    assert not trainer.policy.discrete and trainer.policy.act_dim == 2
    assert trainer.solved_at is not None
    assert trainer.evaluate()["eval/mean_reward"] >= 0.95


def test_trainer_follows_commands_on_the_continuous_command_probe(tmp_path):
    """Seed 0, 3000 env steps: the greedy return follows the commanded one across [0.3, 0.9]."""
    # A buffer of all 3000 one-step episodes: a FIFO of 300 holds only the latest, near-best ones, and a
    # command below them leaves the data the policy was fit to.
    config = probe_config(
        tmp_path, "lightup/CommandFollowContinuous-v0", advantage_beta=0.0, buffer_capacity=3000
    )
    trainer = Trainer(config)
    trainer.learn(3000)
    for command in (0.3, 0.6, 0.9):
        assert abs(trainer.evaluate(command)["eval/mean_reward"] - command) < 0.1, command


def test_a_continuous_run_resumes_to_the_uninterrupted_run(tmp_path):
    """Stopped at a checkpoint and resumed (replay, temperature, random states) equals one that never
    stopped, on a continuous env with a value baseline."""
    config = dict(checkpoint_every=128, advantage_beta=0.5)
    whole = Trainer(probe_config(tmp_path / "whole", "lightup/ProbeObsAction-v0", **config)).learn(384)
    first = Trainer(probe_config(tmp_path / "split", "lightup/ProbeObsAction-v0", **config)).learn(128)
    resumed = Trainer.load(first.run_dir).learn(384)
    assert resumed.steps == whole.steps == 384
    for (name, a), b in zip(
        whole.policy.state_dict().items(), resumed.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert torch.equal(whole.log_alpha, resumed.log_alpha)


def test_the_policy_baseline_is_refused_for_continuous_actions(tmp_path):
    config = probe_config(
        tmp_path, "lightup/ProbeTargetAction-v0", advantage_beta=0.5, advantage_baseline="policy"
    )
    with pytest.raises(LightupError, match="has continuous actions: use --advantage-baseline value"):
        Trainer(config)


def test_a_continuous_agent_file_plays_in_the_envs_bounds(tmp_path):
    """The agent file round-trips; its actions lie in [-1, 1] and the env, rescaled, sees its own bounds."""
    trainer = Trainer(probe_config(tmp_path, "lightup/ProbeTargetAction-v0")).learn(2000)
    trainer.save_checkpoint()
    agent = Agent.load(trainer.run_dir / "policy.safetensors")
    env = agent.make_env()
    obs, _ = env.reset(seed=0)
    action = agent.act(obs[None])[0]
    assert action.shape == (2,) and np.all(np.abs(action) <= 1)
    _, reward, *_ = env.step(action)
    assert reward >= 0.9  # the probe's right action, (0.75, 0.25) in its own [0, 1] bounds
    again = Agent.load(trainer.run_dir / "policy.safetensors")
    assert np.array_equal(again.act(obs[None])[0], action)


def test_a_vector_env_with_actions_outside_minus_one_to_one_is_refused_in_one_line(tmp_path):
    """A vector env is played as given, so its Box actions must already be [-1, 1]."""
    from lightup.envs.probes_continuous import ProbeTargetActionEnv
    from lightup.training.envs import vector_env

    envs = vector_env(ProbeTargetActionEnv, 2)
    with pytest.raises(LightupError, match=r"RescaleAction\(env, -1.0, 1.0\)") as err:
        Trainer(tiny_config(tmp_path / "run", n_envs=None), env=envs)
    assert "\n" not in str(err.value)
    one = np.float32(1.0)  # in the space's dtype: no precision warning
    rescaled = vector_env(lambda: gym.wrappers.RescaleAction(ProbeTargetActionEnv(), -one, one), 2)
    assert Trainer(tiny_config(tmp_path / "ok", n_envs=None), env=rescaled).policy.act_dim == 2


def test_rescaling_is_recorded_and_a_changed_action_space_is_refused():
    env = make_env("lightup/ProbeTargetAction-v0")
    assert env.action_space == spaces.Box(-1.0, 1.0, (2,), np.float32)
    with pytest.raises(LightupError, match="its observation or action space changed"):
        make_env("lightup/ProbeTargetAction-v0", adapters=())


def test_the_sb3_continuous_peers_are_built_with_the_zoos_settings():
    """SAC and TD3 from the RL Zoo's tables (TD3's noise as an SB3 action noise over the action dimensions);
    an env the zoo does not cover gets the stated fallback."""
    from stable_baselines3 import SAC, TD3
    from stable_baselines3.common.noise import NormalActionNoise

    from lightup.bench.job import Job
    from lightup.bench.sb3 import build_model
    from lightup.bench.zoo import hyperparameters

    assert hyperparameters("sac", "Pendulum-v1") == (
        {"n_envs": 1, "zoo_steps": 20_000, "learning_rate": 1e-3},
        True,
    )
    assert hyperparameters("td3", "lightup/ProbeTargetAction-v0")[1] is False
    env = make_env("lightup/ProbeTargetAction-v0")  # 2 action dimensions; the job's id picks the zoo entry
    job = Job("Pendulum-v1", "sb3-td3", 0, 2000, 1000)
    model, record = build_model("td3", job, env)
    assert isinstance(model, TD3) and record["from_zoo"] and record["noise_std"] == 0.1
    assert isinstance(model.action_noise, NormalActionNoise) and model.action_noise._sigma.shape == (2,)
    model, record = build_model("sac", Job("Pendulum-v1", "sb3-sac", 0, 2000, 1000), env)
    assert isinstance(model, SAC) and model.learning_rate == 1e-3


# --- advantage weighting on long, time-limited episodes ---


def test_continuous_value_targets_are_bootstrapped_at_a_time_limit_cut_at_lambda_1(tmp_path):
    """advantage_lambda 1, continuous actions: before a round of updates, the value targets of an episode a
    time limit cut are its discounted returns plus the discounted value of its last state (not its returns
    to the cut, which fall with the steps left); a terminated episode keeps its Monte Carlo returns."""
    from lightup.training.replay import Episode

    switches = dict(advantage_beta=1.0, advantage_gamma=0.5, advantage_lambda=1.0, return_scale=4.0)
    trainer = Trainer(probe_config(tmp_path, "lightup/ProbeObsAction-v0", **switches))
    obs_dim, act_dim = trainer.value_net[0].in_features, trainer.n_actions
    for rewards, terminated in (([1.0, 2.0], True), ([3.0, 4.0], False)):
        obs = np.random.default_rng(len(rewards)).normal(size=(2, obs_dim)).astype(np.float32)
        actions = np.zeros((2, act_dim), np.float32)
        trainer.buffer.add(Episode(obs, actions, np.float32(rewards), terminated))
    observations = np.concatenate([e.observations for e in trainer.buffer.episodes])
    last = trainer._values(observations)[3]  # in return units
    trainer.config.updates_per_round = 1
    trainer._update()
    targets = trainer.buffer._steps()["value_targets"]
    np.testing.assert_allclose(targets, [2.0, 2.0, 3 + 0.5 * (4 + 0.5 * last), 4 + 0.5 * last], rtol=1e-5)


def test_the_recipe_fits_continuous_values_to_td_lambda_returns():
    """Both kinds of actions default to TD(0.95) value targets; a preset, or a value given, keeps its own."""
    from lightup.training.config import TrainConfig
    from lightup.training.recipe import with_env_defaults

    def resolved(continuous, **kw):
        return with_env_defaults(TrainConfig(**kw), None, lambda: 1.0, continuous).advantage_lambda

    assert resolved(True) == 0.95
    assert resolved(False) == 0.95
    assert resolved(True, preset="cartpole") == 1.0
    assert resolved(True, advantage_lambda=0.5) == 0.5
