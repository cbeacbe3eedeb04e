"""Bad files in a run folder: each is refused in one line (exit code 2 from a command) and changes nothing.

A user's own file where a run writes, a config.json without its env, a checkpoint whose optimizer, random
state, replay or weights were altered, a safetensors header of a million tensors, a policy file whose
config dwarfs its weights, integers past a float in metrics.jsonl, a folder named like a run's file, and a
video that would not fit in memory.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from tiny import tiny_config

from lightup import cli
from lightup.errors import LightupError

TRAIN = ["--total-steps", "64", "--quiet", "--no-tensorboard"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tiny run with a checkpoint (and its optimizers' state) and an agent file."""
    from lightup.training.trainer import Trainer

    run = tmp_path_factory.mktemp("bad_files") / "run"
    trainer = Trainer(tiny_config(run, total_steps=64))
    trainer.learn()
    trainer.close()
    assert (run / "checkpoint.safetensors").is_file() and (run / "policy.safetensors").is_file()
    return run


@pytest.fixture
def run(trained, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(trained, copy)
    return copy


def digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by its hash (a folder by its name): to see that nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.rglob("*"))
    }


def one_line_error(argv: list[str], capsys) -> str:
    capsys.readouterr()
    code = cli.main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), (code, out, err)
    assert "Traceback" not in out + err
    return lines[0]


def alter(path: Path, meta: Callable[[dict], None] | None = None, tensors=None) -> None:
    """Rewrite the lightup file ``path`` with its metadata / tensors changed in place."""
    found = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        doc = json.loads(f.metadata()["lightup"])
    if meta is not None:
        meta(doc)
    if tensors is not None:
        tensors(found)
    save_file(found, str(path), metadata={"lightup": json.dumps(doc)})


# --- 1. a user's own file where a run writes; 8. a folder named like a run's file ---


@pytest.mark.parametrize("name", ["policy.safetensors", "report.html", "env_errors.log"])
def test_train_does_not_write_over_a_users_file(tmp_path, name, capsys):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / name).write_text("my own file\n")
    before = digest(folder)
    error = one_line_error(["train", "lightup/PressButton-v0", *TRAIN, "--run-dir", str(folder)], capsys)
    assert name in error and "did not write" in error
    assert digest(folder) == before


@pytest.mark.parametrize("name", ["metrics.jsonl", "env_errors.log"])
def test_a_folder_named_like_a_run_file_is_refused(tmp_path, name, capsys):
    folder = tmp_path / "dd"
    (folder / name).mkdir(parents=True)
    before = digest(folder)
    error = one_line_error(["train", "lightup/PressButton-v0", *TRAIN, "--run-dir", str(folder)], capsys)
    assert name in error and "is a folder" in error
    assert digest(folder) == before


# --- 2. a config.json without its env ---


def test_a_config_without_env_id_is_refused(run, capsys):
    (run / "checkpoint.safetensors").unlink()
    (run / "policy.safetensors").unlink()
    config = json.loads((run / "config.json").read_text())
    del config["env_id"]
    (run / "config.json").write_text(json.dumps(config))
    before = digest(run)
    error = one_line_error(["train", "--resume", str(run), *TRAIN], capsys)
    assert "'env_id'" in error
    assert digest(run) == before


# --- 3. the optimizers' settings and state ---


def group(key: str, value, which: str = "optimizer") -> Callable[[dict], None]:
    def change(meta: dict) -> None:
        meta[which]["param_groups"][0][key] = value

    return change


@pytest.mark.parametrize(
    "change, message",
    [
        (group("amsgrad", True), "amsgrad"),
        (group("amsgrad", True, "alpha_optimizer"), "amsgrad"),
        (group("maximize", True), "maximize"),
        (group("betas", [0.9]), "betas"),
        (group("betas", "x"), "betas"),
        (group("weight_decay", "x"), "weight_decay"),
        (group("eps", -1.0), "eps"),
        (group("lr", -1.0), "lr"),
        (group("lr", float("nan")), "lr"),
        (group("lr", "x", "alpha_optimizer"), "lr"),
        (lambda m: m["optimizer"].update(scalars={"0": {"exp_avg": 5}}), "exp_avg"),
    ],
)
def test_an_altered_optimizer_is_refused(run, change, message):
    from lightup.training.trainer import Trainer

    alter(run / "checkpoint.safetensors", meta=change)
    before = digest(run)
    with pytest.raises(LightupError, match="optimizer") as err:
        Trainer.load(run)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert digest(run) == before


def test_an_altered_optimizer_stops_a_resume_in_one_line(run, capsys):
    alter(run / "checkpoint.safetensors", meta=group("amsgrad", True))
    before = digest(run)
    error = one_line_error(["train", "--resume", str(run), "--total-steps", "128", "--quiet"], capsys)
    assert "optimizer settings" in error and "differ from the run's config" in error
    assert digest(run) == before


def test_an_unaltered_checkpoint_still_loads(run):
    from lightup.training.trainer import Trainer

    Trainer.load(run).close()


# --- 9. random state and replay lengths past their types; 10. finite but huge weights ---


def set_tensor(name_part: str, make: Callable[[torch.Tensor], torch.Tensor]):
    def change(tensors: dict) -> None:
        name = next(k for k in tensors if name_part in k)
        tensors[name] = make(tensors[name])

    return change


def huge_length(t: torch.Tensor) -> torch.Tensor:
    out = t.clone()
    out[0] = 2**62
    return out


@pytest.mark.parametrize(
    "meta, tensors, message",
    [
        (lambda m: m["rng_numpy"]["state"].update(state=10**4000), None, "OverflowError"),
        (lambda m: m["rng_numpy"]["state"].update(state=-5), None, "OverflowError"),
        (None, set_tensor("buffer.lengths", huge_length), "episode lengths go past"),
        (None, set_tensor("model.", lambda t: torch.full_like(t, 3e38)), "not finite"),
    ],
)
def test_numbers_past_their_types_are_refused(run, meta, tensors, message, capsys):
    alter(run / "checkpoint.safetensors", meta=meta, tensors=tensors)
    (run / "policy.safetensors").unlink()  # `inspect` reads the checkpoint
    before = digest(run)
    for argv in (["inspect", str(run)], ["train", "--resume", str(run), "--total-steps", "128", "--quiet"]):
        assert message in one_line_error(argv, capsys)
        assert digest(run) == before


# --- 4. integers past a float in metrics.jsonl ---


def test_huge_integers_in_metrics_read_as_infinities(run, capsys):
    from lightup.doctor.alarms import check_run
    from lightup.training.logger import read_metrics
    from lightup.training.recovery import prepare_folder

    with open(run / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": 10**400, "train/loss": 1.0}) + "\n")  # a step past int64: skipped
        f.write(json.dumps({"step": 60, "train/entropy": 10**400, "eval/mean_reward": -(10**400)}) + "\n")
    records = read_metrics(run)
    assert records[-1]["train/entropy"] == float("inf") and records[-1]["eval/mean_reward"] == float("-inf")
    assert all(r["step"] < 2**63 for r in records)
    check_run(run)  # no OverflowError
    last_eval = prepare_folder(run, 10**6, ()).last_eval  # no OverflowError; an infinity is no eval
    assert last_eval is None or abs(last_eval) < 1e9
    capsys.readouterr()
    assert cli.main(["report", str(run), "--out", str(run.parent / "r.html")]) == 0


# --- 5. a safetensors header of too many tensors ---


def test_a_header_of_too_many_tensors_is_refused_before_parsing(tmp_path):
    from lightup.checkpoint import MAX_TENSORS, load_tensors

    entries = {
        f"t{i}": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]} for i in range(MAX_TENSORS + 1)
    }
    header = json.dumps(entries).encode()
    path = tmp_path / "checkpoint.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    before = path.read_bytes()
    with pytest.raises(LightupError, match=f"declares {MAX_TENSORS + 1:,} tensors"):
        load_tensors(path)
    path.write_bytes(struct.pack("<Q", 10**15))
    with pytest.raises(LightupError, match="declares a header of"):
        load_tensors(path)
    assert len(before) > 0


# --- 6. a policy file whose model config dwarfs its weights ---


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("n_layer", 100_000, "does not fit the model"),
        ("n_embd", 10**9, "does not fit the model"),
        ("context_len", 10**12, "context_len"),
    ],
)
def test_a_policy_config_bigger_than_its_weights_is_refused(run, key, value, message):
    from lightup import Agent
    from lightup.models import load_policy

    path = run / "policy.safetensors"
    alter(path, meta=lambda m: m["config"].update({key: value}))
    before = digest(run)
    for load in (load_policy, Agent.load):
        with pytest.raises(LightupError, match=message):
            load(path)
    assert digest(run) == before


# --- 7. a video that would not fit in memory ---


def test_frames_past_the_budget_are_refused_up_front():
    import gymnasium as gym

    from lightup.viz.watch import check_frames_fit

    env = gym.make("CartPole-v1", render_mode="rgb_array")
    try:
        with pytest.raises(LightupError, match="lower --episodes or --max-steps"):
            check_frames_fit(env, 1000, 1_000_000, 0, 1000)
        check_frames_fit(env, 1, 20, 0, 1000)  # a short video fits
    finally:
        env.close()
