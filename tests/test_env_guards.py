"""Envs and settings that made a run crash with a traceback, each now one line and exit 2 (or a run that
goes on): an env whose reset raises, a finite reward whose return is not, a discount below 1 whose
commanded returns-to-go overflowed, and a sampling temperature or return scale that divides into inf."""

from __future__ import annotations

import pytest
from tiny import TINY_FLAGS, user_cli


def one_line_error(done) -> str:
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    return lines[-1]


def test_an_env_whose_reset_raises_ends_with_one_line_and_exit_2(tmp_path):
    done = user_cli(["train", "user_envs:UserResetRaising-v0", "--total-steps", "64", *TINY_FLAGS], tmp_path)
    assert one_line_error(done) == (
        "error: env user_envs:UserResetRaising-v0 raised while playing episodes (RuntimeError: the simulator "
        "did not start)"
    )


def test_a_reward_past_the_returns_lightup_holds_ends_with_one_line_and_exit_2(tmp_path):
    done = user_cli(["train", "user_envs:UserHugeReward-v0", "--total-steps", "64", *TINY_FLAGS], tmp_path)
    line = one_line_error(done)
    assert "returned a reward of 1e+308, beyond the +-1e+12 lightup learns from" in line, line
    assert "TransformReward" in line


def test_a_discount_far_below_1_trains(tmp_path):
    """gamma 0.1: the commanded return-to-go is divided by it at every step (it was inf, then a NaN
    probability, within a CartPole episode)."""
    done = user_cli(["train", "CartPole-v1", "--gamma", "0.1", "--total-steps", "256", *TINY_FLAGS], tmp_path)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("flag", ["--temperature", "--return-scale"])
def test_a_divisor_that_overflows_float32_is_refused(flag, tmp_path):
    done = user_cli(["train", "CartPole-v1", flag, "1e-300", "--total-steps", "64"], tmp_path)
    assert one_line_error(done).startswith(f"error: {flag} must be a finite number >= 1e-06"), done.stderr
    assert not (tmp_path / "runs").exists()
