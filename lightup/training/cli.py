"""`lightup train [ENV_ID] [options]` and `lightup train --resume RUN_DIR`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from lightup.args import parse_config
from lightup.errors import LightupError
from lightup.training.config import TrainConfig


def parse(argv: list[str]) -> TrainConfig:
    """tyro parses the flags; a positional first argument is the env id. Usage errors become one line."""
    argv = list(argv)
    env_id = None
    if argv and not argv[0].startswith("-"):
        env_id = argv.pop(0)
    config = parse_config(TrainConfig, argv, "train")
    if env_id is not None:
        config = dataclasses.replace(config, env_id=env_id)
    config.validate()
    return config


def resume(run_dir: Path):
    """The trainer of a run folder, from its checkpoint; or, for a run stopped before its first checkpoint,
    a fresh one from its config.json (said on stderr)."""
    from lightup.training import recovery
    from lightup.training.trainer import CHECKPOINT, Trainer

    if run_dir.is_dir() and not (run_dir / CHECKPOINT).exists() and (run_dir / recovery.CONFIG).is_file():
        trainer = Trainer(recovery.read_run_config(run_dir))
        trainer.run_dir = run_dir
        print(
            f"note: {run_dir} has no checkpoint (the run stopped before its first); starting it again from "
            "its config.json",
            file=sys.stderr,
        )
        return trainer
    return Trainer.load(run_dir)


def main(argv: list[str]) -> int:
    from lightup.training import recovery
    from lightup.training.trainer import Trainer

    argv = list(argv)
    if "--resume" in argv:
        i = argv.index("--resume")
        if i + 1 >= len(argv):
            raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
        trainer = resume(Path(argv[i + 1]))
        trainer.learn()
    else:
        trainer = Trainer(parse(argv)).learn()
    if trainer.interrupted_by is not None:
        line = recovery.interrupted_line(
            trainer.interrupted_by, trainer.steps, trainer.run_dir, trainer.checkpoint_step
        )
        print(line, file=sys.stderr)
        return recovery.exit_code(trainer.interrupted_by)
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
