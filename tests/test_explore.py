"""Exploration while returns sit at the worst (`lightup.training.explore`): the share that drives it, the
options' actions and durations, and the rollout and trainer using them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_config

from lightup.training.explore import Explorer, payoff, worst_share
from lightup.training.trainer import Trainer


def test_worst_share_by_hand():
    assert worst_share(np.array([])) == 0.0
    assert worst_share(np.array([-200.0, -200.0, -200.0, -150.0])) == 0.75
    assert worst_share(np.array([-500.0] * 5)) == 1.0
    assert worst_share(np.array([3.0, 1.0, 2.0, 1.0 + 1e-9])) == 0.5  # equal to a relative 1e-6
    assert worst_share(np.array([0.5, 0.25, 0.75])) == pytest.approx(1 / 3)


def test_options_hold_a_random_action_for_heavy_tailed_durations():
    """An exploring env repeats its option's action until the option runs out; P(duration >= n) = 1 / n
    (ez-greedy's zeta with mu 2); an env that does not explore keeps the policy's action."""
    torch.manual_seed(0)
    explorer = Explorer(2, n_actions=3)
    explorer.begin(np.array([0]), 1.0)
    explorer.begin(np.array([1]), 0.0)
    assert explorer.exploring.tolist() == [True, False]
    played = np.array([explorer.act(np.array([7, 7]))[:] for _ in range(50_000)])
    assert (played[:, 1] == 7).all() and set(played[:, 0]) == {0, 1, 2}
    # each option's duration: after the step that drew it, its steps left are the duration less 1
    explorer = Explorer(1, n_actions=3)
    explorer.begin(np.array([0]), 1.0)
    left = []
    for _ in range(20_000):
        explorer.act(np.array([0]))
        left.append(int(explorer.left[0]))
    durations = np.array([left[i] + 1 for i in range(1, len(left)) if left[i - 1] == 0])
    assert len(durations) > 1000
    for n in (2, 10):
        assert np.mean(durations >= n) == pytest.approx(1 / n, abs=0.03)


def test_a_chance_of_zero_never_explores_and_draws_nothing():
    explorer = Explorer(4, n_actions=2)
    state = torch.get_rng_state()
    explorer.begin(np.arange(4), 0.0)
    actions = np.array([1, 0, 1, 0])
    assert explorer.act(actions) is actions
    assert torch.equal(torch.get_rng_state(), state)


def test_the_trainer_explores_while_every_return_is_the_worst_and_hardly_once_they_spread(tmp_path):
    """MountainCar-v0 (every random episode ends at -200): once episodes are stored, each new one explores
    with chance explore_share, and options choose actions; none before (nothing stored), none with share 0.
    CartPole-v1's returns spread from the first episodes: the chance is a few hundredths at most."""
    from lightup.training.logger import read_metrics

    stuck = Trainer(tiny_config(tmp_path / "mc", "MountainCar-v0", explore_share=0.5, n_envs=8)).learn(4096)
    assert stuck.buffer.returns().max() == -200.0 and stuck._explore_chance() == 0.5
    records = [r for r in read_metrics(stuck.run_dir) if "rollout/explored" in r]
    assert all(r["rollout/explored"] == 0 for r in records if r["step"] <= 8 * 200)  # first episodes
    assert sum(r["rollout/explored"] for r in records if r["step"] > 8 * 200) > 0
    stuck.close()
    off = Trainer(tiny_config(tmp_path / "off", "MountainCar-v0", explore_share=0.0, n_envs=8)).learn(2048)
    assert off._explore_chance() == 0.0
    assert all(r["rollout/explored"] == 0 for r in read_metrics(off.run_dir) if "rollout/explored" in r)
    off.close()
    spread = Trainer(tiny_config(tmp_path / "cp", "CartPole-v1", explore_share=0.5)).learn(1024)
    assert len(spread.buffer) > 20 and spread._explore_chance() < 0.05
    spread.close()


def test_payoff_by_hand():
    """Rates above the worst, each with one success and one failure added: exploring over the policy's."""
    returns = np.array([0.0] * 6 + [1.0] * 4)
    # 4 exploring, none above the worst: 1/6; 6 of the policy's, 4 above: 5/8; (1/6) / (5/8) = 4/15
    explored = np.array([True] * 4 + [False] * 6)
    assert payoff(returns, explored) == pytest.approx(4 / 15)
    # the exploring ones are those above: 5/6 against 1/8, capped at 1
    assert payoff(returns, ~explored) == 1.0
    # nothing above the worst (every episode at -200): no evidence, whatever the counts
    assert payoff(np.full(7, -200.0), np.array([True] * 5 + [False] * 2)) == 1.0
    # no exploring episode stored yet: (0 + 1) / (0 + 2) = 1/2 against the policy's (1 + 1) / (4 + 2)
    assert payoff(np.array([-3.0, -3.0, -3.0, -1.0]), np.zeros(4, bool)) == 1.0
    assert payoff(np.array([-3.0, -1.0, -1.0, -1.0]), np.zeros(4, bool)) == pytest.approx(0.5 / 0.6666666)


def test_exploration_falls_where_the_policy_finds_more_than_the_options(tmp_path):
    """Stored episodes marked as explored by the rollout that played them, and the chance to explore scaled
    by how they pay: a replay whose exploring episodes never rise above the worst while the policy's do
    explores less than the share at the worst alone would say."""
    from lightup.training.replay import Episode

    stuck = Trainer(tiny_config(tmp_path / "mc", "MountainCar-v0", explore_share=0.5, n_envs=8)).learn(5120)
    # 8 envs x 200 steps an episode: the first two in each env start before any episode is stored (the
    # replay takes a round's episodes at its end); of the third, about half explore
    explored = stuck.buffer.explored()
    assert len(explored) == 24 and not explored[:16].any() and explored[16:].any()
    stuck.close()
    trainer = Trainer(tiny_config(tmp_path / "hand", "MountainCar-v0", explore_share=0.5, n_envs=8))
    obs = np.zeros((1, 2), np.float32)
    for i in range(20):  # 10 exploring episodes at -1, 10 of the policy's, 5 of them at 0
        ret = -1.0 if i < 10 or i % 2 else 0.0
        trainer.buffer.add(Episode(obs, np.zeros(1, np.int64), np.float32([ret]), True, explored=i < 10))
    # 15 of 20 at the worst; exploring 1/12 against the policy's 6/12
    assert trainer._explore_chance() == pytest.approx(0.5 * 0.75 * (1 / 12) / (6 / 12))
    trainer.close()


def test_a_resumed_run_keeps_which_stored_episodes_explored_and_ends_the_same(tmp_path):
    """The checkpoint holds the replay's exploration flags (the chance to explore reads them): a run split
    after exploring episodes were stored ends on the weights and flags of the run in one go."""
    config = dict(explore_share=0.5, n_envs=8, checkpoint_every=5120)
    whole = Trainer(tiny_config(tmp_path / "whole", "MountainCar-v0", **config)).learn(6144)
    first = Trainer(tiny_config(tmp_path / "split", "MountainCar-v0", **config)).learn(5120)
    assert first.buffer.explored().any()
    resumed = Trainer.load(first.run_dir)
    assert resumed.buffer.explored().tolist() == first.buffer.explored().tolist()
    resumed.learn(6144)
    assert resumed.buffer.explored().tolist() == whole.buffer.explored().tolist()
    weights = zip(whole.policy.state_dict().items(), resumed.policy.state_dict().values(), strict=True)
    for (k, v), w in weights:
        assert torch.equal(v, w), k
    for t in (whole, first, resumed):
        t.close()
