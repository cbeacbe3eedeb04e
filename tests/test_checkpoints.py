"""Checkpoints: identical outputs after a round trip, no code run from files, one-line errors."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from lightup.errors import LightupError
from lightup.models import (
    DecisionTransformer,
    DTConfig,
    MLPConfig,
    ReturnConditionedMLP,
    load_policy,
    load_weights,
    save_policy,
)


def make(kind: str, **kw):
    torch.manual_seed(0)
    if kind == "mlp":
        return ReturnConditionedMLP(MLPConfig(obs_dim=3, act_dim=2, **kw))
    return DecisionTransformer(DTConfig(obs_dim=3, act_dim=2, context_len=4, layout=kind, **kw))


def inputs():
    g = torch.Generator().manual_seed(0)
    return (
        torch.randn(2, 4, generator=g),
        torch.randn(2, 4, 3, generator=g),
        torch.randint(0, 3, (2, 4), generator=g),
        torch.arange(4).repeat(2, 1),
        torch.ones(2, 4, dtype=torch.bool),
    )


@pytest.mark.parametrize("kind", ["stacked", "interleaved", "mlp"])
def test_save_and_load_give_identical_outputs(tmp_path, kind):
    model = make(kind).eval()
    path = tmp_path / "policy.safetensors"
    save_policy(model, path)
    loaded = load_policy(path).eval()
    assert type(loaded) is type(model) and loaded.config == model.config
    with torch.no_grad():
        assert torch.equal(model(*inputs()), loaded(*inputs()))
    other = make(kind)
    torch.nn.init.normal_(other.head.weight)
    load_weights(other, path)
    with torch.no_grad():
        assert torch.equal(model(*inputs()), other.eval()(*inputs()))


class _Payload:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_loading_a_malicious_pickle_runs_nothing(tmp_path):
    from lightup.training.trainer import Trainer

    marker = tmp_path / "pwned"
    evil = tmp_path / "policy.safetensors"
    evil.write_bytes(pickle.dumps({"model": _Payload(str(marker))}))
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(evil.read_bytes())
    torch_file = tmp_path / "model.pt"
    torch.save({"x": _Payload(str(marker))}, torch_file)  # a torch.save file with a payload, too
    for load in (
        lambda: load_policy(evil),
        lambda: load_weights(make("stacked"), evil),
        lambda: Trainer.load(run),
        lambda: load_policy(torch_file),
    ):
        with pytest.raises(LightupError) as err:
            load()
        assert "\n" not in str(err.value)
    assert not marker.exists()


def test_config_mismatch_names_the_difference(tmp_path):
    path = tmp_path / "policy.safetensors"
    save_policy(make("stacked"), path)
    with pytest.raises(LightupError, match=r"layout: file 'stacked' vs model 'interleaved'"):
        load_weights(make("interleaved"), path)
    with pytest.raises(LightupError, match="holds a DecisionTransformer, not a ReturnConditionedMLP"):
        load_weights(make("mlp"), path)


def _rewrite_config(src, dst, **changes):
    """Copy a checkpoint with its metadata's model config edited: a crafted file, the weights unchanged."""
    import json

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(src), framework="pt") as f:
        meta = json.loads(f.metadata()["lightup"])
    meta["config"].update(changes)
    save_file(load_file(str(src)), str(dst), metadata={"lightup": json.dumps(meta)})


@pytest.mark.parametrize("kind", ["stacked", "mlp"])
def test_a_crafted_config_of_huge_sizes_fails_before_allocating(tmp_path, kind):
    """A width of 2**20 would ask for terabytes; the config is checked against the file's tensors first."""
    import resource

    path, crafted = tmp_path / "policy.safetensors", tmp_path / "crafted.safetensors"
    save_policy(make(kind), path)
    field = "hidden" if kind == "mlp" else "n_embd"
    _rewrite_config(path, crafted, **{field: 2**20})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(LightupError, match="does not fit the model it describes") as err:
        load_policy(crafted)
    assert "\n" not in str(err.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing big


def test_load_weights_rejects_config_keys_the_model_does_not_know(tmp_path):
    path, crafted = tmp_path / "policy.safetensors", tmp_path / "crafted.safetensors"
    save_policy(make("stacked"), path)
    _rewrite_config(path, crafted, rotary=True)
    with pytest.raises(LightupError, match="fields this model does not have: 'rotary'"):
        load_weights(make("stacked"), crafted)


def test_truncated_empty_foreign_and_missing_files_are_one_line_errors(tmp_path):
    good = tmp_path / "good.safetensors"
    save_policy(make("stacked"), good)
    data = good.read_bytes()
    cases = {
        "truncated": data[: len(data) // 2],
        "empty": b"",
        "garbage": b"\x00\x01not a checkpoint" * 10,
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(content)
        with pytest.raises(LightupError) as err:
            load_policy(path)
        assert "\n" not in str(err.value), name
    foreign = tmp_path / "foreign.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(foreign))
    with pytest.raises(LightupError, match="not a lightup checkpoint"):
        load_policy(foreign)
    with pytest.raises(LightupError, match="not found"):
        load_policy(tmp_path / "missing.safetensors")


def test_a_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    import lightup.checkpoint

    path = tmp_path / "policy.safetensors"
    save_policy(make("stacked"), path)
    before = path.read_bytes()

    def crash_mid_write(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(lightup.checkpoint, "save_file", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_policy(make("interleaved"), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["policy.safetensors"]  # no temporary file left
