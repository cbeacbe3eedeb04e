"""Two values, chosen by the data (``value_select``, `lightup.training.advantage.ValuePair`): the TD(lambda)
returns of both at once, what each value reads, the running errors and the choice, the scoring of fresh
episodes against hand-worked numbers, and the choice a run makes on a task that needs the history and on a
slippery one that does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_config

from lightup.training.advantage import ValuePair
from lightup.training.logger import read_metrics
from lightup.training.replay import Episode
from lightup.training.returns import lambda_returns
from lightup.training.trainer import Trainer


def test_lambda_returns_of_two_values_at_once_equal_each_alone():
    rewards = np.array([1.0, 2.0, 3.0, 5.0, -1.0])
    values = np.array([[10.0, 1.0], [20.0, 2.0], [30.0, 3.0], [40.0, 4.0], [50.0, 5.0]])
    starts, lengths = np.array([0, 3]), np.array([3, 2])
    bootstrap = np.array([[0.0, 0.0], [7.0, 0.5]])  # the second episode cut: each value's own estimate
    both = lambda_returns(rewards, values, starts, lengths, bootstrap, 0.5, np.array([0.5, 0.0]))
    assert both.shape == (5, 2)
    for k, lam in enumerate((0.5, 0.0)):
        alone = lambda_returns(rewards, values[:, k], starts, lengths, bootstrap[:, k], 0.5, lam)
        assert both[:, k].tolist() == alone.tolist()
    # the second value's one-step targets by hand: r_t + 0.5 V_{t+1}, its own 0.5 after the cut
    assert both[:, 1].tolist() == [1 + 0.5 * 2, 2 + 0.5 * 3, 3.0, 5 + 0.5 * 5, -1 + 0.5 * 0.5]


def test_the_second_value_reads_the_observation_alone():
    """A row of 2 observation numbers and 6 of history: the first value moves with any of them, the second
    with the observation only."""
    torch.manual_seed(0)
    pair = ValuePair(n_in=8, obs_dim=2, n_out=3, hidden=16)
    rows = torch.randn(5, 4, 8)
    out = pair(rows)
    assert out.shape == (5, 4, 2, 3)
    history_changed = rows.clone()
    history_changed[..., 2:] += 1.0
    moved = pair(history_changed)
    assert not torch.equal(moved[..., 0, :], out[..., 0, :]) and torch.equal(moved[..., 1, :], out[..., 1, :])
    observation_changed = rows.clone()
    observation_changed[..., :2] += 1.0
    assert not torch.equal(pair(observation_changed)[..., 1, :], out[..., 1, :])


def test_the_choice_follows_the_lower_running_error():
    pair = ValuePair(n_in=3, obs_dim=1, n_out=1, hidden=4, decay=0.5)
    assert pair.chosen == 0  # nothing scored: the value of the history
    pair.score(torch.tensor([0.5, 0.2]))
    assert pair.errors.tolist() == pytest.approx([0.5, 0.2]) and pair.chosen == 1
    pair.score(torch.tensor([0.1, 0.6]))  # running means 0.3 and 0.4
    assert pair.errors.tolist() == pytest.approx([0.3, 0.4]) and pair.chosen == 0
    pair.score(torch.tensor([0.3, 0.0]))  # 0.3 and 0.2
    assert pair.errors.tolist() == pytest.approx([0.3, 0.2]) and pair.chosen == 1
    # the running errors are the module's state: they travel with its weights
    assert "errors" in pair.state_dict()


def test_fresh_episodes_are_scored_on_their_discounted_returns_by_hand(tmp_path):
    """Values held at 1 (the history's) and 0 (the observation's), return scale 2, gamma 0.5: a terminated
    episode of rewards 1, 1 has discounted returns 1.5, 1; an episode of one reward 2 cut by a time limit
    adds each value's own estimate at the cut: 2 + 0.5 * 1 = 2.5 for the first, 2 for the second."""
    config = tiny_config(
        tmp_path / "run", "CartPole-v1", advantage_gamma=0.5, return_scale=2.0, value_select=True
    )
    trainer = Trainer(config)
    assert isinstance(trainer.value_net, ValuePair)
    trainer._values = lambda rows: np.tile([1.0, 0.0], (len(rows), 1))
    obs = np.zeros((3, 4), dtype=np.float32)
    ones = np.ones(2, dtype=np.float32)
    episodes = [
        Episode(obs[:2], np.zeros(2, dtype=np.int64), ones, terminated=True),
        Episode(obs[:1], np.zeros(1, dtype=np.int64), np.array([2.0], dtype=np.float32), terminated=False),
    ]
    trainer._score_values(episodes)
    assert trainer.value_net.errors.isnan().all()  # untrained values are not scored
    trainer.updates = 1
    trainer._score_values(episodes)
    history = ((1 - 1.5) ** 2 + (1 - 1) ** 2 + (1 - 2.5) ** 2) / 3 / 2.0**2
    observation = (1.5**2 + 1**2 + 2**2) / 3 / 2.0**2
    assert trainer.value_net.errors.tolist() == pytest.approx([history, observation])
    assert trainer.value_net.chosen == 0
    trainer.close()


def recipe_sized(run_dir, env_id: str = "lightup/PressButton-v0", **overrides):
    """The tests' tiny config at the default recipe's sizes (8 envs x 32 steps, 32 updates of 64 windows,
    K 10, one block of width 32)."""
    sizes = dict(n_envs=8, rollout_steps=32, updates_per_round=32, batch_size=64, context_len=10, n_embd=32)
    return tiny_config(run_dir, env_id, n_layer=1, **sizes, **overrides)


def choices(run_dir) -> list[float]:
    return [r["train/value_choice"] for r in read_metrics(run_dir) if "train/value_choice" in r]


def test_a_game_that_needs_the_history_keeps_the_history_s_value(tmp_path):
    """PressButton hard mode (the right button moves with the presses made, which the observation does not
    show), the default recipe, seed 0: after its first rounds the run judges actions against the value of
    the history, whose fresh-episode error is the lower one."""
    config = recipe_sized(tmp_path / "run", env_options=("game_length=5", "hard_mode=true"))
    trainer = Trainer(config).learn(4096)
    picked = choices(trainer.run_dir)
    assert len(picked) == 16 and set(picked[4:]) == {0.0}
    errors = trainer.value_net.errors.tolist()
    assert errors[0] < errors[1]
    trainer.close()


def test_a_slippery_markov_task_takes_the_observation_s_one_step_value(tmp_path):
    """FrozenLake-v1 (slippery, its observation the whole state), the default recipe, seed 0: the one-step
    values of the observation pool every transition seen from a cell and predict fresh episodes' returns
    better than the history's TD(0.95) values, which chase the luck of single episodes."""
    trainer = Trainer(recipe_sized(tmp_path / "run", "FrozenLake-v1")).learn(4096)
    picked = choices(trainer.run_dir)
    assert len(picked) == 16 and set(picked[8:]) == {1.0}
    errors = trainer.value_net.errors.tolist()
    assert errors[1] < errors[0]
    trainer.close()


def test_the_value_errors_are_logged_once_scored_and_raise_no_alarm(tmp_path):
    """The running errors are NaN until the values have trained and met fresh episodes: a round before then
    logs neither (a NaN logged would read as a diverging update), and the doctor finds nothing non-finite
    in the run."""
    from lightup.doctor.alarms import check_run

    run = tmp_path / "run"
    Trainer(tiny_config(run, "CartPole-v1", value_select=True)).learn(256)
    rounds = [r for r in read_metrics(run) if "train/value_choice" in r]
    logged = [r for r in rounds if "train/value_error_history" in r]
    assert "train/value_error_history" not in rounds[0]  # the first round: nothing scored yet
    assert logged and all(np.isfinite(r["train/value_error_observation"]) for r in logged)
    assert not [a for a in check_run(run).alarms if a.name == "non-finite"]
