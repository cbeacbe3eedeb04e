"""The trainer trains the policy it is given: the doctor's ladder hands it the subject's model, and the
optimiser and the gradient clipping act on that model's parameters."""

from __future__ import annotations

import torch

from lightup.doctor.checks import Subject
from lightup.doctor.ladder import train_seed
from lightup.doctor.rungs import RUNGS
from lightup.doctor.subjects import DTFactory
from lightup.training.logger import read_metrics


def test_a_ladder_run_clips_and_logs_the_gradients_of_the_subject_s_own_model(tmp_path, monkeypatch):
    """Seed 0, the probe-action-reward rung's budget: every round logs the grad norm of the subject's model
    (non-zero), and ``clip_grad_norm_`` is handed exactly that model's parameters."""
    built = []

    def factory(obs_dim: int, act_dim: int, discrete: bool):
        built.append(DTFactory()(obs_dim, act_dim, discrete))
        return built[-1]

    clipped: list[set[int]] = []
    clip = torch.nn.utils.clip_grad_norm_

    def spy(parameters, *args, **kwargs):
        parameters = list(parameters)
        clipped.append({id(p) for p in parameters})
        return clip(parameters, *args, **kwargs)

    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", spy)
    rung = {r.name: r for r in RUNGS}["probe-action-reward"]
    torch.set_num_threads(1)
    train_seed(rung, Subject(factory, name="user"), seed=0, run_dir=tmp_path / "run")
    norms = [r["train/grad_norm"] for r in read_metrics(tmp_path / "run") if "train/grad_norm" in r]
    assert norms and min(norms) > 0.0, norms
    assert built, "the ladder never built the subject's model"
    trained = {id(p) for p in built[-1].parameters()}
    assert clipped and all(ids == trained for ids in clipped)
