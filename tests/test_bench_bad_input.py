"""Bad input to `lightup bench` (flags, a hand-edited results folder, Ctrl-C): one line that says what to do,
exit code 2 (130 for Ctrl-C), and no file of the results folder changed."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path

import pytest

from lightup import cli
from lightup.bench.validate import MAX_SUMMARY_BYTES, OWNED

ENV = "lightup/PressButton-v0"
# The flags of the `finished_bench` fixture (conftest.py), with a third seed: a resume with a run to do.
RESUME = ["--envs", ENV, "--agents", "mlp", "--seeds", "3", "--budget", "256", "--eval-every", "256"]
RESUME += ["--workers", "1", "--bootstrap-reps", "50", "--quiet", "--resume"]


def _snapshot(folder) -> dict:
    """Every path under ``folder``: a file's bytes, or "dir"."""
    return {
        str(p.relative_to(folder)): "dir" if p.is_dir() else p.read_bytes() for p in sorted(folder.rglob("*"))
    }


def _copy(finished_bench, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(finished_bench, folder)
    return folder


def _one_line_error(argv, capsys, code: int = 2) -> str:
    """Run ``lightup ARGV``: it exits ``code`` with one ``error:`` line on stderr, which is returned."""
    assert cli.main(argv) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def _edit_rows(folder, edit) -> None:
    """Apply ``edit`` to the first row of ``folder``'s runs.jsonl; it may return the line's text itself."""
    path = folder / "runs.jsonl"
    lines = path.read_text().splitlines()
    row = json.loads(lines[0])
    text = edit(row)
    lines[0] = text if isinstance(text, str) else json.dumps(row)
    path.write_text("\n".join(lines) + "\n")


# 1. --set of a field the bench sets itself for every run.


@pytest.mark.parametrize(
    "item, instead",
    [
        ("env_id=CartPole-v1", "use --envs instead"),
        ("seed=5", "use --seeds or --agent-seeds instead"),
        ("total_steps=100000", "use --budget instead"),
        ("eval_episodes=1", "use --eval-episodes instead"),
        ("eval-every=10", "use --eval-every instead"),
        ("run_dir=precious", "use --out instead"),
        ("quiet=true", "use --quiet instead"),
        ("tensorboard=true", "cannot be changed by --set"),
        ("policy=dt", "use --agents instead"),
    ],
)
def test_set_of_a_field_the_bench_owns_is_refused(
    item, instead, finished_bench, tmp_path, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # where run_dir=precious would have gone
    folder = _copy(finished_bench, tmp_path)
    before = _snapshot(tmp_path)
    err = _one_line_error(["bench", *RESUME, "--out", str(folder), "--set", item], capsys)
    key = item.partition("=")[0].replace("-", "_")
    assert f"--set {item}: the bench sets {key} itself for every run" in err and instead in err
    assert _snapshot(tmp_path) == before


def test_every_field_the_bench_runner_sets_is_owned(monkeypatch):
    """The TrainConfig fields `_run_trainer` passes are exactly the ones --set refuses (a new one there
    must be added to OWNED)."""
    import lightup.training.config as training_config
    from lightup.bench.runs import Job, run_job

    passed = {}

    class Stop(Exception):
        pass

    def capture(**fields):
        passed.update(fields)
        raise Stop

    monkeypatch.setattr(training_config, "TrainConfig", capture)
    with pytest.raises(Stop):
        run_job(Job(ENV, "dt-stacked", 0, 256, 256))
    assert set(passed) <= set(OWNED), set(passed) - set(OWNED)


# 2. runs.jsonl rows edited by hand, through --report and --resume.

ROW_EDITS = {
    "curve_str": (lambda r: r.update(curve="abc"), "'curve' must be a list of [env step, mean return] pairs"),
    "curve_missing": (lambda r: r.pop("curve"), "row 1 has no 'curve'"),
    "final_str": (lambda r: r.update(final_eval="abc"), "'final_eval' must be a finite number, got 'abc'"),
    "final_missing": (lambda r: r.pop("final_eval"), "row 1 has no 'final_eval'"),
    "final_huge": (
        lambda r: json.dumps(r).replace('"final_eval": ', f'"final_eval": {10**400}, "x": ', 1),
        "'final_eval' must be a finite number",
    ),
    "follow_list": (lambda r: r.update(follow=[1]), "'follow' must be null or an object"),
    "follow_bad": (lambda r: r.update(follow={"slope": "x"}), "'follow' must be null or an object"),
    "solved_str": (lambda r: r.update(solved_at="abc"), "'solved_at' must be an env step"),
    "threshold_list": (lambda r: r.update(threshold=[1]), "'threshold' must be a finite number or null"),
    "threshold_missing": (lambda r: r.pop("threshold"), "row 1 has no 'threshold'"),
}


@pytest.mark.parametrize("how", ["--report", "--resume"])
@pytest.mark.parametrize("edit", ROW_EDITS)
def test_a_bad_row_field_is_refused_naming_file_row_and_field(edit, how, finished_bench, tmp_path, capsys):
    folder = _copy(finished_bench, tmp_path)
    change, message = ROW_EDITS[edit]
    _edit_rows(folder, change)
    before = _snapshot(folder)
    argv = (
        ["bench", "--report", str(folder)] if how == "--report" else ["bench", *RESUME, "--out", str(folder)]
    )
    err = _one_line_error(argv, capsys)
    assert f"{str(folder / 'runs.jsonl')!r} row 1" in err and message in err
    assert _snapshot(folder) == before  # with --resume: refused before any run


# 3. config.json edited by hand.


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("envs", [1], "--envs must be a list of strings, got [1]"),
        ("envs", [["a"]], "--envs must be a list of strings"),
        ("envs", ENV, f"--envs must be a list of strings, got {ENV!r}"),
        ("agents", [5], "--agents must be a list of strings"),
        ("set", [5], "--set must be a list of strings"),
        ("agent_seeds", [5], "--agent-seeds must be a list of strings"),
        ("suite", "bogus", "--suite must be one of general, continuous, got 'bogus'"),
        ("suite", 5, "--suite must be one of general, continuous, got 5"),
        ("quiet", "yes", "--quiet must be true or false"),
        ("bootstrap_reps", 1_000_000, "--bootstrap-reps must be an integer from 1 to 20000"),
    ],
)
def test_a_bad_config_field_is_refused_naming_the_file(
    field, value, message, finished_bench, tmp_path, capsys
):
    folder = _copy(finished_bench, tmp_path)
    path = folder / "config.json"
    config = json.loads(path.read_text())
    path.write_text(json.dumps({**config, field: value}))
    before = _snapshot(folder)
    err = _one_line_error(["bench", "--report", str(folder)], capsys)
    assert f"{str(path)!r}: {message}" in err
    assert _snapshot(folder) == before


# 4. An output file of the results folder that is a folder.


@pytest.mark.parametrize("how", ["--report", "--resume"])
@pytest.mark.parametrize("name", ["stats.json", "curves.png"])
def test_an_output_that_is_a_folder_is_refused_before_any_run(name, how, finished_bench, tmp_path, capsys):
    folder = _copy(finished_bench, tmp_path)
    (folder / name).unlink()
    (folder / name).mkdir()
    before = _snapshot(folder)
    argv = (
        ["bench", "--report", str(folder)] if how == "--report" else ["bench", *RESUME, "--out", str(folder)]
    )
    err = _one_line_error(argv, capsys)
    assert f"{str(folder / name)!r} is not a file" in err and "move it away" in err
    assert _snapshot(folder) == before


# 5. Values too big or deep to parse.


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--set", "lr=" + "[" * 50_000], "--set lr=...: the value is 50,003 characters"),
        (["--set", "lr=" + "[" * 100], "the value nests more than 64 deep"),
        (["--set", "lr=" + "1" * 5000], "the value cannot be parsed"),
        (["--set", "seed=" + "1" * 5000], "the bench sets seed itself"),
        (["--agent-seeds", "mlp=" + "1" * 5000], "--agent-seeds mlp=N must be an integer from 1 to 10000"),
        (["--agent-seeds", "mlp=\u00b2"], "must look like AGENT=N"),
    ],
)
def test_huge_or_deep_values_are_one_line(flags, message, tmp_path, capsys):
    out = tmp_path / "out"
    err = _one_line_error(["bench", "--envs", ENV, "--agents", "mlp", *flags, "--out", str(out)], capsys)
    assert message in err and len(err) < 400
    assert not out.exists()


def test_a_field_set_twice_is_one_line(tmp_path, capsys):
    """The last value would win, silently."""
    out = tmp_path / "out"
    flags = ["--envs", ENV, "--agents", "mlp", "--set", "lr=0.001", "lr=0.002", "--out", str(out)]
    err = _one_line_error(["bench", *flags], capsys)
    assert "--set sets lr twice; give each field once" in err
    assert not out.exists()


# 6. Caps on what a results folder makes the bench do or read.


def test_bootstrap_reps_flag_is_capped(tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["bench", "--envs", ENV, "--agents", "mlp", "--bootstrap-reps", "20001"]
    err = _one_line_error([*argv, "--out", str(out)], capsys)
    assert "--bootstrap-reps must be an integer from 1 to 20000" in err and not out.exists()


@pytest.mark.parametrize("how", ["--report", "--resume"])
def test_a_huge_summary_is_refused_not_read(how, finished_bench, tmp_path, capsys):
    folder = _copy(finished_bench, tmp_path)
    os.truncate(folder / "summary.md", MAX_SUMMARY_BYTES + 1)  # sparse: no 16 MiB written
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    runs = (folder / "runs.jsonl").read_bytes()
    argv = (
        ["bench", "--report", str(folder)] if how == "--report" else ["bench", *RESUME, "--out", str(folder)]
    )
    err = _one_line_error(argv, capsys)
    assert "summary.md' holds 16,777,217 bytes" in err and "trim its notes" in err
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before
    assert (folder / "runs.jsonl").read_bytes() == runs


# 7. Ctrl-C.


def test_ctrl_c_says_how_to_resume_and_the_command_it_gives_finishes_the_bench(
    finished_bench, tmp_path, capsys, monkeypatch
):
    import lightup.bench.cli as bench_cli

    rows = {r["seed"]: r for r in map(json.loads, (finished_bench / "runs.jsonl").read_text().splitlines())}
    real_run_local = bench_cli.run_local

    def one_run_then_ctrl_c(jobs, workers):  # the first job's row (as the fixture ran it), then Ctrl-C
        yield rows[jobs[0].seed]
        raise KeyboardInterrupt

    monkeypatch.setattr(bench_cli, "run_local", one_run_then_ctrl_c)
    out = tmp_path / "out"
    argv = ["--envs", ENV, "--agents", "mlp", "--seeds", "2", "--budget", "256", "--eval-every", "256"]
    argv += ["--workers", "1", "--bootstrap-reps", "50", "--quiet", "--out", str(out)]
    assert cli.main(["bench", *argv]) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"SIGINT: bench stopped with 1 runs kept in {str(out / 'runs.jsonl')!r}")
    command = shlex.split(err.split("run the rest with: ")[1])
    assert command[:2] == ["lightup", "bench"] and "--resume" in command

    monkeypatch.setattr(bench_cli, "run_local", real_run_local)
    assert cli.main(command[1:]) == 0
    rows = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert sorted(r["seed"] for r in rows) == [0, 1]


def _children(pid: int) -> set[int]:
    """The pids whose parent is ``pid`` (read from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended while we looked
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _pool_workers(pid: int) -> set[int]:
    """The pool workers process ``pid`` spawned (beside multiprocessing's resource tracker)."""
    return {p for p in _children(pid) if b"spawn_main" in _cmdline(p)}


def _in_learn(pid: int) -> bool:
    """Whether pool worker ``pid`` has a run in its trainer's `learn`, which has handlers for both SIGINT
    and SIGTERM (stop after the round). Elsewhere a worker has a handler for one of them only: SIGINT while
    Python starts (its KeyboardInterrupt), SIGTERM between runs (the bench's stop)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = int(next(line for line in status.splitlines() if line.startswith("SigCgt:")).split()[1], 16)
    return all(caught >> (signum - 1) & 1 for signum in (2, 15))


def _endless_bench(tmp_path, own_group: bool = False, training: bool = False, seeds: int = 2):
    """A bench of ``seeds`` runs of 10M env steps on two workers, once both workers are spawned (with
    ``training``: once both runs are in their trainer's `learn`); returns the process and the workers."""
    import time

    from interrupts import lightup

    argv = ["bench", "--envs", ENV, "--agents", "mlp", "--seeds", str(seeds), "--budget", "10000000"]
    argv += ["--workers", "2", "--quiet", "--out", str(tmp_path / "out")]
    proc = lightup(argv, own_group=own_group)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while len(workers) < 2 or (training and not all(map(_in_learn, workers))):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.05)
        workers = _pool_workers(proc.pid)
    return proc, workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_stops_the_bench_and_its_workers_with_one_line(tmp_path):
    """SIGTERM to the bench alone (a scheduler's stop, ``kill PID``), twice: its pool's runs stop too, none
    goes on without it, and it ends as Ctrl-C does, with exit code 143 and the line that says how to go on."""
    import signal

    proc, workers = _endless_bench(tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGTERM)  # a second at once, as `timeout` passes one on when it is stopped itself
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and err.startswith("SIGTERM: bench stopped"), err
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_starts_none_of_the_runs_still_queued(tmp_path):
    """SIGTERM to a bench of more runs than workers: the runs under way stop after their round and none
    of those queued starts (the pool hands a worker its next run before the stop; that run, of 10M env
    steps, would keep the bench going for hours)."""
    import signal
    import subprocess

    proc, workers = _endless_bench(tmp_path, training=True, seeds=6)
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail("the bench was still running 90 s after SIGTERM: a queued run started")
    assert proc.returncode == 143, err
    assert err.count("\n") == 1 and err.startswith("SIGTERM: bench stopped with 0 runs kept"), err
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_a_stop_between_two_rows_stops_the_run_under_way():
    """The bench stops reading its rows (Ctrl-C or SIGTERM landing while it writes one closes the pool's
    generator): the run still under way is stopped after its round, not waited for to its budget."""
    import signal
    import threading

    from lightup.bench.execute import run_local
    from lightup.bench.job import Job

    quick = Job(ENV, "mlp", 0, 256, 256)
    # 10M env steps and a return no run reaches: hours, unless it is stopped
    endless = Job(ENV, "mlp", 1, 10_000_000, 10_000_000, solved_at_return=1e9)
    results = run_local([quick, endless], workers=2)
    assert next(results)["seed"] == 0
    workers = _pool_workers(os.getpid())
    assert len(workers) == 2, workers
    closing = threading.Thread(target=results.close)
    closing.start()
    closing.join(60)
    waited = closing.is_alive()
    if waited:  # stop the runs here, so that the test fails instead of hanging
        for pid in workers:
            os.kill(pid, signal.SIGTERM)
        closing.join()
    assert not waited, "closing the rows waited over 60 s for the run under way"
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_ctrl_c_twice_stops_the_bench_and_its_workers_with_one_line(tmp_path):
    """Ctrl-C twice in quick succession at a terminal (SIGINT to the bench's whole process group, its pool's
    workers too): the second cuts the pool's shutdown short, and the bench still ends, with exit code 130,
    the one line that says how to go on, and no worker left."""
    import signal
    import subprocess
    import time

    proc, workers = _endless_bench(tmp_path, own_group=True, training=True)  # both runs under way
    os.killpg(proc.pid, signal.SIGINT)
    time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # so that the test fails instead of hanging
        proc.communicate()
        pytest.fail("the bench was still running 60 s after the second Ctrl-C")
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and err.startswith("SIGINT: bench stopped"), err
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), workers
