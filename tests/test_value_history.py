"""The value net's view of past steps (``value_history``): its inputs against hand-worked rows, the buffer
and the trainer passing them on, and old checkpoints resuming without them."""

from __future__ import annotations

import dataclasses
from functools import partial

import numpy as np
import torch
from tiny import tiny_config

from lightup.training.advantage import history_inputs
from lightup.training.config import TrainConfig
from lightup.training.replay import Episode, EpisodeBuffer
from lightup.training.trainer import Trainer


def test_history_inputs_by_hand():
    """Two episodes of 3 and 2 steps, one number per observation, 2 discrete actions, 2 steps of history:
    each row is the observation, then per step back its observation, one-hot action and a 1, all 0 before
    the episode's first step (the first episode's steps never leak into the second's)."""
    obs = np.array([[10.0], [11.0], [12.0], [20.0], [21.0]])
    actions = np.array([0, 1, 1, 0, 1])
    t = np.array([0, 1, 2, 0, 1])  # each step's index within its episode
    rows = history_inputs(obs, actions, t, np.arange(5), history=2, n_actions=2)
    assert rows.dtype == np.float32 and rows.shape == (5, 1 + 2 * (1 + 2 + 1))
    expected = [
        # obs | 1 back: obs, action one-hot, flag | 2 back: obs, action one-hot, flag
        [10, 0, 0, 0, 0, 0, 0, 0, 0],
        [11, 10, 1, 0, 1, 0, 0, 0, 0],
        [12, 11, 0, 1, 1, 10, 1, 0, 1],
        [20, 0, 0, 0, 0, 0, 0, 0, 0],
        [21, 20, 1, 0, 1, 0, 0, 0, 0],
    ]
    assert rows.tolist() == expected
    # only the rows asked for, in the shape of the indices
    some = history_inputs(obs, actions, t, np.array([[4, 2], [0, 0]]), history=2, n_actions=2)
    assert some.shape == (2, 2, 9) and some.tolist() == [[expected[4], expected[2]], [expected[0]] * 2]


def test_history_inputs_of_continuous_actions_and_of_no_history():
    obs = np.array([[1.0, 2.0], [3.0, 4.0]], dtype=np.float32)
    actions = np.array([[0.5], [-0.5]], dtype=np.float32)
    rows = history_inputs(obs, actions, np.array([0, 1]), np.arange(2), history=1, n_actions=None)
    assert rows.tolist() == [[1, 2, 0, 0, 0, 0], [3, 4, 1, 2, 0.5, 1]]
    # history 0: the observation alone, as the value read it before it saw past steps
    alone = history_inputs(obs, actions, np.array([0, 1]), np.arange(2), history=0, n_actions=None)
    assert alone.dtype == np.float32 and np.array_equal(alone, obs)


def test_sampled_windows_and_bootstrapped_targets_read_the_history_inputs():
    """A buffer given ``value_inputs`` hands the value each step's history row at every real position of a
    window (0 at padding) and bootstraps its TD targets from the values of those rows."""
    h = 1
    buffer = EpisodeBuffer(4, value_gamma=1.0, value_inputs=partial(history_inputs, history=h, n_actions=3))
    for first, action in ((0.0, 2), (5.0, 1)):
        obs = np.array([[first], [first + 1], [first + 2]], dtype=np.float32)
        acts = np.full(3, action)
        buffer.add(Episode(obs, acts, np.ones(3, dtype=np.float32), terminated=False))
    batch = buffer.sample(64, 4, np.random.default_rng(0), 1.0, start_action=3)
    states, inputs, mask = batch["states"], batch["value_inputs"], batch["mask"]
    assert inputs.shape == (64, 4, 1 + h * (1 + 3 + 1))
    assert torch.equal(inputs[..., 0], states[..., 0]) and not inputs[~mask].any()
    later = mask & (states[..., 0] % 5 != 0)  # an episode's second or third step: one step back exists
    assert torch.equal(inputs[..., 1][later], states[..., 0][later] - 1) and inputs[..., 5][later].eq(1).all()

    seen = []
    buffer.bootstrap_value_targets(lambda rows: seen.append(rows) or rows[:, 1] * 0 + 10.0, lam=0.0)
    assert seen[0].shape == (6, 6) and seen[0][:, 0].tolist() == [0, 1, 2, 5, 6, 7]
    # TD(0) at gamma 1: one reward plus the next value 10; a cut episode's last step bootstraps its own
    assert buffer._steps()["value_targets"].tolist() == [11.0, 11.0, 11.0, 11.0, 11.0, 11.0]


def test_the_trainer_sizes_the_value_net_to_its_history(tmp_path):
    """CartPole-v1 (4 numbers, 2 actions), 3 steps back: 4 + 3 * (4 + 2 + 1) inputs; Q(s, a) as before."""
    config = tiny_config(tmp_path / "run", "CartPole-v1", value_history=3, advantage_baseline="policy")
    trainer = Trainer(config).learn(64)
    history, observation = trainer.value_net.nets  # the default's pair (ValuePair): the observation alone too
    assert history[0].in_features == 4 + 3 * 7 and history[-1].out_features == 1 + 2
    assert observation[0].in_features == 4 and observation[-1].out_features == 1 + 2
    assert trainer.updates > 0
    trainer.close()


def test_a_checkpoint_from_before_value_history_resumes_with_the_observation_alone(tmp_path):
    from lightup.checkpoint import load_tensors, save_tensors

    run = tmp_path / "run"
    trained = Trainer(tiny_config(run, "CartPole-v1", value_history=0, value_select=False)).learn(64)
    path = trained.save_checkpoint()
    tensors, meta = load_tensors(path)
    del meta["config"]["value_history"], meta["config"]["value_select"]
    save_tensors(path, tensors, meta)
    resumed = Trainer.load(run)
    assert resumed.config.value_history == 0 and resumed.value_net[0].in_features == 4
    assert torch.equal(resumed.value_net[0].weight, trained.value_net[0].weight)


def test_with_the_context_s_history_the_default_learns_a_game_the_observation_alone_cannot_judge(tmp_path):
    """PressButton hard mode, 3 presses of 2 buttons: the right button moves with the presses made, which the
    observation does not show. The default's Q baseline, reading the 9 steps before each one, solves it
    within 5,120 env steps (seed 1: 4,096; seeds 0 to 5: 2,048 to 5,120); reading the observation alone,
    the same run stays at 2 of 3 to the end of its 8,192 steps: the best a memoryless policy can do, where
    every advantage points."""
    game = dict(env_options=("game_length=3", "hard_mode=true"), total_steps=8192, eval_every=1024)
    common = dict(stop_at_threshold=True, quiet=True, tensorboard=False, threads=1, **game)
    config = TrainConfig(env_id="lightup/PressButton-v0", run_dir=str(tmp_path / "h"), **common)
    with_history = Trainer(config).learn()
    assert with_history.config.value_history == 9 and with_history.solved_at is not None
    assert with_history.solved_at <= 5120
    alone = dataclasses.replace(config, run_dir=str(tmp_path / "o"), value_history=0, value_select=False)
    alone = Trainer(alone).learn()
    assert alone.solved_at is None and alone.last_eval == 2.0


def test_rows_kept_for_every_step_equal_rows_built_per_batch(monkeypatch):
    """The buffer keeps every step's value row between two `add`s where they fit (VALUE_ROWS_KEPT), else
    builds a batch's own and bootstraps in chunks: the same numbers either way."""
    import lightup.training.replay as replay

    def batch(kept: int):
        monkeypatch.setattr(replay, "VALUE_ROWS_KEPT", kept)
        buffer = EpisodeBuffer(
            4, value_gamma=1.0, value_inputs=partial(history_inputs, history=3, n_actions=2)
        )
        rng = np.random.default_rng(0)
        for length in (5, 2, 7):
            obs = rng.normal(size=(length, 3)).astype(np.float32)
            buffer.add(Episode(obs, rng.integers(0, 2, length), np.ones(length, np.float32), terminated=True))
        out = buffer.sample(32, 4, np.random.default_rng(1), 1.0, start_action=2)["value_inputs"]
        rows = buffer._steps()["value_rows"]
        buffer.bootstrap_value_targets(lambda r: r.sum(-1).astype(np.float64), lam=0.5)
        return out, rows, buffer._steps()["value_targets"]

    kept, rows, targets = batch(1 << 24)
    monkeypatch.setattr(replay, "VALUE_CHUNK", 4)  # not kept: the bootstrap reads the values in chunks
    built, none, chunked = batch(0)
    assert rows is not None and rows.shape == (14, 3 + 3 * (3 + 2 + 1)) and none is None
    assert torch.equal(kept, built) and np.array_equal(targets, chunked)


def test_an_episode_whose_rows_did_not_fit_is_kept_once_older_ones_leave(monkeypatch):
    """Each episode's value rows are built once, as it comes in, while all of them fit in VALUE_ROWS_KEPT
    numbers; one that did not fit is built once older episodes have left, and the rows kept are then every
    step's, as if built at once."""
    import lightup.training.replay as replay

    width = 3 + (3 + 2 + 1)  # one step back: observation, its action one-hot, a 1
    monkeypatch.setattr(replay, "VALUE_ROWS_KEPT", 12 * width)
    inputs = partial(history_inputs, history=1, n_actions=2)
    buffer = EpisodeBuffer(2, value_gamma=1.0, value_inputs=inputs)
    rng = np.random.default_rng(0)
    for length in (8, 6):
        obs = rng.normal(size=(length, 3)).astype(np.float32)
        buffer.add(Episode(obs, rng.integers(0, 2, length), np.ones(length, np.float32), terminated=True))
    assert not buffer._rows_kept()  # 8 + 6 steps of rows: past the limit of 12
    obs = rng.normal(size=(4, 3)).astype(np.float32)
    buffer.add(Episode(obs, rng.integers(0, 2, 4), np.ones(4, np.float32), terminated=True))  # the 8 leave
    assert buffer._rows_kept()
    steps = buffer._steps()
    want = inputs(steps["observations"], steps["actions"], steps["t"], np.arange(10))
    assert np.array_equal(steps["value_rows"], want) and buffer._rows_size == 10 * width
