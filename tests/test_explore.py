"""Exploration while returns sit at the worst (`lightup.training.explore`): the share that drives it, the
options' actions and durations, and the rollout and trainer using them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_config

from lightup.training.explore import Explorer, worst_share
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
