"""The catalogue of bad inputs across the commands: each gets exit code 2 and one line on stderr that names
the problem and what to do; and fuzzed config flags and env options never escape as tracebacks."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from lightup import cli
from lightup.envs import parse_options
from lightup.errors import LightupError


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad")
    (root / "empty").mkdir()
    (root / "truncated").mkdir()
    (root / "truncated" / "checkpoint.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    (root / "foreign").mkdir()
    save_file({"weight": torch.zeros(2)}, str(root / "foreign" / "checkpoint.safetensors"))
    return root


# (argv with {root} for the folders above, what the one line must say)
CATALOGUE = [
    (["frobnicate"], "unknown command 'frobnicate'; choose one of: games, train"),
    (["train", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["train", "Pendulum-v1"], "Box action space; the trainer supports Discrete action spaces"),
    (["train", "--lr", "5"], "--lr is out of range: 5.0"),
    (["train", "--n-envs", "x"], "Error parsing --n-envs: invalid literal for int()"),
    (["train", "--advantage-beta", "x"], "Error parsing --advantage-beta: could not convert string to float"),
    (["train", "--context-len", "0"], "--context-len must be an integer >= 1, got 0"),
    (["train", "--n-envs", "0"], "--n-envs must be an integer >= 1, got 0"),
    (["train", "--no-such-flag", "3"], "bad arguments to `lightup train`"),
    (["train", "--layout", "x"], "--layout must be one of stacked, interleaved, got 'x'"),
    (["train", "--timestep-embedding", "maybe"], "--timestep-embedding must be one of True, False, got"),
    (["train", "--command.kind", "zz"], "--command.kind must be one of fixed, best, topk, got 'zz'"),
    (["train", "--n-embd", "30", "--n-head", "4"], "--n-embd (30) must be divisible by --n-head (4)"),
    (["train", "--temperature", "-1"], "--temperature is out of range"),
    (["train", "--gamma", "1.5"], "--gamma is out of range"),
    (["train", "--entropy-target-final", "2"], "--entropy-target-final must be from 0 to 1, got 2.0"),
    (["train", "--entropy-target", "x"], "Error parsing --entropy-target: could not convert string to float"),
    (["train", "--greedy-envs", "-1"], "--greedy-envs must be >= 0, got -1"),
    (["train", "--buffer-steps", "0"], "--buffer-steps must be an integer >= 1, got 0"),
    (["train", "--buffer-capacity", "0"], "--buffer-capacity must be an integer >= 1, got 0"),
    (["train", "--value-hidden", "0"], "--value-hidden must be an integer >= 1, got 0"),
    (["train", "LunarLander-v3", "--greedy-envs", "9"], "--greedy-envs must be from 0 to --n-envs (8)"),
    (
        ["train", "lightup/PressButton-v0", "--advantage-beta", "0", "--advantage-lambda", "0.9"],
        "needs advantage weighting",
    ),
    (["train", "--advantage-baseline", "q"], "--advantage-baseline must be one of value, policy, got 'q'"),
    (
        ["train", "lightup/PressButton-v0", "--advantage-beta", "0", "--advantage-baseline", "policy"],
        "policy needs advantage weighting",
    ),
    (["train", "--return-scale", "0"], "--return-scale must be > 0"),
    (["train", "lightup/PressButton-v0", "--env-options", "size=0"], "size must be an integer >= 2, got 0"),
    (["train", "lightup/PressButton-v0", "--env-options", "colour=red"], "unknown option 'colour'"),
    (["train", "--max-env-errors", "0"], "--max-env-errors must be an integer >= 1, got 0"),
    (["train", "--resume"], "--resume needs a run folder"),
    (["train", "--resume", "{root}/missing"], "run folder '{root}/missing' not found"),
    (["train", "--resume", "{root}/empty"], "checkpoint.safetensors' not found"),
    (["train", "--resume", "{root}/truncated"], "is not a readable lightup checkpoint"),
    (["train", "--resume", "{root}/foreign"], "is a safetensors file but not a lightup checkpoint"),
    (["play", "Pendulum-v1"], "Box action space"),
    (["doctor", "--rungs", "nope"], "unknown rung 'nope'; rungs: overfit-batch"),
    (["doctor", "--agent", "sb3:A2C"], "unknown agent 'sb3:A2C'"),
    (["doctor", "--policy", "no_such_module_xyz:make"], "cannot import module 'no_such_module_xyz'"),
    (["doctor", "--env", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["doctor", "--run", "{root}/empty"], "holds no metrics.jsonl"),
    (["doctor", "--env-budget", "0"], "--env-budget must be >= 1, got 0"),
    (["doctor", "--threads", "0"], "--threads must be >= 1, got 0"),
    (["doctor", "--lr", "2"], "--lr is out of range: 2.0"),
    (["bench", "--agents", "nope"], "unknown agent 'nope'"),
    (["bench", "--agent-seeds", "sb3-ppo=x"], "--agent-seeds 'sb3-ppo=x' must look like AGENT=N with N >= 1"),
    (["bench", "--agent-seeds", "nope=3"], "--agent-seeds 'nope=3' must look like AGENT=N"),
    (["bench", "--envs", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["bench", "--seeds", "abc"], "Error parsing --seeds"),
    (["report", "{root}/missing"], "run folder '{root}/missing' not found"),
    (["inspect", "{root}/empty"], "has no checkpoint.safetensors yet"),
    (["inspect", "{root}/foreign"], "is a safetensors file but not a lightup checkpoint"),
    (["watch", "{root}/missing"], "run folder '{root}/missing' not found"),
]


@pytest.mark.parametrize("argv, message", CATALOGUE, ids=[" ".join(a) for a, _ in CATALOGUE])
def test_bad_input_is_one_line_and_exit_2(folders, capsys, argv, message):
    argv = [a.format(root=folders) for a in argv]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    assert message.format(root=folders) in lines[0]


def test_bench_refuses_to_overwrite_earlier_results(tmp_path, capsys):
    out = tmp_path / "results"
    out.mkdir()
    (out / "runs.jsonl").write_text('{"seed": 0}\n')
    assert cli.main(["bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already holds bench results; remove it, pick another --out, or add --resume" in err
    assert sorted(p.name for p in out.iterdir()) == ["runs.jsonl"]
    assert (out / "runs.jsonl").read_text() == '{"seed": 0}\n'


def test_nothing_on_disk_changes_on_a_bad_resume(folders):
    before = (folders / "truncated" / "checkpoint.safetensors").read_bytes()
    assert cli.main(["train", "--resume", str(folders / "truncated")]) == 2
    assert (folders / "truncated" / "checkpoint.safetensors").read_bytes() == before
    assert sorted(p.name for p in (folders / "truncated").iterdir()) == ["checkpoint.safetensors"]


FLAGS = ["--lr", "--n-envs", "--batch-size", "--context-len", "--temperature", "--gamma", "--entropy-target"]
VALUES = st.one_of(
    st.integers(-5, 5).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(alphabet="abc-=.,0123456789", max_size=6),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(FLAGS), VALUES), max_size=3))
def test_fuzzed_train_flags_parse_or_fail_with_one_line(pairs):
    from lightup.training.cli import parse

    argv = [x for pair in pairs for x in pair]
    try:
        config = parse(argv)
    except LightupError as err:
        assert "\n" not in str(err)
    else:
        config.validate()  # whatever parses is in range


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["size", "game_length", "hard_mode", "fixed_light", "end_on_miss", "delay", "x"]),
            st.text(alphabet="-0123456789truefalsxyz.", max_size=5),
        ),
        max_size=3,
    ),
    st.sampled_from(["lightup/PressButton-v0", "lightup/RecallButton-v0"]),
)
def test_fuzzed_env_options_build_or_fail_with_one_line(pairs, env_id):
    from lightup.envs import make_env

    try:
        env = make_env(env_id, **parse_options([f"{k}={v}" for k, v in pairs]))
    except LightupError as err:
        assert "\n" not in str(err)
    else:
        env.reset(seed=0)
        env.close()


@pytest.mark.parametrize("command", ["train", "bench", "doctor"])
def test_help_names_the_plain_type_of_fields_that_default_to_none(capsys, command):
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    out = capsys.readouterr().out
    assert "{None}" not in out
    expected = {
        "train": ("--n-envs INT", "--advantage-beta FLOAT", "--context-len INT", "--run-dir STR"),
        "bench": ("--budget INT", "--out STR"),
        "doctor": ("--policy STR",),
    }[command]
    assert all(flag in out for flag in expected), out
