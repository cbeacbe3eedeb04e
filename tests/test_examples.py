"""The examples run as a user runs them (a subprocess each, on a tiny budget), so CI keeps them working."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tiny import tiny_config

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_custom_env_trains_a_new_env_class_and_plays_the_loaded_agent(tmp_path):
    out = run("custom_env.py", "--steps", "128", "--run-dir", str(tmp_path / "run"))
    assert "env steps: 128" in out and "loaded agent's mean return on 20 new episodes" in out
    assert (tmp_path / "run" / "policy.safetensors").is_file()


def test_custom_env_fails_when_it_falls_short_of_its_target(tmp_path):
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "custom_env.py"), "--steps", "64", "--target", "4.1"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 1 and "below the target 4.1" in done.stderr


def test_custom_policy_passes_the_doctor_s_static_checks_and_trains():
    out = run("custom_policy.py", "--steps", "128")
    assert "doctor: all static checks pass" in out and "trained GRUPolicy for 128 env steps" in out


def test_play_agent_plays_a_run_folder(tmp_path):
    from lightup.training.trainer import Trainer

    trainer = Trainer(tiny_config(tmp_path / "run")).learn(64)
    out = run("play_agent.py", str(trainer.run_dir), "--episodes", "3", "--command", "1")
    assert out.startswith("lightup/PressButton-v0: commanded 1, returns [")
    out = run("play_agent.py", "--steps", "64", "--episodes", "2")
    assert "lightup/PressButton-v0: commanded" in out
