"""Envs that misbehave during training: raising, non-finite values, observations of the wrong shape."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from tiny import TINY_FLAGS, tiny_config, user_cli

from lightup.errors import EnvRaised, LightupError
from lightup.models.mlp import MLPConfig, ReturnConditionedMLP
from lightup.training.agent import EVAL_SEED, play_episodes
from lightup.training.config import TrainConfig
from lightup.training.trainer import Trainer


class Flaky(gym.Env):
    """Press the lit one of two buttons, twice; raises on a random share of steps, or gives bad values."""

    observation_space = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, fail_rate: float = 0.0, bad: str | None = None, render_mode=None):
        self.fail_rate, self.bad = fail_rate, bad

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.lit, self.t = int(self.np_random.integers(2)), 0
        return np.eye(2, dtype=np.float32)[self.lit], {}

    def step(self, action):
        if self.np_random.random() < self.fail_rate:
            raise RuntimeError("the button fell off")
        self.t += 1
        obs = np.eye(2, dtype=np.float32)[self.lit]
        reward = float(action == self.lit)
        if self.bad == "nan_reward":
            reward = float("nan")
        if self.bad == "inf_obs":
            obs = obs * np.inf
        if self.bad == "wrong_shape":
            obs = np.zeros(3, np.float32)
        return obs, reward, self.t >= 2, False, {}  # two presses, so a step's obs is seen


class FailsInEvaluation(Flaky):
    """Raises on every step of an episode reset on an evaluation seed (or reset after one without a seed)."""

    evaluating = False

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.evaluating = seed >= EVAL_SEED
        return super().reset(seed=seed, options=options)

    def step(self, action):
        if self.evaluating:
            raise RuntimeError("the scoreboard fell off")
        return super().step(action)


class HugeRewards(Flaky):
    """Pays 1e12 a right press: random episodes' returns pass the largest --return-scale (1e12)."""

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs, 1e12 * reward, terminated, truncated, info


def register(name: str, cls: type[gym.Env] = Flaky, **kwargs) -> str:
    env_id = f"test/{name}-v0"
    if env_id not in gym.registry:
        gym.register(env_id, entry_point=lambda **kw: cls(**{**kwargs, **kw}), max_episode_steps=5)
    return env_id


def config(tmp_path, env_id: str, **kw) -> TrainConfig:
    return tiny_config(tmp_path / "run", env_id, **{"seed": 1, "eval_every": 10_000, **kw})


def test_an_env_that_raises_now_and_then_loses_episodes_not_the_run(tmp_path):
    trainer = Trainer(config(tmp_path, register("Flaky", fail_rate=0.05))).learn(800)
    assert trainer.steps >= 800
    log = (trainer.run_dir / "env_errors.log").read_text()
    assert "RuntimeError: the button fell off" in log and "Traceback" in log
    assert Trainer.load(trainer.run_dir).steps == trainer.steps


def test_an_env_that_keeps_raising_stops_the_run_saying_where_it_can_start_again(tmp_path):
    """It raised before the first checkpoint, so none is written (one written mid-interval would not resume
    exactly: tests/test_resume.py); the message says the folder starts again with --resume."""
    with pytest.raises(
        LightupError, match=r"raised 3 times in a row .*RuntimeError: the button fell off"
    ) as e:
        Trainer(config(tmp_path, register("Broken", fail_rate=1.0), max_env_errors=3)).learn(800)
    assert "\n" not in str(e.value)
    assert str(e.value).endswith(
        f"no checkpoint yet: lightup train --resume {tmp_path / 'run'} starts it again"
    )
    assert (tmp_path / "run" / "env_errors.log").read_text().count("Traceback") == 3
    assert not (tmp_path / "run" / "checkpoint.safetensors").exists()


def test_an_env_that_raises_in_a_greedy_evaluation_stops_the_run_with_one_line_and_its_traceback(tmp_path):
    env_id = register("EvalFlaky", FailsInEvaluation)
    with pytest.raises(EnvRaised) as e:
        Trainer(config(tmp_path, env_id, eval_every=64, checkpoint_every=32)).learn(800)
    message = str(e.value)
    assert "\n" not in message
    run, log = re.escape(str(tmp_path / "run")), re.escape(str(tmp_path / "run" / "env_errors.log"))
    assert re.fullmatch(
        rf"env {re.escape(env_id)} raised in a greedy evaluation at step (\d+) \(RuntimeError: the "
        rf"scoreboard fell off\); traceback in {log}; checkpoint at step (\d+); resume with lightup train "
        rf"--resume {run}",
        message,
    ), message
    log = (tmp_path / "run" / "env_errors.log").read_text()
    assert "greedy evaluation" in log and "Traceback" in log and "the scoreboard fell off" in log
    assert isinstance(e.value.__cause__, RuntimeError)  # --debug shows the env's own traceback


def test_a_trainer_evaluated_before_it_trains_on_an_env_that_raises_names_the_env(tmp_path):
    trainer = Trainer(config(tmp_path, register("EvalFlakyUntrained", FailsInEvaluation)))
    with pytest.raises(EnvRaised, match=r"^env test/EvalFlakyUntrained-v0 raised while playing episodes "):
        trainer.evaluate()
    assert not (tmp_path / "run").exists()  # nothing written for a run that has not started


def test_an_env_that_raises_while_its_episodes_are_played_is_named_in_one_line():
    env = gym.make(register("EvalFlakyAlone", FailsInEvaluation))
    policy = ReturnConditionedMLP(MLPConfig(obs_dim=2, act_dim=2, hidden=8))
    with pytest.raises(EnvRaised, match=r"^env test/EvalFlakyAlone-v0 raised while playing episodes "):
        play_episodes(policy, env, seed=EVAL_SEED)
    assert play_episodes(policy, env, seed=0)  # the same env on a training seed plays on


def test_returns_past_the_largest_return_scale_train_at_that_scale(tmp_path):
    trainer = Trainer(config(tmp_path, register("Huge", HugeRewards))).learn(64)
    assert trainer.config.return_scale == 1e12 and trainer.steps >= 64


@pytest.mark.parametrize(
    "bad, message",
    [
        ("nan_reward", "non-finite reward"),
        ("inf_obs", "non-finite observation"),
        ("wrong_shape", r"observation of shape \(3,\), not the \(2,\) of its observation_space"),
    ],
)
def test_bad_env_values_stop_with_one_line(tmp_path, bad, message):
    with pytest.raises(LightupError, match=message) as e:
        Trainer(config(tmp_path, register(bad, bad=bad))).learn(100)
    assert "\n" not in str(e.value)


def test_sigkill_at_random_moments_always_leaves_a_loadable_checkpoint(tmp_path):
    """20 training runs killed with SIGKILL at random moments after their first checkpoint: each folder
    holds a checkpoint that loads, and the run resumes from it."""
    import random
    import signal
    import time

    from lightup.training.logger import read_metrics

    rng = random.Random(0)
    base = [
        sys.executable,
        "-m",
        "lightup.cli",
        "train",
        "lightup/PressButton-v0",
        "--total-steps",
        "10000000",
    ]
    flags = [
        "--quiet",
        "--no-tensorboard",
        "--checkpoint-every",
        "16",
        "--n-envs",
        "2",
        "--rollout-steps",
        "4",
    ]
    flags += [
        "--n-layer",
        "1",
        "--n-embd",
        "16",
        "--n-head",
        "2",
        "--updates-per-round",
        "2",
        "--eval-every",
        "64",
    ]
    trials, parallel = 20, 4
    for start in range(0, trials, parallel):
        procs = []
        for i in range(start, start + parallel):
            run_dir = tmp_path / f"run{i}"
            proc = subprocess.Popen([*base, *flags, "--run-dir", str(run_dir)], stderr=subprocess.PIPE)
            procs.append((run_dir, proc))
        for run_dir, proc in procs:
            deadline = time.time() + 120
            while not (run_dir / "checkpoint.safetensors").exists():
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.time() < deadline, "no checkpoint within 120 s"
                time.sleep(0.05)
        for run_dir, proc in procs:
            time.sleep(rng.uniform(0.0, 0.5))  # a random moment: mid-update, mid-rollout or mid-write
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stderr.close()
            trainer = Trainer.load(run_dir)  # a whole checkpoint, never a half-written one
            assert trainer.steps > 0
            read_metrics(run_dir)  # the metrics file stays readable (a torn last line is skipped)
            trainer.learn(trainer.steps + 8)  # and the run goes on from it
            assert trainer.steps >= 8


def test_train_on_an_env_that_raises_in_its_evaluation_ends_with_one_line_and_exit_2(tmp_path):
    run = tmp_path / "run"
    done = user_cli(
        ["train", "user_envs:UserRaising-v0", "--total-steps", "128", "--eval-every", "64", *TINY_FLAGS,
         "--run-dir", str(run)],
        tmp_path,
    )  # fmt: skip
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert re.fullmatch(
        r"error: env user_envs:UserRaising-v0 raised in a greedy evaluation at step \d+ \(RuntimeError: the "
        rf"scoreboard fell off\); traceback in {re.escape(str(run / 'env_errors.log'))}; .*",
        lines[-1],
    ), done.stderr


@pytest.mark.parametrize("agent", ["sb3-ppo", "dt-stacked"])
def test_a_bench_on_an_env_that_raises_names_the_run_in_one_line(tmp_path, agent):
    done = user_cli(
        ["bench", "--envs", "user_envs:UserRaising-v0", "--agents", agent, "--seeds", "1", "--budget", "256",
         "--workers", "1", "--quiet", "--out", str(tmp_path / "res")],
        tmp_path,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: {agent} on user_envs:UserRaising-v0 seed 0: env user_envs:UserRaising-v0 raised "
        "(RuntimeError: the scoreboard fell off); fix the env, then run the bench again with --resume"
    )


def test_a_bench_whose_env_raises_in_the_reports_random_play_says_the_runs_are_kept(tmp_path, monkeypatch):
    from lightup.bench import cli as bench_cli
    from lightup.bench.config import BenchConfig

    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    out = tmp_path / "res"
    config = BenchConfig(envs=("user_envs:UserRaising-v0",), agents=("sb3-ppo",), seeds=1, out=str(out))
    with pytest.raises(EnvRaised) as e:
        bench_cli._render(out, config, [], ["# header"])
    assert str(e.value) == (
        "env UserRaising-v0 raised while playing episodes (RuntimeError: the scoreboard fell off), in the "
        f"random play that scores the report; the runs are kept in {str(out / 'runs.jsonl')!r}: fix the env, "
        "then run the bench again with --resume (it runs nothing more and writes the report)"
    )
