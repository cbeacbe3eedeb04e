"""`lightup train [ENV_ID] [options]` and `lightup train --resume RUN_DIR`."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

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


def parse_resume(argv: list[str]) -> tuple[str, dict, str | None, str | None]:
    """``--resume RUN_DIR`` and the flags given with it -> (run folder, the config fields they set, a
    ``module:EnvId`` and a user's ``--policy module:factory`` typed again, else None). A flag that would
    change what the run learns with (its env, model, learning rate ...) is refused by name."""
    i = next(i for i, a in enumerate(argv) if a == "--resume" or a.startswith("--resume="))
    if argv[i].startswith("--resume="):
        run_dir, rest = argv[i].split("=", 1)[1], argv[:i] + argv[i + 1 :]
    elif i + 1 < len(argv) and not argv[i + 1].startswith("--"):
        run_dir, rest = argv[i + 1], argv[:i] + argv[i + 2 :]
    else:
        raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
    if not run_dir:
        raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
    env = None
    if rest and not rest[0].startswith("-"):
        if ":" not in rest[0]:
            raise LightupError(
                f"env id {rest[0]!r} given with --resume: a resumed run keeps the env it started with; "
                "drop it"
            )
        # a module:EnvId typed again: a module named in a file is never imported
        env, rest = rest[0], rest[1:]
    config = parse_config(
        TrainConfig, rest, "train", RESUME_NOTE
    )  # an unknown flag or a value not of its type
    names = [name.replace("-", "_") for name in flag_names(rest)]
    from lightup.models.factory import is_factory_spec

    policy = None
    if "policy" in names:  # a user's factory typed again: the run's config never imports one
        if not is_factory_spec(config.policy):
            raise LightupError(
                "--policy with --resume takes the run's own module:factory, typed again; got "
                f"{config.policy!r}"
            )
        policy, names = config.policy, [name for name in names if name != "policy"]
    refused = [name for name in names if name not in RESUMABLE]
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise LightupError(
            f"{flag} cannot change when resuming: the run keeps the config it started with; with --resume "
            f"give only {', '.join('--' + n.replace('_', '-') for n in RESUMABLE)}"
        )
    config.validate()
    return run_dir, {name: getattr(config, name) for name in names}, env, policy


def resume(run_dir: Path, env=None, policy=None, overrides: dict | None = None):
    """The trainer of a run folder, from its checkpoint; or, for a run stopped before its first checkpoint,
    a fresh one from its config.json (said on stderr). ``env``, ``policy``: typed again (see `parse_resume`);
    ``overrides``: the config fields given with ``--resume``."""
    from lightup.training import recovery, state
    from lightup.training.trainer import CHECKPOINT, Trainer

    if run_dir.is_dir() and not (run_dir / CHECKPOINT).exists() and (run_dir / recovery.CONFIG).is_file():
        config = recovery.read_run_config(run_dir)
        state.check_resumable(run_dir, config, env, policy_given=policy is not None)
        trainer = Trainer(dataclasses.replace(config, **(overrides or {})), env=env, policy=policy)
        trainer.run_dir = run_dir
        print(
            f"note: {run_dir} has no checkpoint (the run stopped before its first); starting it again from "
            "its config.json",
            file=sys.stderr,
        )
        return trainer
    return Trainer.load(run_dir, env=env, policy=policy, overrides=overrides)


def main(argv: list[str]) -> int:
    from lightup.doctor.live import AlarmCallback
    from lightup.models.factory import load_factory
    from lightup.training import recovery
    from lightup.training.callbacks import default_callbacks
    from lightup.training.trainer import Trainer

    argv = list(argv)
    if any(a == "--resume" or a.startswith("--resume=") for a in argv):
        run_dir, overrides, env, spec = parse_resume(argv)
        policy = load_factory(spec) if spec is not None else None
        trainer = resume(Path(run_dir), env, policy, overrides)
    else:
        trainer = Trainer(parse(argv))
    c = trainer.config
    trainer.learn(callbacks=default_callbacks(c, [AlarmCallback(show=not c.quiet)]))
    if trainer.interrupted_by is not None:
        line = recovery.interrupted_line(
            trainer.interrupted_by, trainer.steps, trainer.run_dir, trainer.saved_at
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
