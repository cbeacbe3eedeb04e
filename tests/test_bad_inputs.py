"""Bad inputs beyond the catalogue (tests/catalogue.py, run by tests/test_catalogue.py): earlier results
and checkpoints left as they were, fuzzed config flags and env options that never escape as tracebacks,
and the plain types in --help."""

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
    assert cli.main([command, "--help"]) == 0
    out = capsys.readouterr().out
    assert "{None}" not in out
    expected = {
        "train": ("--n-envs INT", "--advantage-beta FLOAT", "--context-len INT", "--run-dir STR"),
        "bench": ("--budget INT", "--out STR"),
        "doctor": ("--policy STR",),
    }[command]
    assert all(flag in out for flag in expected), out
