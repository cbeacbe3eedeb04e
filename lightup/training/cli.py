"""`lightup train [ENV_ID] [options]` and `lightup train --resume RUN_DIR`."""

from __future__ import annotations

import dataclasses
import sys

from lightup.args import flag_names, parse_config
from lightup.errors import LightupError
from lightup.training.config import TrainConfig


def parse(argv: list[str]) -> TrainConfig:
    """tyro parses the flags; a positional first argument is the env id. Usage errors become one line."""
    argv = list(argv)
    env_id = None
    if argv and not argv[0].startswith("-"):
        env_id = argv.pop(0)
    config = parse_config(TrainConfig, argv, "train", RESUME_NOTE)
    if env_id is not None:
        config = dataclasses.replace(config, env_id=env_id)
    config.validate()
    return config


# What a resumed run may change: its budget and how it runs and reports, never what it learns with.
RESUMABLE = (
    "total_steps",
    "stop_at_threshold",
    "device",
    "threads",
    "quiet",
    "tensorboard",
    "max_env_errors",
)


RESUME_NOTE = (
    "`lightup train --resume RUN_DIR` continues a run from its checkpoint; with it, only "
    + ", ".join("--" + name.replace("_", "-") for name in RESUMABLE)
    + " may be given (the run keeps the rest of the config it started with)."
)


def parse_resume(argv: list[str]) -> tuple[str, dict]:
    """``--resume RUN_DIR`` and the flags given with it -> (run folder, the config fields they set). A flag
    that would change what the run learns with (its env, model, learning rate ...) is refused by name."""
    i = next(i for i, a in enumerate(argv) if a == "--resume" or a.startswith("--resume="))
    if argv[i].startswith("--resume="):
        run_dir, rest = argv[i].split("=", 1)[1], argv[:i] + argv[i + 1 :]
    elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
        run_dir, rest = argv[i + 1], argv[:i] + argv[i + 2 :]
    else:
        raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
    if not run_dir:
        raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
    if rest and not rest[0].startswith("-"):
        raise LightupError(
            f"env id {rest[0]!r} given with --resume: a resumed run keeps the env it started with; drop it"
        )
    config = parse_config(
        TrainConfig, rest, "train", RESUME_NOTE
    )  # an unknown flag or a value not of its type
    names = [name.replace("-", "_") for name in flag_names(rest)]
    refused = [name for name in names if name not in RESUMABLE]
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise LightupError(
            f"{flag} cannot change when resuming: the run keeps the config it started with; with --resume "
            f"give only {', '.join('--' + n.replace('_', '-') for n in RESUMABLE)}"
        )
    config.validate()
    return run_dir, {name: getattr(config, name) for name in names}


def main(argv: list[str]) -> int:
    from lightup.training.trainer import Trainer

    argv = list(argv)
    if any(a == "--resume" or a.startswith("--resume=") for a in argv):
        run_dir, overrides = parse_resume(argv)
        trainer = Trainer.load(run_dir, overrides)
        trainer.learn()
    else:
        trainer = Trainer(parse(argv)).learn()
    from lightup.viz import report_after_training

    report = report_after_training(trainer)  # never raises: a failed report costs only the report
    solved = (
        f"reached {trainer.threshold} at {trainer.solved_at} steps" if trainer.solved_at else "not solved"
    )
    print(
        f"run: {trainer.run_dir}  steps: {trainer.steps}  last eval: {trainer.last_eval}  {solved}"
        + (f"  report: {report}" if report else ""),
        file=sys.stderr if trainer.config.quiet else sys.stdout,
    )
    return 0
