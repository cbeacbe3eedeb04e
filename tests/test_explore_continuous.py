"""Exploration with continuous actions (`lightup.training.explore`): options that hold a uniform action of the
box, the odds that gate them, and the rollout, trainer and checkpoints using them."""

from __future__ import annotations

import signal

import gymnasium as gym
import numpy as np
import pytest
import torch
from tiny import tiny_config

from lightup.errors import LightupError
from lightup.training.callbacks import Callback
from lightup.training.config import TrainConfig
from lightup.training.explore import Explorer, gain, in_top
from lightup.training.recipe import (
    HELD_LEAD_MIN,
    held_actions_lead,
    random_return_scale,
    random_returns,
    with_env_defaults,
)
from lightup.training.replay import Episode
from lightup.training.trainer import Trainer


@pytest.mark.parametrize(
    ("exploring", "expected"),
    [
        # 4 exploring, one on top: (1 + 0.2) / (4 + 2); 16 of the policy's, one: 1.2 / 18; 3 times: capped
        ([0, 1, 2, 19], 1.0),
        # 7 exploring, one on top: 1.2 / 9; 13 of the policy's, one: 1.2 / 15; 15 / 9 - 1
        ([0, 1, 2, 3, 4, 5, 19], 2 / 3),
        # 10 and 10, one on top each: equal rates
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 19], 0.0),
        # 10 exploring, none on top: 0.2 / 12 against 2.2 / 12
        ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 0.0),
        # none exploring: the prior's 0.2 / 2 against 2.2 / 22
        ([], 0.0),
    ],
)
def test_the_top_tenth_and_the_gain_at_it_by_hand(exploring, expected):
    """Continuous actions: the bar is the 0.9 quantile of stored returns; the gain is the rate at which
    exploring episodes are above it over the policy's rate, less 1, in [0, 1], each rate with two
    episodes' worth of prior at 0.1."""
    returns = np.arange(20, dtype=np.float64)  # 0..19: the 0.9 quantile is 17.1, so 18 and 19 are above
    assert np.flatnonzero(in_top(returns)).tolist() == [18, 19]
    explored = np.zeros(20, bool)
    explored[exploring] = True
    assert gain(returns, explored) == pytest.approx(expected)


def test_the_gain_with_nothing_stored_and_the_bar_of_one_return():
    assert gain(np.array([]), np.array([], bool)) == 1.0  # nothing stored: the first episodes find out
    assert in_top(np.array([])).tolist() == [] and in_top(np.array([-5.0])).tolist() == [False]


def test_continuous_options_hold_a_uniform_action_of_the_box():
    """An exploring env plays its option's vector, uniform in [-1, 1) per dimension, until the option runs
    out; an env that does not explore keeps the policy's action."""
    torch.manual_seed(0)
    explorer = Explorer(2, n_actions=3, continuous=True)
    explorer.begin(np.array([0]), 1.0)
    explorer.begin(np.array([1]), 0.0)
    policy = np.full((2, 3), 0.25, np.float32)
    played = np.array([explorer.act(policy) for _ in range(20_000)])
    assert played.dtype == np.float32 and played.shape == (20_000, 2, 3)
    assert (played[:, 1] == 0.25).all()
    ours = played[:, 0]
    assert ours.min() >= -1.0 and ours.max() < 1.0
    changes = np.flatnonzero((ours[1:] != ours[:-1]).any(axis=1)) + 1
    options = ours[np.concatenate([[0], changes])]  # each option's action, once
    assert len(options) > 1000
    assert np.abs(options.mean(axis=0)).max() < 0.05  # uniform: mean 0, variance 1/3 per dimension
    assert options.var(axis=0) == pytest.approx(np.full(3, 1 / 3), abs=0.03)
    # a held option: every step between two changes repeats the same vector
    assert len(changes) < len(ours) / 2


def pendulum(tmp_path, name: str, **kw) -> Trainer:
    return Trainer(tiny_config(tmp_path / name, "Pendulum-v1", explore_share=0.5, n_envs=8, **kw))


def test_the_chance_to_explore_continuous_actions_is_the_share_times_the_gain_at_the_top(tmp_path):
    """Every return of a continuous env differs (action costs): none sits at the worst, yet the chance is
    explore_share while exploring episodes reach the top tenth of stored returns twice as often as the
    policy's, and 0 where they reach it no more often."""
    trainer = pendulum(tmp_path, "hand")
    assert trainer._explore_chance() == 0.5  # nothing stored
    obs, action = np.zeros((1, 3), np.float32), np.zeros((1, 1), np.float32)
    for i in range(20):  # returns -1000 + 10 i; the bottom half explored, the top two the policy's
        trainer.buffer.add(Episode(obs, action, np.float32([-1000.0 + 10 * i]), False, explored=i < 10))
    assert trainer._explore_chance() == 0.0  # exploring 0.2 / 12 against 2.2 / 12
    trainer.buffer.add(Episode(obs, action, np.float32([5.0]), False, explored=True))  # the new best
    returns = trainer.buffer.returns()
    assert sorted(returns[in_top(returns)].tolist()) == [-810.0, 5.0]
    # exploring 1.2 / 13 against 1.2 / 12: not more often by enough to pay
    assert trainer._explore_chance() == pytest.approx(0.5 * max(12 / 13 - 1, 0.0))
    for ret in (6.0, 7.0, 8.0):  # exploring episodes take the top: 4 of 14 against 0 of 10
        trainer.buffer.add(Episode(obs, action, np.float32([ret]), False, explored=True))
    returns = trainer.buffer.returns()
    assert sorted(returns[in_top(returns)].tolist()) == [6.0, 7.0, 8.0]
    assert trainer._explore_chance() == 0.5  # 3.2 / 16 against 0.2 / 12: capped at 1
    off = Trainer(tiny_config(tmp_path / "off", "Pendulum-v1", explore_share=0.0))
    assert off._explore_chance() == 0.0
    for t in (trainer, off):
        t.close()


def test_continuous_exploring_episodes_reach_mountaincars_flag_and_are_stored_as_explored(tmp_path):
    """MountainCarContinuous-v0: uniform random actions never reach the flag and the action's cost makes
    every return differ; options reach it. Seed 0, 8 envs, the first 999-step episodes: those that explored
    hold their actions for spells, lie in the box, and one reaches the flag (return above 0)."""
    trainer = Trainer(
        tiny_config(tmp_path / "mcc", "MountainCarContinuous-v0", explore_share=0.5, n_envs=8)
    ).learn(8192)
    episodes = trainer.buffer.episodes
    explored = trainer.buffer.explored()
    assert explored.any() and not explored.all()
    for e in (e for e in episodes if e.explored):
        assert np.abs(e.actions).max() <= 1.0
        changes = int((e.actions[1:] != e.actions[:-1]).any(axis=1).sum())
        assert changes < e.length / 2  # held, not drawn each step
    assert any(e.terminated and e.ret > 0 for e in episodes if e.explored)
    trainer.close()


def test_a_continuous_run_that_explores_resumes_to_the_uninterrupted_run(tmp_path):
    """Split at a checkpoint while options are under way (Pendulum-v1's 200-step episodes): the resumed run
    ends on the weights and exploration flags of the run in one go."""
    whole = pendulum(tmp_path, "whole", checkpoint_every=2048).learn(3072)
    first = pendulum(tmp_path, "split", checkpoint_every=2048).learn(2048)
    assert first.buffer.explored().any()
    resumed = Trainer.load(first.run_dir)
    resumed.learn(3072)
    assert resumed.buffer.explored().tolist() == whole.buffer.explored().tolist()
    for (name, a), b in zip(
        whole.policy.state_dict().items(), resumed.policy.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    for t in (whole, first, resumed):
        t.close()


class StopAt(Callback):
    """Asks the run to stop (as Ctrl-C does) once it has passed ``step``: the checkpoint then holds the
    rollout's state, options under way included."""

    def __init__(self, step: int):
        self.step = step

    def on_round(self, trainer, metrics) -> None:
        if trainer.steps >= self.step:
            trainer._request_stop(signal.SIGINT, None)


@pytest.mark.parametrize("bad", [2.0, float("nan")])
def test_a_continuous_option_out_of_the_box_in_a_checkpoint_is_a_one_line_error(tmp_path, bad):
    from lightup.checkpoint import load_tensors, save_tensors

    first = pendulum(tmp_path, "run").learn(2048, callbacks=[StopAt(1024)])
    first.close()
    path = first.run_dir / "checkpoint.safetensors"
    tensors, meta = load_tensors(path)
    assert tensors["rollout.exploring"].any()
    action = tensors["rollout.explore_action"]
    assert action.shape == (8, 1) and action.dtype == torch.float32
    assert Trainer.load(first.run_dir).steps == first.steps  # as written, it loads
    action[0, 0] = bad
    save_tensors(path, tensors, meta)
    with pytest.raises(LightupError, match="^the checkpoint's rollout state is out of range"):
        Trainer.load(first.run_dir).learn(2048)


@pytest.mark.parametrize(
    ("env_id", "low", "high"), [("MountainCarContinuous-v0", 3.0, 4.0), ("Pendulum-v1", -1.0, 0.2)]
)
def test_held_random_actions_lead_uniform_ones_by_scales_only_where_a_goal_lies_far(env_id, low, high):
    """Seeds 0 to 2: held random actions reach MountainCarContinuous-v0's flag (+100) where uniform ones end
    near -30, about 3.5 of its return scales ahead; on Pendulum-v1 their best lies within a tenth or two of
    a scale of uniform actions' best. The probe draws from no generator of torch's."""
    env = gym.make(env_id)
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    for seed in range(3):
        lead = held_actions_lead(env, seed, random_return_scale(env, seed))
        assert low < lead < high
        assert held_actions_lead(env, seed, random_return_scale(env, seed)) == lead  # seeded
    assert torch.equal(torch.rand(1), before)
    env.close()


def test_continuous_actions_explore_by_default_only_where_held_actions_lead():
    """The default recipe for continuous actions: exploration at 0.5 where the held actions' lead reaches
    HELD_LEAD_MIN, none below it, and a share or preset chosen stays as chosen (the probe is not run)."""

    def defaults(lead, **kw):
        calls = []
        config = with_env_defaults(
            TrainConfig(env_id="E", **kw),
            None,
            lambda: 7.0,
            True,
            held_lead=lambda s: calls.append(s) or lead,
        )
        return config.explore_share, calls

    assert defaults(HELD_LEAD_MIN) == (0.5, [7.0])  # the lead in units of the run's return scale
    assert defaults(HELD_LEAD_MIN - 0.01) == (0.0, [7.0])
    assert defaults(float("-inf")) == (0.0, [7.0])  # the probe finished no episode
    assert defaults(5.0, explore_share=0.0) == (0.0, [])
    assert defaults(5.0, explore_share=0.25) == (0.25, [])
    assert defaults(5.0, preset="cartpole")[1] == []
    # discrete actions keep their own gate and share, whatever the lead
    discrete = with_env_defaults(TrainConfig(env_id="E"), None, lambda: 7.0, held_lead=lambda s: 1 / 0)
    assert discrete.explore_share == 0.5


def test_a_default_run_on_mountaincarcontinuous_is_the_run_with_explore_share_chosen(tmp_path):
    """The probe changes nothing but the share: a default run of MountainCarContinuous-v0 writes
    explore_share 0.5 into its config and ends on the weights of a run given --explore-share 0.5; a
    default run of Pendulum-v1 writes 0.0 and ends on those of a run given --explore-share 0."""
    for env_id, share in (("MountainCarContinuous-v0", 0.5), ("Pendulum-v1", 0.0)):
        runs = []
        for name, kw in (("default", {}), ("chosen", {"explore_share": share})):
            trainer = Trainer(tiny_config(tmp_path / f"{env_id}-{name}", env_id, n_envs=8, **kw)).learn(1024)
            assert trainer.config.explore_share == share
            runs.append(trainer.policy.state_dict())
            trainer.close()
        assert all(torch.equal(runs[0][k], runs[1][k]) for k in runs[0])


def test_the_held_probe_holds_each_random_action_for_spells_and_the_uniform_one_does_not():
    """`random_returns` with ``held``: each random action of the box is played for a heavy-tailed number of
    steps (P(n or more) = 1 / n: a median spell of 2 steps, a mean of about 10 over 400 steps); without,
    a fresh action every step."""

    class Record(gym.Env):
        observation_space = gym.spaces.Box(0, 1, (1,))
        action_space = gym.spaces.Box(-1, 1, (1,))

        def __init__(self):
            self.actions = []

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            self.t += 1
            self.actions.append(float(action[0]))
            return np.zeros(1, np.float32), 0.0, False, self.t == 200, {}

    changes = {}
    for held in (False, True):
        env = Record()
        assert random_returns(env, 0, held=held, episodes=2).tolist() == [0.0, 0.0]
        played = np.array(env.actions)
        assert len(played) == 400 and np.abs(played).max() <= 1.0
        changes[held] = int((played[1:] != played[:-1]).sum())
    assert changes[False] == 399
    assert 10 < changes[True] < 200
