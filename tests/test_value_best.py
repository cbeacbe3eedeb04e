"""The best action's value (``value_best``, `lightup.training.advantage.ValuePair` with ``best``): which
observation spaces turn it on, that it leaves the other two values as they were, its max-backup targets
against hand-worked numbers, that the advantages take it exactly where the observation's value is chosen,
and that a run with it resumes exactly."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from tiny import tiny_config

from lightup.envs.adapters import adapt, finite_observations
from lightup.errors import LightupError
from lightup.training.advantage import ValuePair
from lightup.training.state import config_from_dict
from lightup.training.trainer import Trainer


class Spaced(gym.Env):
    """Observations of the given space; two actions; one-step episodes."""

    action_space = spaces.Discrete(2)

    def __init__(self, space: gym.Space):
        self.observation_space = space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, True, False, {}


BOX = spaces.Box(-1.0, 1.0, (3,), np.float32)


@pytest.mark.parametrize(
    ("space", "finite"),
    [
        (spaces.Discrete(5), True),
        (spaces.Discrete(3, start=-1), True),
        (spaces.MultiDiscrete([2, 3]), True),
        (spaces.MultiBinary(4), True),
        (spaces.Tuple((spaces.Discrete(32), spaces.Discrete(11), spaces.Discrete(2))), True),  # Blackjack's
        (spaces.Dict({"cell": spaces.Discrete(4), "keys": spaces.MultiBinary(2)}), True),
        (BOX, False),
        (spaces.Box(0, 5, (4,), np.int64), False),  # integers read as numbers, not as a table's states
        (spaces.Tuple((spaces.Discrete(3), BOX)), False),
        (spaces.Dict({"cell": spaces.Discrete(4), "position": BOX}), False),
    ],
)
def test_finite_observation_spaces_are_told_from_those_with_a_box(space, finite):
    adapted, _ = adapt(Spaced(space))
    assert finite_observations(adapted) is finite
    assert finite_observations(gym.wrappers.RecordEpisodeStatistics(adapted)) is finite  # under wrappers


def test_the_default_turns_it_on_for_finite_observations_only_and_gives_way(tmp_path):
    def made(env_id, **overrides):
        trainer = Trainer(tiny_config(tmp_path / f"{env_id}{len(overrides)}", env_id, **overrides))
        trainer.close()
        return trainer

    lake = made("FrozenLake-v1")
    assert lake.config.value_best is True and len(lake.value_net.nets) == 3
    cart = made("CartPole-v1")
    assert cart.config.value_best is False and len(cart.value_net.nets) == 2
    assert made("FrozenLake-v1", value_select=False).config.value_best is False
    assert made("FrozenLake-v1", advantage_baseline="value").config.value_best is False
    assert made("FrozenLake-v1", advantage_beta=0.0).config.value_best is False
    assert made("FrozenLake-v1", preset="cartpole").config.value_best is False
    assert made("CartPole-v1", value_best=True).config.value_best is True  # asked for: on a Box too
    with pytest.raises(LightupError, match="--value-best needs --value-select") as err:
        made("FrozenLake-v1", value_best=True, value_select=False)
    assert "\n" not in str(err.value)


def test_the_cli_refuses_it_without_the_value_it_sits_beside_in_one_line_and_writes_nothing(tmp_path, capsys):
    from lightup import cli

    run = tmp_path / "run"
    argv = [
        "train",
        "FrozenLake-v1",
        "--value-best",
        "True",
        "--value-select",
        "False",
        "--run-dir",
        str(run),
    ]
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--value-best needs --value-select" in err
    assert not run.exists() and list(tmp_path.iterdir()) == []


def test_a_third_value_leaves_the_first_two_and_torch_s_stream_as_they_were():
    torch.manual_seed(3)
    pair = ValuePair(n_in=8, obs_dim=2, n_out=4, hidden=16)
    after_pair = torch.get_rng_state()
    torch.manual_seed(3)
    trio = ValuePair(n_in=8, obs_dim=2, n_out=4, hidden=16, best=True)
    assert torch.equal(torch.get_rng_state(), after_pair)
    for i in (0, 1):
        for a, b in zip(pair.nets[i].parameters(), trio.nets[i].parameters(), strict=True):
            assert torch.equal(a, b)
    torch.manual_seed(4)
    other = ValuePair(n_in=8, obs_dim=2, n_out=4, hidden=16, best=True)
    assert not torch.equal(other.nets[2][0].weight, trio.nets[2][0].weight)  # its weights follow the seed
    rows = torch.randn(5, 8)
    out = trio(rows)
    assert out.shape == (5, 3, 4) and torch.equal(out[:, :2], pair(rows))
    history_changed = rows.clone()
    history_changed[:, 2:] += 1.0
    assert torch.equal(trio(history_changed)[:, 2], out[:, 2])  # the observation alone


def test_targets_bootstrap_from_each_value_and_the_best_action_s_q():
    """Rows of (value, Q of 2 actions) for each net: the first two bootstrap from their values (1, 2; 4, 5),
    the third from its larger Q (9, then 0.5 over -3)."""
    out = torch.tensor([[[1.0, 5.0, 6.0], [2.0, 7.0, 8.0], [3.0, 9.0, -1.0]]])
    out = torch.cat([out, torch.tensor([[[4.0, 0.0, 0.0], [5.0, 0.0, 0.0], [6.0, -3.0, 0.5]]])])
    assert ValuePair(3, 1, 3, 4, best=True).bootstrap(out).tolist() == [[1.0, 2.0, 9.0], [4.0, 5.0, 0.5]]
    assert ValuePair(3, 1, 3, 4).bootstrap(out[:, :2]).tolist() == [[1.0, 2.0], [4.0, 5.0]]


def test_the_advantages_take_the_best_action_s_q_only_where_the_observation_s_value_is_chosen():
    trio, pair = ValuePair(3, 1, 3, 4, best=True), ValuePair(3, 1, 3, 4)
    assert trio.advantage_index == 0  # nothing scored: the history's
    for values in (trio, pair):
        values.score(torch.tensor([0.5, 0.2]))
    assert trio.advantage_index == 2 and pair.advantage_index == 1
    for values in (trio, pair):
        values.score(torch.tensor([0.0, 0.9]))
    assert trio.advantage_index == 0 and pair.advantage_index == 0


def test_one_step_targets_of_the_third_value_are_the_reward_plus_the_best_q_by_hand(tmp_path):
    """FrozenLake-v1 after one round: each stored step's third target is r + gamma max_a Q(s', a) of the
    third net (in return units), and the reward alone where the episode terminated."""
    trainer = Trainer(tiny_config(tmp_path / "run", "FrozenLake-v1")).learn(64)
    c, buffer = trainer.config, trainer.buffer
    buffer.bootstrap_value_targets(trainer._bootstrap_values, (c.advantage_lambda, 0.0, 0.0))
    targets = buffer._steps()["value_targets"]
    assert targets.shape[1] == 3
    at = 0
    for episode in buffer.episodes:
        obs = torch.from_numpy(episode.observations.astype(np.float32))
        with torch.no_grad():
            best_q = trainer.value_net.nets[2](obs)[:, 1:].amax(-1).double().numpy() * c.return_scale
        for t, reward in enumerate(episode.rewards.astype(np.float64)):
            last = t == episode.length - 1
            assert episode.terminated or not last  # FrozenLake's 100-step cut is not reached in 64 steps
            want = reward if last else reward + c.advantage_gamma * best_q[t + 1]
            assert targets[at + t, 2] == pytest.approx(want, rel=1e-5, abs=1e-6)
        at += episode.length
    trainer.close()


@pytest.mark.parametrize("chosen", [0, 1])
def test_the_policy_s_update_reads_the_third_value_only_where_it_is_chosen(tmp_path, chosen):
    """Two copies of a FrozenLake-v1 run, the third value's last layer changed in one: one update moves the
    policies apart exactly when the observation's value is chosen."""
    runs = []
    for k in range(2):
        trainer = Trainer(tiny_config(tmp_path / f"run{k}", "FrozenLake-v1")).learn(64)
        errors = [0.5, 0.1] if chosen else [0.1, 0.5]
        trainer.value_net.errors.copy_(torch.tensor(errors, dtype=torch.float64))
        if k:
            with torch.no_grad():
                trainer.value_net.nets[2][-1].weight.mul_(-3.0)
        trainer._update()
        runs.append(trainer)
    same = all(
        torch.equal(a, b)
        for a, b in zip(runs[0].policy.parameters(), runs[1].policy.parameters(), strict=True)
    )
    assert same is (chosen == 0)
    for trainer in runs:
        trainer.close()


def test_a_run_with_the_best_action_s_value_resumes_exactly(tmp_path):
    config = dict(checkpoint_every=128, total_steps=384)
    whole = Trainer(tiny_config(tmp_path / "whole", "FrozenLake-v1", **config)).learn()
    first = Trainer(tiny_config(tmp_path / "split", "FrozenLake-v1", **config)).learn(128)
    resumed = Trainer.load(first.run_dir).learn()
    assert len(resumed.value_net.nets) == 3
    for a, b in ((whole.policy, resumed.policy), (whole.value_net, resumed.value_net)):
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(v, w), k


def test_a_config_from_before_the_best_action_s_value_resumes_without_it(tmp_path):
    trainer = Trainer(tiny_config(tmp_path / "run", "FrozenLake-v1", value_best=False))
    import dataclasses

    saved = dataclasses.asdict(trainer.config)
    del saved["value_best"]
    assert config_from_dict(saved).value_best is False
    trainer.close()
