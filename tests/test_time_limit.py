"""Envs that declare no time limit: every env the trainer makes is cut at ``--max-episode-steps``, so that a
policy that never reaches a terminal state cannot stall its rollouts or hang greedy evaluation; an env's own
limit stays as it is."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import user_envs  # noqa: E402,F401 (registers the users' envs)
from tiny import tiny_config  # noqa: E402

from lightup.training.envs import EnvSource  # noqa: E402
from lightup.training.trainer import Trainer  # noqa: E402


def steps_until_done(env, action: int, most: int = 10_000) -> tuple[int, bool, bool]:
    env.reset(seed=0)
    for n in range(1, most + 1):
        _, _, terminated, truncated, _ = env.step(action)
        if terminated or truncated:
            return n, terminated, truncated
    return most, False, False


def test_an_env_without_a_time_limit_is_cut_at_max_episode_steps():
    source = EnvSource(None, "user_envs:UserWalled-v0", {}, max_episode_steps=7)
    assert steps_until_done(source.make(), action=0) == (7, False, True)
    assert steps_until_done(source.make_eval(), action=0) == (7, False, True)


def test_a_callable_env_without_a_time_limit_is_cut_too():
    source = EnvSource(lambda: user_envs.WalledCorridorEnv(), "walled", {}, max_episode_steps=5)
    assert steps_until_done(source.make(), action=0) == (5, False, True)


def test_an_env_s_own_time_limit_stays():
    # UserCorridor-v0 is registered with 20 steps: a cap of 7 does not shorten it, nor one of 50 lengthen
    # it (left, right, left ... from cell 1 reaches neither end of a corridor of 40)
    for cap in (7, 50):
        env = EnvSource(None, "user_envs:UserCorridor-v0", {"length": 40}, max_episode_steps=cap).make()
        env.reset(seed=0)
        steps, done = 0, False
        while not done:
            _, _, terminated, truncated, _ = env.step(steps % 2)
            steps, done = steps + 1, terminated or truncated
        assert (steps, truncated) == (20, True)


def test_training_on_an_endless_env_finishes_and_stores_episodes_no_longer_than_the_cap(tmp_path):
    config = tiny_config(
        tmp_path / "run",
        "user_envs:UserWalled-v0",
        env_options=("length=30",),
        total_steps=256,
        max_episode_steps=12,
        eval_episodes=2,
    )
    trainer = Trainer(config).learn()
    lengths = [episode.length for episode in trainer.buffer.episodes]
    assert lengths and max(lengths) <= 12
    assert 12 in lengths  # walking a corridor of 30 from cell 1 in 12 steps is impossible: every one is cut
    assert trainer.config.max_episode_steps == 12
    # the agent file keeps the cut: its env ends where the run's did, not at the default 1000 steps
    from lightup.training.agent import Agent

    agent = Agent.load(trainer.run_dir)
    assert agent.max_episode_steps == 12
    assert steps_until_done(agent.make_env(), action=0) == (12, False, True)


def test_an_agent_file_without_the_cut_takes_the_default_and_a_bad_cut_is_one_line(tmp_path):
    import pytest

    from lightup.checkpoint import load_tensors, save_tensors
    from lightup.envs.time_limit import DEFAULT_MAX_EPISODE_STEPS
    from lightup.errors import LightupError
    from lightup.training.agent import AGENT_FILE, Agent

    trainer = Trainer(tiny_config(tmp_path / "run", "user_envs:UserWalled-v0", total_steps=64)).learn()
    tensors, meta = load_tensors(trainer.run_dir / AGENT_FILE)
    del meta["agent"]["max_episode_steps"]  # as an agent file written before the field was kept
    save_tensors(tmp_path / "old.safetensors", tensors, meta)
    assert Agent.load(tmp_path / "old.safetensors").max_episode_steps == DEFAULT_MAX_EPISODE_STEPS
    for bad in (0, 2.5, "12", 10**9):
        meta["agent"]["max_episode_steps"] = bad
        save_tensors(tmp_path / "bad.safetensors", tensors, meta)
        with pytest.raises(LightupError, match=f"agent max_episode_steps {bad!r} is "):
            Agent.load(tmp_path / "bad.safetensors")
