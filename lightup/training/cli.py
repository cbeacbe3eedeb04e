"""`lightup train [ENV_ID] [options]` and `lightup train --resume RUN_DIR`."""

from __future__ import annotations

import dataclasses
import sys

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


def main(argv: list[str]) -> int:
    from lightup.doctor.live import AlarmCallback
    from lightup.models.factory import is_factory_spec, load_factory
    from lightup.training.callbacks import default_callbacks
    from lightup.training.trainer import Trainer

    argv = list(argv)
    if "--resume" in argv:
        i = argv.index("--resume")
        if i + 1 >= len(argv):
            raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
        policy = None
        if "--policy" in argv:  # a user's factory, typed again: the run's config never imports one
            j = argv.index("--policy")
            spec = argv[j + 1] if j + 1 < len(argv) else ""
            if not is_factory_spec(spec):
                raise LightupError(f"--policy with --resume takes a user's module:factory, got {spec!r}")
            policy = load_factory(spec)
        # an env id typed again (a module:EnvId path named in the run's files is never imported)
        env = argv[0] if i != 0 and not argv[0].startswith("-") else None
        trainer = Trainer.load(argv[i + 1], env=env, policy=policy)
    else:
        trainer = Trainer(parse(argv))
    c = trainer.config
    trainer.learn(callbacks=default_callbacks(c, [AlarmCallback(show=not c.quiet)]))
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
