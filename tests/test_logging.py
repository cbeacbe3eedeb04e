"""The run's logs mean what their names say: SB3's ``rollout/ep_rew_mean`` and ``rollout/ep_len_mean`` are
means over the last 100 finished episodes, ``time/fps`` is env steps over wall time since learning began,
TensorBoard's HParams holds the config, and ``--track`` writes a W&B run (tested offline)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from lightup import cli
from lightup.training.config import TrainConfig
from lightup.training.logger import WINDOW, EpisodeWindow, read_metrics
from lightup.training.trainer import Trainer


def test_the_window_is_the_last_100_episodes_by_hand():
    window = EpisodeWindow()
    assert window.metrics() == {}
    returns = [float(i) for i in range(150)]  # episode i returns i, lasts i % 7 + 1 steps, commanded 2i
    for i, ret in enumerate(returns):
        window.add(ret, i % 7 + 1, 2 * ret)
        if i == 9:  # fewer than 100 so far: the mean of all of them, 0..9
            assert window.metrics()["rollout/ep_rew_mean"] == 4.5
    # episodes 50..149: returns 50..149 average 99.5; lengths: 14 whole cycles of seven (2..7, 1: 28 steps
    # each, 392) from episode 50 to 147, then episodes 148, 149 last 2 and 3 steps: 397 over 100 episodes
    assert window.metrics() == {
        "rollout/ep_rew_mean": 99.5,
        "rollout/ep_len_mean": 3.97,
        "rollout/commanded_return": 199.0,
    }
    again = EpisodeWindow()
    again.restore(window.state())
    assert again.metrics() == window.metrics() and len(again.rows) == WINDOW
    with pytest.raises(ValueError, match="episode window of shape"):
        again.restore(np.zeros((101, 3)))


FINISHED: list[tuple[int, float]] = []  # (env instance, return) of every episode, in the order they end


class NoisyCorridor(gym.Env):
    """Three steps an episode, each a reward drawn from the env's own generator: known returns, all
    different, recorded as each episode ends."""

    observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.ret = 0, 0.0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        reward = float(self.np_random.uniform(-1, 1))
        self.t, self.ret = self.t + 1, self.ret + reward
        if self.t == 3:
            FINISHED.append((id(self), self.ret))
        return np.zeros(1, np.float32), reward, self.t == 3, False, {}


def test_logged_episode_means_are_sb3s_100_episode_window(tmp_path):
    FINISHED.clear()
    config = TrainConfig(
        env_id="NoisyCorridor", total_steps=600, n_envs=1, rollout_steps=30, updates_per_round=1,
        return_scale=1.0, eval_every=10**6, eval_episodes=1, run_dir=str(tmp_path / "run"), quiet=True,
        tensorboard=False,
    )  # fmt: skip
    start = time.perf_counter()
    Trainer(config, env=NoisyCorridor).learn()
    elapsed = time.perf_counter() - start
    records = read_metrics(tmp_path / "run")
    # the rollout env is the instance that played most; evaluation's episode came after the last record
    rollout_env = max({e for e, _ in FINISHED}, key=lambda e: sum(x == e for x, _ in FINISHED))
    returns = [r for e, r in FINISHED if e == rollout_env]
    assert len(returns) == 200
    seen = 0
    for record in records:
        if "rollout/ep_rew_mean" not in record:
            continue
        assert record["rollout/ep_len_mean"] == 3.0
        # the episodes finished by this record: the smallest count from the last one whose window matches
        windows = {n: np.mean(returns[max(0, n - WINDOW) : n]) for n in range(seen, len(returns) + 1)}
        matches = [n for n, mean in windows.items() if n and abs(mean - record["rollout/ep_rew_mean"]) < 1e-4]
        assert matches, record
        seen = matches[0]
    assert seen == 200  # the last record: the last 100 of all 200 episodes
    # time/fps: every step so far over the wall time since learn() began, not the last round's
    last = records[-1]
    rounds = sum(r["time/rollout_s"] + r["time/update_s"] for r in records)
    assert 600 / elapsed <= last["time/fps"] <= 600 / rounds


def test_tensorboard_holds_the_hyperparameters(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    run = tmp_path / "run"
    argv = ["train", "lightup/PressButton-v0", "--total-steps", "128", "--n-envs", "2", "--lr", "0.002"]
    assert cli.main([*argv, "--eval-episodes", "2", "--quiet", "--run-dir", str(run)]) == 0
    events = EventAccumulator(str(run))
    events.Reload()
    content = events.PluginTagToContent("hparams")
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["lr"].number_value == 0.002 and hparams["env_id"].string_value == "lightup/PressButton-v0"
    assert hparams["command.kind"].string_value == "best"  # filled in by the recipe
    experiment = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    tags = {m.name.tag for m in experiment.metric_infos}
    assert tags == {"eval/mean_reward", "rollout/ep_rew_mean"}
    assert {"eval/mean_reward", "rollout/ep_rew_mean"} <= set(events.Tags()["scalars"])


def test_track_writes_an_offline_wandb_run_with_the_config_and_metrics(tmp_path):
    env = dict(os.environ, WANDB_MODE="offline", WANDB_DIR=str(tmp_path), WANDB_SILENT="true")
    argv = [
        "train",
        "lightup/PressButton-v0",
        "--total-steps",
        "128",
        "--n-envs",
        "2",
        "--eval-episodes",
        "2",
    ]
    argv += ["--quiet", "--no-tensorboard", "--track", "--wandb-project", "lightup-test", "--seed", "4242"]
    cmd = [sys.executable, "-m", "lightup.cli", *argv, "--run-dir", str(tmp_path / "run")]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    data = runs[0].read_bytes()  # wandb's own record format: protobufs, whose strings are stored as they are
    for text in (
        "lightup/PressButton-v0",
        "4242",
        "advantage_beta",
        "rollout/ep_rew_mean",
        "eval/mean_reward",
    ):
        assert text.encode() in data, text
    assert b"lightup-test" in data


def test_track_without_wandb_says_which_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if it were not installed
    assert cli.main(["train", "--track", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err == "error: --track needs wandb: pip install 'lightup[wandb]'\n"
    assert not Path(tmp_path / "run").exists()
