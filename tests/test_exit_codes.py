"""`lightup`'s exit codes: 0 done, 2 bad input (one line), 1 an unexpected failure (with its traceback).
130 and 143, a run stopped by SIGINT or SIGTERM after saving its checkpoint, are shown in a child process by
tests/test_resume.py::test_a_signal_between_checkpoints_says_so_exits_and_resumes_to_the_uninterrupted_run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent
TINY = ["--total-steps", "128", "--n-envs", "2", "--eval-episodes", "2", "--quiet", "--no-tensorboard"]


def lightup(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(TESTS)]))
    cmd = [sys.executable, "-m", "lightup.cli", *argv]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_a_finished_run_exits_0(tmp_path):
    done = lightup(["train", "lightup/PressButton-v0", *TINY, "--run-dir", "run"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "checkpoint.safetensors").is_file()


def test_bad_input_exits_2_with_one_line(tmp_path):
    done = lightup(["train", "--lr", "-1"], tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("error: --lr must be a finite number > 0") and done.stderr.count("\n") == 1


def test_a_bug_in_a_users_model_exits_1_with_its_traceback(tmp_path):
    """A user's model whose forward raises: not bad input, a failure; the traceback shows where."""
    (tmp_path / "buggy_model.py").write_text(
        "from lightup.models.mlp import MLPConfig, ReturnConditionedMLP\n"
        "class Buggy(ReturnConditionedMLP):\n"
        "    def forward(self, *args, **kwargs):\n"
        "        return 1 / 0\n"
        "def make(obs_dim, act_dim, discrete):\n"
        "    return Buggy(MLPConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete))\n"
    )
    argv = ["train", "lightup/PressButton-v0", "--policy", "buggy_model:make", *TINY, "--run-dir", "run"]
    done = lightup(argv, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" in done.stderr and "buggy_model.py" in done.stderr
    assert (
        done.stderr.splitlines()[-1] == "error: unexpected ZeroDivisionError (a bug: the traceback is above)"
    )
