"""`lightup train [ENV_ID] [options]`, `lightup train --config FILE` and `lightup train --resume RUN_DIR`."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import tyro

from lightup.args import default_hint, flag_names, parse_config
from lightup.errors import LightupError
from lightup.training.config import RESUMABLE, TrainConfig

RESUME_NOTE = (
    "`lightup train --resume RUN_DIR` continues a run from its checkpoint; with it, only "
    + ", ".join("--" + name.replace("_", "-") for name in RESUMABLE)
    + " may be given (the run keeps the rest of the config it started with)."
)


@dataclass
class TrainArgs(TrainConfig):
    """`TrainConfig`'s fields as flags, the env id as the first argument, and what the command does with
    them: read a config file, print the resolved config, or resume a run."""

    NOTE: ClassVar[str] = RESUME_NOTE

    env_id: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="ENV_ID")] = "CartPole-v1"
    """A lightup game (lightup/PressButton-v0, ...), any Gymnasium id, or module:EnvId."""
    config: Annotated[str | None, tyro.conf.arg(metavar="FILE", help_behavior_hint=default_hint)] = None
    """A YAML, TOML or a run's config.json file of the config; flags beside it win (default: none)."""
    print_config: bool = False
    """Print the resolved config (every default filled in) in --config-format, and exit."""
    config_format: Literal["yaml", "toml"] = "yaml"
    """Format of --print-config."""
    resume: Annotated[str | None, tyro.conf.arg(metavar="RUN_DIR", help_behavior_hint=default_hint)] = None
    """Continue the run in RUN_DIR from its checkpoint; see above for the flags it takes (default: none)."""
    given: Annotated[tuple[str, ...], tyro.conf.Suppress] = ()
    """Not a flag: the names of the flags given, in order (see `defaults`)."""
    file_env_id: Annotated[str | None, tyro.conf.Suppress] = None
    """Not a flag: the ``module:EnvId`` that ``--config`` names and the command line does not (see
    `check_file_env`)."""

    def train_config(self) -> TrainConfig:
        return TrainConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(TrainConfig)})


def parse(argv: list[str]) -> TrainConfig:
    """The config `lightup train ARGV` would train with, its flags parsed and checked (from Python; a file
    of ``--config`` is read by `defaults`, in the command)."""
    config = parse_config(TrainArgs, argv, "train").train_config()
    config.validate()
    return config


def defaults(argv: list[str]) -> TrainArgs:
    """The defaults of `TrainArgs` for ``argv``: those of ``--config FILE`` if given, and the names of the
    flags given (with ``--resume``, a run keeps its config: a flag that would change it is refused). With
    ``--resume``, ENV_ID defaults to "" to tell one given from none."""
    given = tuple(name.replace("-", "_") for name in flag_names(argv))
    path = _value_of("--config", argv)
    if path is not None and "resume" in given:
        raise LightupError("--config and --resume do not go together: a resumed run keeps its own config")
    if path is not None:
        from lightup.envs import env_module
        from lightup.models.factory import is_factory_spec
        from lightup.training.configfile import read_config_file

        config = read_config_file(path)
        if is_factory_spec(config.policy) and "policy" not in given:
            raise LightupError(
                f"{path!r} names the policy factory {config.policy!r}, which lightup does not import "
                f"because a file names it; give it on the command line too: --policy {config.policy}"
            )
        fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(TrainConfig)}
        typed = config.env_id in argv  # the same id given as ENV_ID: named by the user
        file_env_id = None if typed or env_module(config.env_id) is None else config.env_id
        return TrainArgs(**fields, config=path, given=given, file_env_id=file_env_id)
    return TrainArgs(env_id="" if "resume" in given else TrainArgs.env_id, given=given)


def check_file_env(args: TrainArgs) -> None:
    """The env id of ``--config FILE``, if ENV_ID did not replace it, names a module that is imported only
    if it already is or the user trusts it (`check_env_module_trusted`): a file never imports one."""
    if args.file_env_id is not None and args.env_id == args.file_env_id:
        from lightup.envs import check_env_module_trusted

        check_env_module_trusted(args.env_id)


def _value_of(flag: str, argv: list[str]) -> str | None:
    """The value of ``flag`` in ``argv`` (``--flag V`` or ``--flag=V``), else None."""
    for i, arg in enumerate(argv):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag:
            if i + 1 >= len(argv) or argv[i + 1].startswith("--"):
                raise LightupError(f"{flag} needs a file: lightup train {flag} run.yaml")
            return argv[i + 1]
    return None


def parse_resume(argv: list[str]) -> tuple[str, dict, str | None, str | None]:
    """`resume_args` of ``lightup train ARGV`` (from Python)."""
    return resume_args(parse_config(TrainArgs, argv, "train", default=defaults(argv)))


def resume_args(args: TrainArgs) -> tuple[str, dict, str | None, str | None]:
    """``--resume RUN_DIR`` and the flags given with it -> (run folder, the config fields they set, a
    ``module:EnvId`` and a user's ``--policy module:factory`` typed again, else None). A flag that would
    change what the run learns with (its env, model, learning rate ...) is refused by name."""
    run_dir = args.resume
    if not run_dir:
        raise LightupError("--resume needs a run folder: lightup train --resume runs/NAME")
    env = None
    if args.env_id:
        if ":" not in args.env_id:
            raise LightupError(
                f"env id {args.env_id!r} given with --resume: a resumed run keeps the env it started with; "
                "drop it"
            )
        env = args.env_id  # a module:EnvId typed again: a module named in a file is never imported
    names = [name for name in args.given if name != "resume"]
    from lightup.models.factory import is_factory_spec

    policy = None
    if "policy" in names:  # a user's factory typed again: the run's config never imports one
        if not is_factory_spec(args.policy):
            raise LightupError(
                f"--policy with --resume takes the run's own module:factory, typed again; got {args.policy!r}"
            )
        policy, names = args.policy, [name for name in names if name != "policy"]
    refused = [name for name in names if name not in RESUMABLE]
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise LightupError(
            f"{flag} cannot change when resuming: the run keeps the config it started with; with --resume "
            f"give only {', '.join('--' + n.replace('_', '-') for n in RESUMABLE)}"
        )
    dataclasses.replace(args.train_config(), env_id=args.env_id or "CartPole-v1").validate()
    return run_dir, {name: getattr(args, name) for name in names}, env, policy


def resume(run_dir: Path, env=None, policy=None, overrides: dict | None = None):
    """The trainer of a run folder, from its checkpoint; or, for a run stopped before its first checkpoint,
    a fresh one from its config.json (said on stderr; refused if the run went past a checkpoint that is now
    missing). ``env``, ``policy``: typed again (see `parse_resume`); ``overrides``: the config fields given
    with ``--resume``."""
    from lightup.training import recovery, state
    from lightup.training.trainer import CHECKPOINT, Trainer

    if run_dir.is_dir() and not (run_dir / CHECKPOINT).exists() and (run_dir / recovery.CONFIG).is_file():
        config = recovery.read_run_config(run_dir)
        recovery.check_restartable(run_dir, config)
        state.check_resumable(run_dir, config, env, policy_given=policy is not None)
        trainer = Trainer(dataclasses.replace(config, **(overrides or {})), env=env, policy=policy)
        trainer.continue_in(run_dir)
        trainer.hold_run()  # before the note: a folder in use is refused in one line (`run` releases it)
        print(
            f"note: {run_dir} has no checkpoint (the run stopped before its first); starting it again from "
            "its config.json",
            file=sys.stderr,
        )
        return trainer
    return Trainer.load(run_dir, env=env, policy=policy, overrides=overrides)


def run(args: TrainArgs) -> int:
    """`lightup train`: the exit code (0 done, 130 or 143 stopped by a signal after its checkpoint)."""
    from lightup.models.factory import load_factory
    from lightup.training.trainer import Trainer

    if args.resume is not None:
        if args.print_config:
            raise LightupError(
                "--print-config and --resume do not go together; the run's config is its config.json"
            )
        run_dir, overrides, env, spec = resume_args(args)
        policy = load_factory(spec) if spec is not None else None
        trainer = resume(Path(run_dir), env, policy, overrides)
    else:
        check_file_env(args)
        config = args.train_config()
        config.validate()
        if args.print_config:
            from lightup.training.configfile import dump_config

            trainer = Trainer(config)  # fills in every default from the recipe and the env; writes nothing
            trainer.close()
            print(dump_config(trainer.config, args.config_format), end="")
            return 0
        trainer = Trainer(config)
    trainer.hold_run()  # through the report too: no other process writes in the folder until the end
    try:
        return _train(trainer)
    finally:
        trainer.release_run()


def _train(trainer) -> int:
    """Train, then write the report; the exit code (see `run`)."""
    from lightup.doctor.live import AlarmCallback
    from lightup.training import recovery
    from lightup.training.callbacks import default_callbacks

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
