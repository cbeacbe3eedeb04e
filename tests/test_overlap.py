"""Overlapped rounds (``overlap``): the next round is collected in a worker thread during the updates."""

from __future__ import annotations

import signal

import torch
from tiny import tiny_config

from lightup.training.callbacks import Callback
from lightup.training.logger import read_metrics
from lightup.training.trainer import Trainer

BUDGET = 1_000  # 4 envs x 8 steps a round: 32 rounds, the last one cut to end at the budget


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.policy.state_dict().items()}


def test_overlapped_run_takes_the_same_steps_rounds_and_updates_as_the_sequential_one(tmp_path):
    runs = {}
    for overlap in (False, True):
        trainer = Trainer(tiny_config(tmp_path / str(overlap), overlap=overlap)).learn(BUDGET)
        runs[overlap] = trainer
        assert trainer.steps == BUDGET  # no round ahead collected past the budget
        logged = read_metrics(trainer.run_dir)
        assert [r["step"] for r in logged] == [32 * (i + 1) for i in range(31)] + [BUDGET]
    sequential, overlapped = runs[False], runs[True]
    assert (overlapped.rounds, overlapped.updates) == (sequential.rounds, sequential.updates)
    # every finished episode of every round reached the replay buffer
    assert overlapped.episodes == sequential.episodes == BUDGET  # PressButton: one step per episode
    # the rollout played a copy a round behind, so the runs differ
    assert any(not torch.equal(v, weights(sequential)[k]) for k, v in weights(overlapped).items())


def test_overlapped_runs_of_one_seed_end_with_the_same_weights(tmp_path):
    """The worker alone draws from torch's generator (dropout 0) and from the rollout's own numpy
    generator: the threads' timing does not change what either draws."""
    ends = [weights(Trainer(tiny_config(tmp_path / str(i), overlap=True)).learn(BUDGET)) for i in range(2)]
    for k, v in ends[0].items():
        assert torch.equal(v, ends[1][k]), k


class StopAt(Callback):
    """Asks the trainer to stop as a SIGINT would, after the round that passes ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_round(self, trainer, metrics) -> bool:
        if trainer.steps >= self.step:
            trainer._request_stop(signal.SIGINT, None)
        return True


def test_a_stopped_overlapped_run_keeps_the_round_ahead_and_resumes(tmp_path, capsys):
    config = tiny_config(tmp_path / "run", overlap=True, checkpoint_every=10_000)
    trainer = Trainer(config)
    trainer.learn(BUDGET, callbacks=[StopAt(300)])
    assert trainer.interrupted_by == signal.SIGINT
    # the round collected during the last updates counts: its steps and episodes, in the state saved
    assert trainer.steps == 320 + 32 and trainer.episodes == trainer.steps
    assert trainer.saved_at == trainer.steps
    resumed = Trainer.load(trainer.run_dir)
    resumed.learn(BUDGET)
    assert resumed.steps == BUDGET
    assert "did not come back" not in capsys.readouterr().err  # the envs were restored from the saved state
