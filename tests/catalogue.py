"""The catalogue of bad inputs: each a `Case` (name, argv, expected_exit, then what the one error line
must say and the files it needs), run through the real CLI by tests/test_catalogue.py and by the
reliability script. Every case must end in one line on stderr, no traceback, and no file changed.

In ``argv`` and ``says``, ``{tmp}`` is the case's own folder (the working directory while it runs) and
``{run}`` a copy of a tiny finished training run inside it (made by ``setup``).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

Setup = Callable[[Path, Path], None]


class Case(NamedTuple):
    name: str
    argv: tuple[str, ...]
    expected_exit: int = 2
    says: str = ""
    """Text the one error line must hold."""
    setup: Setup | None = None
    """(the case's folder, a tiny finished run) -> the files the case needs."""


def make_base_run(root: Path) -> Path:
    """A tiny finished training run (checkpoint, config.json, metrics.jsonl) in ``root``/run: seconds."""
    from tiny import tiny_config

    from lightup.training.trainer import Trainer

    run = Path(root) / "run"
    Trainer(tiny_config(run, total_steps=64, eval_every=64)).learn().close()
    return run


def prepare(case: Case, tmp: Path, base_run: Path) -> list[str]:
    """Make the case's files in ``tmp`` and return its argv with the placeholders filled in."""
    if case.setup is not None:
        case.setup(tmp, base_run)
    return [arg.format(tmp=tmp, run=tmp / "run") for arg in case.argv]


# --- setups -----------------------------------------------------------------------------------------------


def run_copy(tmp: Path, base: Path) -> None:
    shutil.copytree(base, tmp / "run")


def plain_file(name: str, text: str = "mine\n") -> Setup:
    def setup(tmp: Path, base: Path) -> None:
        (tmp / name).write_text(text)

    return setup


def both(*setups: Setup) -> Setup:
    def setup(tmp: Path, base: Path) -> None:
        for step in setups:
            step(tmp, base)

    return setup


def bench_folder(tmp: Path, base: Path) -> None:
    """A bench results folder as `lightup bench` leaves it, reduced to what tells it apart."""
    folder = tmp / "results"
    folder.mkdir()
    (folder / "lightup-bench").write_text("This folder holds the results of `lightup bench`.\n")
    (folder / "runs.jsonl").write_text('{"env_id": "lightup/PressButton-v0", "agent": "mlp", "seed": 0}\n')
    (folder / "config.json").write_text(json.dumps({"envs": ["lightup/PressButton-v0"], "seeds": 1}))
    (folder / "summary.md").write_text("# Bench\n")


def crafted(change: Callable[[dict], object] | None = None, raw: str | None = None) -> Setup:
    """A copy of the run whose checkpoint metadata is ``change(meta)`` as JSON, or the text ``raw``."""

    def setup(tmp: Path, base: Path) -> None:
        from safetensors.torch import save_file

        from lightup.checkpoint import load_tensors

        run_copy(tmp, base)
        path = tmp / "run" / "checkpoint.safetensors"
        tensors, meta = load_tensors(path)
        text = raw if raw is not None else json.dumps(change(meta))
        save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"lightup": text})

    return setup


def crafted_tensors(change: Callable[[dict, dict], None]) -> Setup:
    """A copy of the run whose checkpoint's tensors and metadata are changed in place by ``change``."""

    def setup(tmp: Path, base: Path) -> None:
        from safetensors.torch import save_file

        from lightup.checkpoint import load_tensors

        run_copy(tmp, base)
        path = tmp / "run" / "checkpoint.safetensors"
        tensors, meta = load_tensors(path)
        change(tensors, meta)
        save_file(
            {k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"lightup": json.dumps(meta)}
        )

    return setup


def _set(name: str, make: Callable) -> Callable[[dict, dict], None]:
    return lambda tensors, meta: tensors.__setitem__(name, make(tensors[name]))


def with_config(**fields) -> Callable[[dict], dict]:
    return lambda meta: dict(meta, config=dict(meta["config"], **fields))


def with_counters(**counters) -> Callable[[dict], dict]:
    return lambda meta: dict(meta, counters=dict(meta["counters"], **counters))


def run_file(name: str, text: str, append: bool = False) -> Setup:
    """A copy of the run with its ``name`` file replaced by (or, ``append``, extended with) ``text``."""

    def setup(tmp: Path, base: Path) -> None:
        run_copy(tmp, base)
        path = tmp / "run" / name
        path.write_text((path.read_text() if append else "") + text)

    return setup


DEEP = "[" * 100_000 + "]" * 100_000  # JSON nested 100k deep
LONG_LINE = '{"step": 1, "x": "' + "a" * 2_000_000 + '"}\n'  # one metrics record of 2 MB

# --- the cases --------------------------------------------------------------------------------------------

T = ("train", "lightup/PressButton-v0", "--run-dir", "{tmp}/new")  # a train that would write only in {tmp}
TRAIN_RANGES = [
    ("--seed", "-1", "--seed must be an integer from 0 to 4_294_967_295, got -1"),
    ("--seed", str(2**70), "--seed must be an integer from 0 to 4_294_967_295"),
    ("--n-embd", "1000000", "--n-embd must be an integer from 1 to 8192"),
    ("--context-len", "10000000", "--context-len must be an integer from 1 to 4096"),
    ("--batch-size", "1000000000", "--batch-size must be an integer from 1 to 65536"),
    ("--threads", "100000", "--threads must be an integer from 1 to 256"),
    ("--n-envs", "1000000", "--n-envs must be an integer from 1 to 1024"),
    ("--eval-episodes", "1000000", "--eval-episodes must be an integer from 1 to 1024"),
    ("--n-layer", "1000", "--n-layer must be an integer from 1 to 64"),
    ("--n-head", "0", "--n-head must be an integer from 1 to 64"),
    ("--total-steps", "0", "--total-steps must be an integer from 1 to"),
    ("--total-steps", str(10**20), "--total-steps must be an integer from 1 to 10_000_000_000"),
    ("--rollout-steps", "1000000000", "--rollout-steps must be an integer from 1 to 100000"),
    ("--buffer-capacity", str(10**12), "--buffer-capacity must be an integer from 1 to 10_000_000"),
    ("--value-hidden", "1000000", "--value-hidden must be an integer from 1 to 8192"),
    ("--checkpoint-every", "0", "--checkpoint-every must be an integer from 1"),
    ("--eval-every", "-5", "--eval-every must be an integer from 1"),
    ("--updates-per-round", "-1", "--updates-per-round must be an integer from 0 to 100000"),
    ("--max-env-errors", "0", "--max-env-errors must be an integer from 1"),
    ("--max-return", "nan", "--max-return must be a finite number"),
    ("--return-scale", "inf", "--return-scale must be a finite number > 0"),
    ("--command.value", "nan", "--command.value must be a finite number"),
    ("--command.jitter", "-1", "--command.jitter must be a finite number >= 0 and <= 1"),
    ("--command.margin", "inf", "--command.margin must be a finite number"),
    ("--command.offset", "-inf", "--command.offset must be a finite number"),
    ("--command.k", "0", "--command.k must be an integer from 1"),
    ("--lr", "nan", "--lr must be a finite number > 0 and < 1, got nan"),
    ("--lr", "5", "--lr must be a finite number > 0 and < 1, got 5.0"),
    ("--temperature", "0", "--temperature must be a finite number > 0 and <= 100"),
    ("--gamma", "nan", "--gamma must be a finite number > 0 and <= 1"),
    ("--dropout", "1", "--dropout must be a finite number >= 0 and < 1"),
    ("--ema", "1", "--ema must be a finite number >= 0 and < 1"),
    ("--grad-clip", "0", "--grad-clip must be a finite number > 0"),
    ("--weight-decay", "inf", "--weight-decay must be a finite number >= 0"),
    ("--init-alpha", "0", "--init-alpha must be a finite number > 0"),
    ("--alpha-lr", "-1", "--alpha-lr must be a finite number >= 0"),
    ("--advantage-beta", "-1", "--advantage-beta must be a finite number >= 0"),
    ("--advantage-gamma", "0", "--advantage-gamma must be a finite number > 0"),
    ("--entropy-target", "nan", "--entropy-target must be a finite number >= 0 and <= 1"),
    ("--entropy-target-final", "2", "--entropy-target-final must be a finite number >= 0 and <= 1, got 2.0"),
    ("--lr-final-frac", "1.5", "--lr-final-frac must be a finite number >= 0 and <= 1"),
]
CASES: list[Case] = [
    Case(f"train {flag} {value}"[:60], (*T, flag, value), 2, says) for flag, value, says in TRAIN_RANGES
]
CASES += [
    Case(
        "train: sizes each in range, together beyond memory",
        (
            *T,
            "--n-embd",
            "8192",
            "--n-layer",
            "64",
            "--n-head",
            "64",
            "--context-len",
            "4096",
            "--batch-size",
            "65536",
        ),
        2,
        "need about",
    ),
    Case(
        "train --greedy-envs above --n-envs", (*T, "--n-envs", "4", "--greedy-envs", "5"), 2, "--greedy-envs"
    ),
    Case(
        "train: game size=10**8",
        (*T, "--env-options", "size=100000000"),
        2,
        "size must be an integer from 2 to 1024",
    ),
    Case(
        "train: game game_length=10**5", (*T, "--env-options", "game_length=100000"), 2, "game_length must be"
    ),
    Case(
        "train: game delay=10**5",
        ("train", "lightup/RecallButton-v0", "--run-dir", "{tmp}/new", "--env-options", "delay=100000"),
        2,
        "delay must be an integer from 0 to",
    ),
    # the right flag named
    Case(
        "train --frobnicate 3 --quiet",
        (*T, "--frobnicate", "3", "--quiet"),
        2,
        "Unrecognized options: --frobnicate",
    ),
    Case("train --qiuet (a typo)", (*T, "--qiuet"), 2, "did you mean --quiet"),
    Case("train: a flag given twice", (*T, "--n-envs", "4", "--n-envs=5"), 2, "--n-envs is given twice"),
    Case("train --lr without a value", (*T, "--lr"), 2, "Missing value for argument '--lr'"),
    Case("train --seed x", (*T, "--seed", "x"), 2, "Error parsing --seed"),
    Case(
        "doctor --static-only --layout diagonal",
        ("doctor", "--static-only", "--layout", "diagonal"),
        2,
        "invalid choice 'diagonal' for argument '--layout'",
    ),
    Case(
        "doctor --layout with no layout",
        ("doctor", "--static-only", "--layout"),
        2,
        "--layout needs at least one",
    ),
    Case(
        "train --exp-name with a path",
        (*T[:2], "--exp-name", "../../elsewhere"),
        2,
        "--exp-name must be a plain",
    ),
    Case(
        "bench --name with a path",
        ("bench", "--envs", "lightup/PressButton-v0", "--name", "../x"),
        2,
        "--name must be a plain name",
    ),
    Case("games with an argument", ("games", "--fast"), 2, "games takes no arguments"),
    # output paths, per writing command
    Case(
        "train --run-dir a file",
        ("train", "lightup/PressButton-v0", "--run-dir", "{tmp}/f"),
        2,
        "--run-dir '{tmp}/f' is a file",
        plain_file("f"),
    ),
    Case(
        "train --run-dir under a file",
        ("train", "lightup/PressButton-v0", "--run-dir", "{tmp}/f/run"),
        2,
        "'{tmp}/f' is a file",
        plain_file("f"),
    ),
    Case(
        "train --run-dir in /proc",
        ("train", "lightup/PressButton-v0", "--run-dir", "/proc/lightup-run"),
        2,
        "is not writable",
    ),
    Case(
        "train --run-dir a bench folder",
        ("train", "lightup/PressButton-v0", "--run-dir", "{tmp}/results"),
        2,
        "is a bench results folder",
        bench_folder,
    ),
    Case(
        "train --run-dir holding a foreign config.json",
        ("train", "lightup/PressButton-v0", "--run-dir", "{tmp}"),
        2,
        "holds a config.json that `lightup train` did not write",
        plain_file("config.json", '{"mine": 1}'),
    ),
    Case(
        "train --run-root under a file",
        ("train", "lightup/PressButton-v0", "--run-root", "{tmp}/f"),
        2,
        "'{tmp}/f' is a file",
        plain_file("f"),
    ),
    Case(
        "report --out the run's checkpoint",
        ("report", "{run}", "--out", "{run}/checkpoint.safetensors"),
        2,
        "add --force",
        run_copy,
    ),
    Case(
        "report --out the run's config.json",
        ("report", "{run}", "--out", "{run}/config.json"),
        2,
        "add --force",
        run_copy,
    ),
    Case(
        "report --out the run's metrics",
        ("report", "{run}", "--out", "{run}/metrics.jsonl"),
        2,
        "add --force",
        run_copy,
    ),
    Case(
        "report --out someone's file",
        ("report", "{run}", "--out", "{tmp}/notes.html"),
        2,
        "add --force",
        both(run_copy, plain_file("notes.html")),
    ),
    Case(
        "report --out under a file",
        ("report", "{run}", "--out", "{tmp}/f/report.html"),
        2,
        "'{tmp}/f' is a file",
        both(run_copy, plain_file("f")),
    ),
    Case(
        "report --out in /proc",
        ("report", "{run}", "--out", "/proc/lightup/report.html"),
        2,
        "is not writable",
        run_copy,
    ),
    Case("report --out a folder", ("report", "{run}", "--out", "{run}"), 2, "is a folder", run_copy),
    Case("report on a bench folder", ("report", "{tmp}/results"), 2, "lightup bench --report", bench_folder),
    Case(
        "watch --out the run's config",
        ("watch", "{run}", "--out", "{run}/config.json"),
        2,
        "--out must end in .gif or .mp4",
        run_copy,
    ),
    Case(
        "watch --out someone's gif",
        ("watch", "{run}", "--out", "{tmp}/mine.gif"),
        2,
        "add --force",
        both(run_copy, plain_file("mine.gif")),
    ),
    Case(
        "watch --out under a file",
        ("watch", "{run}", "--out", "{tmp}/f/x.gif"),
        2,
        "'{tmp}/f' is a file",
        both(run_copy, plain_file("f")),
    ),
    Case(
        "watch --out in /proc",
        ("watch", "{run}", "--out", "/proc/lightup/x.gif"),
        2,
        "is not writable",
        run_copy,
    ),
    Case(
        "inspect a bench folder", ("inspect", "{tmp}/results"), 2, "is a bench results folder", bench_folder
    ),
    Case(
        "bench --out a training run",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", "{run}"),
        2,
        "is a training run folder",
        run_copy,
    ),
    Case(
        "bench --out a file",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", "{tmp}/f"),
        2,
        "is a file",
        plain_file("f"),
    ),
    Case(
        "bench --out under a file",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", "{tmp}/f/res"),
        2,
        "'{tmp}/f' is a file",
        plain_file("f"),
    ),
    Case(
        "bench --out in /proc",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", "/proc/lightup-bench"),
        2,
        "is not writable",
    ),
    Case(
        "bench --out a folder of other files",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", "{tmp}"),
        2,
        "not a lightup bench's results",
        plain_file("notes.txt"),
    ),
    Case(
        "bench --out earlier results",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1", "--out", "{tmp}/results"),
        2,
        "already holds bench results",
        bench_folder,
    ),
    Case(
        "bench --report a training run",
        ("bench", "--report", "{run}"),
        2,
        "is a training run folder",
        run_copy,
    ),
    Case(
        "doctor --out a training run",
        ("doctor", "--static-only", "--out", "{run}"),
        2,
        "is a run folder",
        run_copy,
    ),
    Case(
        "doctor --out a file",
        ("doctor", "--static-only", "--out", "{tmp}/f"),
        2,
        "is a file",
        plain_file("f"),
    ),
    Case(
        "doctor --out holding someone's doctor.json",
        ("doctor", "--static-only", "--out", "{tmp}"),
        2,
        "add --force",
        plain_file("doctor.json", "mine"),
    ),
    Case(
        "doctor --run a bench folder",
        ("doctor", "--run", "{tmp}/results"),
        2,
        "is a bench results folder",
        bench_folder,
    ),
    # other commands' numbers
    Case(
        "report --commands 10**8",
        ("report", "{run}", "--commands", "100000000"),
        2,
        "--commands must be an integer from 1 to 1000",
        run_copy,
    ),
    Case("report --commands 0", ("report", "{run}", "--commands", "0"), 2, "--commands must be", run_copy),
    Case(
        "report --episodes-per-command 10**9",
        ("report", "{run}", "--episodes-per-command", "1000000000"),
        2,
        "--episodes-per-command must be",
        run_copy,
    ),
    Case(
        "report --low 100 --high 1",
        ("report", "{run}", "--low", "100", "--high", "1"),
        2,
        "--low (100) must not be above --high (1)",
        run_copy,
    ),
    Case(
        "report --low nan", ("report", "{run}", "--low", "nan"), 2, "--low must be a finite number", run_copy
    ),
    Case(
        "report --high inf",
        ("report", "{run}", "--high", "inf"),
        2,
        "--high must be a finite number",
        run_copy,
    ),
    Case(
        "report --low above every return",
        ("report", "{run}", "--low", "1000"),
        2,
        "lowest command 1000 is above its highest",
        run_copy,
    ),
    Case(
        "inspect --command nan",
        ("inspect", "{run}", "--command", "nan"),
        2,
        "--command must be a finite",
        run_copy,
    ),
    Case(
        "inspect --command inf",
        ("inspect", "{run}", "--command", "inf"),
        2,
        "--command must be a finite",
        run_copy,
    ),
    Case(
        "inspect --seed -1",
        ("inspect", "{run}", "--seed", "-1"),
        2,
        "--seed must be an integer from 0",
        run_copy,
    ),
    Case("inspect --seed 2**70", ("inspect", "{run}", "--seed", str(2**70)), 2, "--seed must be", run_copy),
    Case(
        "inspect --max-steps 0", ("inspect", "{run}", "--max-steps", "0"), 2, "--max-steps must be", run_copy
    ),
    Case(
        "inspect --episode 10**9",
        ("inspect", "{run}", "--episode", "1000000000"),
        2,
        "--episode must be",
        run_copy,
    ),
    Case(
        "watch --command nan",
        ("watch", "{run}", "--command", "nan"),
        2,
        "--command must be a finite",
        run_copy,
    ),
    Case(
        "watch --episodes 10**6",
        ("watch", "{run}", "--episodes", "1000000"),
        2,
        "--episodes must be an integer from 1 to 1000",
        run_copy,
    ),
    Case("watch --fps 0", ("watch", "{run}", "--fps", "0"), 2, "--fps must be", run_copy),
    Case("watch --seed -1", ("watch", "{run}", "--seed", "-1"), 2, "--seed must be", run_copy),
    Case(
        "play --seed -1", ("play", "lightup/PressButton-v0", "--seed", "-1"), 2, "--seed must be an integer"
    ),
    Case("play --seed 2**70", ("play", "lightup/PressButton-v0", "--seed", str(2**70)), 2, "--seed must be"),
    Case(
        "play size=10**8", ("play", "lightup/PressButton-v0", "size=100000000"), 2, "size must be an integer"
    ),
    Case("doctor --seeds 10**6", ("doctor", "--seeds", "1000000"), 2, "--seeds must be an integer from 1"),
    Case("doctor --lr nan", ("doctor", "--lr", "nan"), 2, "--lr must be a finite number"),
    Case(
        "doctor --threads 10**5", ("doctor", "--threads", "100000"), 2, "--threads must be an integer from 1"
    ),
    Case(
        "doctor --env-budget 0", ("doctor", "--env-budget", "0"), 2, "--env-budget must be an integer from 1"
    ),
    Case(
        "bench --seeds 10**9",
        ("bench", "--envs", "lightup/PressButton-v0", "--seeds", "1000000000"),
        2,
        "--seeds must be an integer from 1 to 10000",
    ),
    Case(
        "bench --eval-episodes 10**6",
        ("bench", "--envs", "lightup/PressButton-v0", "--eval-episodes", "1000000"),
        2,
        "--eval-episodes must be",
    ),
    Case(
        "bench --budget 0",
        ("bench", "--envs", "lightup/PressButton-v0", "--budget", "0"),
        2,
        "--budget must be",
    ),
    Case(
        "bench --workers 10**6",
        ("bench", "--envs", "lightup/PressButton-v0", "--workers", "1000000"),
        2,
        "--workers must be",
    ),
    Case(
        "bench --bootstrap-reps 10**9",
        ("bench", "--envs", "lightup/PressButton-v0", "--bootstrap-reps", "1000000000"),
        2,
        "--bootstrap-reps must be",
    ),
    Case(
        "bench --agent-seeds mlp=10**6",
        ("bench", "--envs", "lightup/PressButton-v0", "--agents", "mlp", "--agent-seeds", "mlp=1000000"),
        2,
        "--agent-seeds mlp=N must be",
    ),
    # flags with --resume: applied where safe, else refused by name
    Case(
        "train --resume RUN --lr nan",
        ("train", "--resume", "{run}", "--lr", "nan"),
        2,
        "--lr cannot change when resuming",
        run_copy,
    ),
    Case(
        "train --resume RUN --seed 3",
        ("train", "--resume", "{run}", "--seed", "3"),
        2,
        "--seed cannot change when resuming",
        run_copy,
    ),
    Case(
        "train --resume RUN --n-envs 4",
        ("train", "--resume", "{run}", "--n-envs", "4"),
        2,
        "--n-envs cannot change",
        run_copy,
    ),
    Case(
        "train ENV --resume RUN",
        ("train", "CartPole-v1", "--resume", "{run}"),
        2,
        "a resumed run keeps the env it started with",
        run_copy,
    ),
    Case(
        "train --resume RUN --total-steps -5",
        ("train", "--resume", "{run}", "--total-steps", "-5"),
        2,
        "--total-steps must be an integer from 1",
        run_copy,
    ),
    Case(
        "train --resume RUN --frobnicate",
        ("train", "--resume", "{run}", "--frobnicate"),
        2,
        "Unrecognized options: --frobnicate",
        run_copy,
    ),
    # crafted checkpoints and files
    Case(
        "resume: checkpoint with context_len 10**7",
        ("train", "--resume", "{run}"),
        2,
        "--context-len must be an integer from 1 to 4096",
        crafted(with_config(context_len=10**7)),
    ),
    Case(
        "resume: checkpoint with 1M envs",
        ("train", "--resume", "{run}"),
        2,
        "--n-envs must be an integer from 1 to 1024",
        crafted(with_config(n_envs=10**6)),
    ),
    Case(
        "resume: checkpoint with 1M eval episodes",
        ("train", "--resume", "{run}"),
        2,
        "--eval-episodes must be",
        crafted(with_config(eval_episodes=10**6)),
    ),
    Case(
        "resume: checkpoint with -1M steps",
        ("train", "--resume", "{run}"),
        2,
        "counter 'steps' must be an integer from 0",
        crafted(with_counters(steps=-(10**6))),
    ),
    Case(
        "resume: checkpoint with a string counter",
        ("train", "--resume", "{run}"),
        2,
        "counter 'steps' must be an integer",
        crafted(with_counters(steps="64")),
    ),
    Case(
        "resume: checkpoint with a string n_embd",
        ("train", "--resume", "{run}"),
        2,
        "--n-embd must be an integer",
        crafted(with_config(n_embd="16")),
    ),
    Case(
        "resume: checkpoint with lr nan",
        ("train", "--resume", "{run}"),
        2,
        "--lr must be a finite number",
        crafted(with_config(lr=float("nan"))),
    ),
    Case(
        "resume: checkpoint with seed 2**70",
        ("train", "--resume", "{run}"),
        2,
        "--seed must be",
        crafted(with_config(seed=2**70)),
    ),
    Case(
        "resume: checkpoint with env_id a number",
        ("train", "--resume", "{run}"),
        2,
        "--env-id must be a string",
        crafted(with_config(env_id=5)),
    ),
    Case(
        "resume: checkpoint metadata 100k deep",
        ("train", "--resume", "{run}"),
        2,
        "nested 100000 deep",
        crafted(raw=DEEP),
    ),
    Case(
        "inspect: checkpoint metadata 100k deep",
        ("inspect", "{run}"),
        2,
        "nested 100000 deep",
        crafted(raw=DEEP),
    ),
    Case(
        "inspect: checkpoint with 1M envs",
        ("inspect", "{run}"),
        2,
        "--n-envs must be",
        crafted(with_config(n_envs=10**6)),
    ),
    Case(
        "report: config.json 100k deep",
        ("report", "{run}", "--no-follow"),
        2,
        "nested 100000 deep",
        run_file("config.json", DEEP),
    ),
    Case(
        "report: a metrics line 100k deep",
        ("report", "{run}", "--no-follow"),
        2,
        "nested 100000 deep",
        run_file("metrics.jsonl", DEEP + "\n", append=True),
    ),
    Case(
        "report: a metrics line of 2 MB",
        ("report", "{run}", "--no-follow"),
        2,
        "is longer than",
        run_file("metrics.jsonl", LONG_LINE, append=True),
    ),
    Case(
        "doctor --run: config.json 100k deep",
        ("doctor", "--run", "{run}"),
        2,
        "nested 100000 deep",
        run_file("config.json", DEEP),
    ),
    Case(
        "doctor --run: a metrics line 100k deep",
        ("doctor", "--run", "{run}"),
        2,
        "nested 100000 deep",
        run_file("metrics.jsonl", DEEP + "\n", append=True),
    ),
]


def deep_runs_line(tmp: Path, base: Path) -> None:
    bench_folder(tmp, base)
    with open(tmp / "results" / "runs.jsonl", "a") as f:
        f.write(DEEP + "\n")


def fifo_in_bench(name: str) -> Setup:
    """A bench folder whose ``name`` is a named pipe: reading it would wait for a writer for ever."""

    def setup(tmp: Path, base: Path) -> None:
        import os

        bench_folder(tmp, base)
        (tmp / "results" / name).unlink()
        os.mkfifo(tmp / "results" / name)

    return setup


def old_folders(tmp: Path, base: Path) -> None:
    """An empty folder, a truncated checkpoint and a safetensors file that is not a lightup checkpoint."""
    import torch
    from safetensors.torch import save_file

    (tmp / "empty").mkdir()
    (tmp / "truncated").mkdir()
    (tmp / "truncated" / "checkpoint.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    (tmp / "foreign").mkdir()
    save_file({"weight": torch.zeros(2)}, str(tmp / "foreign" / "checkpoint.safetensors"))


R = ("train", "--resume", "{run}")
CASES += [
    Case(
        "resume: replay episodes longer than its steps",
        R,
        2,
        "disagree with its",
        crafted_tensors(_set("buffer.lengths", lambda t: t * 1000)),
    ),
    Case(
        "resume: replay episodes of length 0",
        R,
        2,
        "episode lengths are not all at least 1",
        crafted_tensors(_set("buffer.lengths", lambda t: t * 0)),
    ),
    Case(
        "resume: replay actions beyond the buttons",
        R,
        2,
        "actions go outside the env's 2 buttons",
        crafted_tensors(_set("buffer.actions", lambda t: t + 10**6)),
    ),
    Case(
        "inspect: replay observations NaN",
        ("inspect", "{run}"),
        2,
        "not all finite",
        crafted_tensors(_set("buffer.observations", lambda t: t * float("nan"))),
    ),
    Case(
        "resume: replay commands not numbers",
        R,
        2,
        "commands hold 'x'",
        crafted_tensors(lambda t, m: m.__setitem__("buffer_commanded", ["x"] * len(m["buffer_commanded"]))),
    ),
    Case(
        "resume: part of a replay",
        R,
        2,
        "buffer.rewards missing",
        crafted_tensors(lambda t, m: t.pop("buffer.rewards")),
    ),
    Case(
        "resume: a torch random state cut short",
        R,
        2,
        "holds a training state this version cannot read",
        crafted_tensors(_set("rng.torch", lambda t: t[:3])),
    ),
]
LONG = "a" * 300  # a file name longer than any file system takes
CASES += [
    Case("train: a run name of 300+ bytes", (*T[:2], "--exp-name", LONG), 2, "names are at most 255"),
    Case(
        "train --run-dir a name of 300 bytes", (*T[:2], "--run-dir", "{tmp}/" + LONG), 2, "names are at most"
    ),
    Case(
        "report --out a name of 300 bytes",
        ("report", "{run}", "--out", "{tmp}/" + LONG + ".html"),
        2,
        "names are at most 255",
        run_copy,
    ),
    Case(
        "bench --report: config.json a named pipe",
        ("bench", "--report", "{tmp}/results"),
        2,
        "has no config.json",
        fifo_in_bench("config.json"),
    ),
    Case(
        "bench --resume: runs.jsonl a named pipe",
        (
            "bench",
            "--envs",
            "lightup/PressButton-v0",
            "--agents",
            "mlp",
            "--seeds",
            "1",
            "--resume",
            "--out",
            "{tmp}/results",
        ),
        2,
        "is not a regular file",
        fifo_in_bench("runs.jsonl"),
    ),
    Case(
        "bench --report: a runs.jsonl line 100k deep",
        ("bench", "--report", "{tmp}/results"),
        2,
        "nested 100000 deep",
        deep_runs_line,
    ),
]

# Usage errors from before the catalogue (tests/test_bad_inputs.py), each with what its one line says.
EARLIER = [
    (["frobnicate"], "unknown command 'frobnicate'; choose one of: games, train"),
    (["train", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["train", "Pendulum-v1"], "Box action space; the trainer supports Discrete action spaces"),
    (["train", "--n-envs", "x"], "Error parsing --n-envs: invalid literal for int()"),
    (["train", "--advantage-beta", "x"], "Error parsing --advantage-beta: could not convert string to float"),
    (["train", "--context-len", "0"], "--context-len must be an integer from 1 to 4096, got 0"),
    (["train", "--n-envs", "0"], "--n-envs must be an integer from 1 to 1024, got 0"),
    (["train", "--no-such-flag", "3"], "Unrecognized options: --no-such-flag"),
    (["train", "--layout", "x"], "--layout must be one of stacked, interleaved, got 'x'"),
    (["train", "--timestep-embedding", "maybe"], "--timestep-embedding must be one of True, False, got"),
    (["train", "--command.kind", "zz"], "--command.kind must be one of fixed, best, topk, got 'zz'"),
    (["train", "--n-embd", "30", "--n-head", "4"], "--n-embd (30) must be divisible by --n-head (4)"),
    (["train", "--temperature", "-1"], "--temperature must be a finite number > 0 and <= 100, got -1.0"),
    (["train", "--gamma", "1.5"], "--gamma must be a finite number > 0 and <= 1, got 1.5"),
    (["train", "--entropy-target", "x"], "Error parsing --entropy-target: could not convert string to float"),
    (["train", "--greedy-envs", "-1"], "--greedy-envs must be an integer from 0 to 1024, got -1"),
    (["train", "--buffer-steps", "0"], "--buffer-steps must be an integer from 1 to 10_000_000_000, got 0"),
    (["train", "--buffer-capacity", "0"], "--buffer-capacity must be an integer from 1 to 10_000_000, got 0"),
    (["train", "--value-hidden", "0"], "--value-hidden must be an integer from 1 to 8192, got 0"),
    (["train", "LunarLander-v3", "--greedy-envs", "17"], "--greedy-envs must be from 0 to --n-envs (16)"),
    (["train", "lightup/PressButton-v0", "--advantage-lambda", "0.9"], "needs advantage weighting"),
    (["train", "--advantage-baseline", "q"], "--advantage-baseline must be one of value, policy, got 'q'"),
    (
        ["train", "lightup/PressButton-v0", "--advantage-baseline", "policy"],
        "policy needs advantage weighting",
    ),
    (["train", "--return-scale", "0"], "--return-scale must be a finite number > 0"),
    (
        ["train", "lightup/PressButton-v0", "--env-options", "size=0"],
        "size must be an integer from 2 to 1024",
    ),
    (["train", "lightup/PressButton-v0", "--env-options", "colour=red"], "unknown option 'colour'"),
    (["train", "--max-env-errors", "0"], "--max-env-errors must be an integer from 1 to 1_000_000, got 0"),
    (["train", "--resume"], "--resume needs a run folder"),
    (["train", "--resume", "{tmp}/missing"], "run folder '{tmp}/missing' not found"),
    (["train", "--resume", "{tmp}/empty"], "checkpoint.safetensors' not found"),
    (["train", "--resume", "{tmp}/truncated"], "is not a readable lightup checkpoint"),
    (["train", "--resume", "{tmp}/foreign"], "is a safetensors file but not a lightup checkpoint"),
    (["play", "Pendulum-v1"], "Box action space"),
    (["doctor", "--rungs", "nope"], "unknown rung 'nope'; rungs: overfit-batch"),
    (["doctor", "--agent", "sb3:A2C"], "unknown agent 'sb3:A2C'"),
    (["doctor", "--policy", "no_such_module_xyz:make"], "cannot import module 'no_such_module_xyz'"),
    (["doctor", "--env", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["doctor", "--run", "{tmp}/empty"], "holds no metrics.jsonl"),
    (["doctor", "--env-budget", "0"], "--env-budget must be an integer from 1 to 10_000_000_000, got 0"),
    (["doctor", "--threads", "0"], "--threads must be an integer from 1 to 256, got 0"),
    (["doctor", "--lr", "2"], "--lr must be a finite number > 0 and < 1, got 2.0"),
    (["bench", "--agents", "nope"], "unknown agent 'nope'"),
    (["bench", "--agent-seeds", "sb3-ppo=x"], "--agent-seeds 'sb3-ppo=x' must look like AGENT=N with N >= 1"),
    (["bench", "--agent-seeds", "nope=3"], "--agent-seeds 'nope=3' must look like AGENT=N"),
    (["bench", "--envs", "NoSuchEnv-v0"], "unknown env id 'NoSuchEnv-v0'"),
    (["bench", "--seeds", "abc"], "Error parsing --seeds"),
    (["report", "{tmp}/missing"], "run folder '{tmp}/missing' not found"),
    (["inspect", "{tmp}/empty"], "has no checkpoint.safetensors yet"),
    (["inspect", "{tmp}/foreign"], "is a safetensors file but not a lightup checkpoint"),
    (["watch", "{tmp}/missing"], "run folder '{tmp}/missing' not found"),
]
_named = {case.name for case in CASES}
CASES += [
    Case(" ".join(a), tuple(a), 2, says, old_folders) for a, says in EARLIER if " ".join(a) not in _named
]
