"""`TrainConfig`: the one config of `lightup train` and `Trainer`; field docstrings become ``--help``."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
import typing
from dataclasses import dataclass, field
from typing import Annotated, Literal

import tyro

from lightup.args import (
    MaybeBool,
    MaybeFloat,
    MaybeInt,
    MaybeStr,
    Strings,
    choices,
    default_hint,
    may_be_none,
)
from lightup.envs.time_limit import DEFAULT_MAX_EPISODE_STEPS
from lightup.errors import LightupError
from lightup.ranges import check_config, check_memory
from lightup.training.commands import CommandConfig

# What a resumed run may change: its budget and how it runs and reports, never what it learns with.
RESUMABLE = (
    "total_steps",
    "stop_at_threshold",
    "device",
    "threads",
    "quiet",
    "tensorboard",
    "track",
    "wandb_project",
    "max_env_errors",
)


@dataclass
class TrainConfig:
    """Every setting of a training run. A field left at None is filled in by the recipe or the env
    (lightup/training/recipe.py); docs/trainer.md tells the story of each."""

    env_id: str = "CartPole-v1"
    """A lightup game, any Gymnasium id or module:EnvId (Discrete or bounded 1-D Box actions)."""
    env_options: Strings = ()
    """Options of the env as key=value, e.g. size=4 game_length=5."""
    max_episode_steps: int = DEFAULT_MAX_EPISODE_STEPS
    """Where episodes of an env with no time limit of its own are cut (truncated)."""
    obs_adapters: Annotated[tuple[str, ...] | None, tyro.conf.Suppress] = None
    """Filled in by the trainer, not a flag: the adapters applied to the env's observations and actions
    (`lightup.envs.adapters`), so that a run read back rebuilds the same pipeline."""
    preset: Annotated[
        Literal["cartpole", "lunarlander", "games"] | None,
        tyro.conf.arg(metavar="{cartpole,lunarlander,games}", help_behavior_hint=default_hint),
    ] = None
    """Settings measured on named envs, in place of the one recipe; flags beside it win (default: none)."""
    exp_name: str = "dt"
    """Name of the experiment, a part of the run folder's name."""
    seed: int = 1
    """Seeds torch, the replay's sampling and the env resets."""
    total_steps: MaybeInt = None
    """Env steps to train for (default: the recipe's, 100k)."""

    # --- the policy ---
    policy: Annotated[str, tyro.conf.arg(metavar="{dt,mlp,MODULE:FACTORY}")] = "dt"
    """dt: the Decision Transformer; mlp: the reference MLP; module:factory: your SequencePolicy."""
    layout: Literal["stacked", "interleaved"] = "stacked"
    """One token per step, or three (action, return-to-go, state) as Chen et al. 2021."""
    context_len: MaybeInt = None
    """K: steps of history the policy sees (default: the recipe's)."""
    n_layer: MaybeInt = None
    """Transformer blocks (default: the recipe's)."""
    n_head: int = 4
    """Attention heads."""
    n_embd: MaybeInt = None
    """Width of the model (default: the recipe's)."""
    dropout: float = 0.0
    """Dropout of the transformer."""
    timestep_embedding: MaybeBool = None
    """Add a learned embedding of the episode timestep to every token (default: the recipe's)."""

    # --- rollouts and updates ---
    n_envs: MaybeInt = None
    """Envs stepped in lockstep (default: the recipe's)."""
    rollout_steps: int = 32
    """Env steps per env between two rounds of updates."""
    updates_per_round: MaybeInt = None
    """Gradient steps after each round of rollouts (default: the recipe's)."""
    batch_size: MaybeInt = None
    """Windows per gradient step (default: the recipe's)."""
    overlap: bool = False
    """Collect the next round during the updates, in a thread (one round stale; inexact resume)."""
    lr: float = 1e-3
    """Learning rate of AdamW."""
    lr_schedule: Literal["constant", "linear"] = "constant"
    """linear: falls to lr_final_frac x lr at total_steps (as the RL Zoo's lin_)."""
    lr_final_frac: float = 0.1
    """Where the linear schedule ends, as a share of lr."""
    weight_decay: float = 1e-4
    """Weight decay of AdamW."""
    optimizer_kernel: Annotated[
        Literal["fused", "foreach"] | None,
        tyro.conf.arg(metavar="{fused,foreach}", help_behavior_hint=default_hint),
    ] = None
    """The optimizers' kernels: one fused kernel a step, or torch's foreach (default: the recipe's)."""
    grad_clip: float = 0.25
    """Clip of the gradient's norm."""
    temperature: float = 1.0
    """Sampling temperature of rollouts (logits divided by it)."""
    greedy_envs: MaybeInt = None
    """Rollout envs that act greedily instead of sampling (default: the recipe's, at most n_envs / 4)."""
    explore_share: MaybeFloat = None
    """Most share of rollout episodes that explore with held random actions (default: the recipe's)."""
    ema: float = 0.0
    """Polyak averaging of the weights evaluation plays; 0: none, 0.99: ~100 updates."""

    # --- replay and commands ---
    buffer_capacity: MaybeInt = None
    """Episodes kept in the replay (default: the recipe's)."""
    buffer_steps: MaybeInt = None
    """Also drop episodes while the replay holds more steps than this (default: 2 GiB of observations)."""
    buffer_kind: Literal["fifo", "top"] = "fifo"
    """Drop the oldest episodes, or keep the best."""
    gamma: float = 1.0
    """Discount of the returns-to-go the policy is conditioned on."""
    return_scale: MaybeFloat = None
    """Returns-to-go are divided by this (default: the env's highest return, else from random episodes)."""
    max_return: MaybeFloat = None
    """Highest return the env allows; commands are capped there (default: the env's max_return, else none)."""
    command: CommandConfig = field(default_factory=CommandConfig)

    # --- entropy: a learned temperature keeps the policy entropy near a target (Online DT) ---
    entropy_target: MaybeFloat = None
    """Target entropy as a share of log(actions); 0 turns the term off (default: the recipe's)."""
    entropy_target_final: MaybeFloat = None
    """The target moves linearly to this at total_steps (default: the recipe's, else constant)."""
    init_alpha: float = 0.1
    """Start of the learned entropy temperature."""
    alpha_lr: float = 3e-3
    """Learning rate of the entropy temperature."""
    entropy_at: Literal["data", "commands"] = "data"
    """Read the entropy on the replayed windows (as Online DT) or at fresh rollout commands."""

    # --- advantage weighting (AWR, Peng et al. 2019) ---
    advantage_beta: MaybeFloat = None
    """Weight each action's loss by exp(A / beta), A its advantage; 0: off (default: the recipe's)."""
    advantage_gamma: float = 0.99
    """Discount of the returns that advantage weighting's value learns."""
    value_hidden: MaybeInt = None
    """Width of the value network's two hidden layers (default: the recipe's)."""
    advantage_lambda: MaybeFloat = None
    """1: the value learns Monte Carlo returns; below 1, TD(lambda) returns (default: the recipe's)."""

    value_history: MaybeInt = None
    """Past steps (observation, action) the value net sees beside the observation (default: the recipe's)."""
    value_select: MaybeBool = None
    """Fit one-step values of the observation too; use the one that predicts best (default: the recipe's)."""
    value_best: MaybeBool = None
    """Also learn Q of the best action (max backups) for advantages (default: on for finite observations)."""

    advantage_baseline: Annotated[
        Literal["value", "policy"] | None,
        tyro.conf.arg(metavar="{value,policy}", help_behavior_hint=default_hint),
    ] = None
    """Judge returns against the value of the state, or Q under the policy (QWR) (default: the recipe's)."""

    # --- evaluation, checkpoints, output ---
    eval_every: MaybeInt = None
    """Env steps between greedy evaluations (default: a twentieth of total_steps)."""
    eval_episodes: int = 20
    """Episodes of each greedy evaluation."""
    eval_command: Literal["best", "max", "rollout"] = "best"
    """Command of evaluation: the best return stored, the env's highest, or the rollout command."""
    stop_at_threshold: bool = False
    """Stop once a greedy evaluation reaches the env's reward threshold."""
    checkpoint_every: int = 20_000
    """Env steps between checkpoints."""
    run_root: str = "runs"
    """Folder of the run folders."""
    run_dir: MaybeStr = None
    """Where to write the run (default: {run_root}/{env}__{exp_name}__{seed}__{time})."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """auto: cuda if there is one."""
    max_env_errors: int = 5
    """Failed env steps in a row that stop the run (tracebacks in env_errors.log)."""
    threads: int = 1
    """torch threads (1 keeps parallel runs from fighting over cores)."""
    quiet: bool = False
    """No progress bar or alarms on the terminal."""
    tensorboard: bool = True
    """Write TensorBoard event files (scalars and the hyperparameters) into the run folder."""
    track: bool = False
    """Also log to Weights & Biases (pip install 'lightup[wandb]')."""
    wandb_project: str = "lightup"
    """The W&B project of --track."""

    def validate(self, where: str = "") -> None:
        """Check every field against its range (lightup.ranges, shared with the files that hold a config);
        a bad value is a one-line LightupError naming its flag, after ``where`` (a file) if given."""
        check_config(self, where=where)
        if self.track is True and importlib.util.find_spec("wandb") is None:
            raise LightupError(f"{where}--track needs wandb: pip install 'lightup[wandb]'")
        for prefix, obj in (("", self), ("command.", self.command)):
            for name, hint in typing.get_type_hints(type(obj), include_extras=True).items():
                value = getattr(obj, name)
                if hint in (str, MaybeStr) and not (
                    isinstance(value, str) or (value is None and may_be_none(hint))
                ):
                    raise LightupError(
                        f"{where}--{prefix}{name.replace('_', '-')} must be a string, got {value!r}"
                    )
                if isinstance(value, str) and not value.strip():  # '' would mean here, or the default
                    raise LightupError(f"{where}--{prefix}{name.replace('_', '-')} must not be empty")
                _check_no_control(value, f"--{prefix}{name.replace('_', '-')}", where)
        if not isinstance(self.env_options, tuple | list) or not all(
            isinstance(o, str) for o in self.env_options
        ):
            raise LightupError(f"{where}--env-options must be name=value strings, got {self.env_options!r}")
        for option in self.env_options:
            _check_no_control(option, "--env-options", where)
        if "/" in self.exp_name or "\\" in self.exp_name or self.exp_name in (".", ".."):
            raise LightupError(
                f"{where}--exp-name must be a plain name (a part of the run folder's), got {self.exp_name!r}"
            )
        greedy = self.greedy_envs
        # Fields left at None: the trainer checks again once the env family's defaults are filled in.
        if greedy is not None and self.n_envs is not None and greedy > self.n_envs:
            raise LightupError(
                f"{where}--greedy-envs must be from 0 to --n-envs ({self.n_envs}), got {greedy}"
            )
        if None not in (self.n_layer, self.n_embd, self.context_len, self.batch_size):
            check_memory(self.n_layer, self.n_embd, self.n_head, self.context_len, self.batch_size, where)
        beta = self.advantage_beta
        if beta == 0 and self.advantage_lambda is not None and self.advantage_lambda < 1:
            raise LightupError(
                f"{where}--advantage-lambda {self.advantage_lambda} needs advantage weighting: set "
                "--advantage-beta above 0, or leave --advantage-lambda at 1"
            )
        if beta == 0 and self.advantage_baseline == "policy":
            raise LightupError(
                f"{where}--advantage-baseline policy needs advantage weighting: set --advantage-beta above "
                "0, or leave --advantage-baseline at value"
            )
        if self.value_best and (self.value_select is False or self.advantage_baseline == "value"):
            raise LightupError(
                f"{where}--value-best needs --value-select and --advantage-baseline policy: set both, or "
                "leave --value-best unset"
            )
        final = self.entropy_target_final
        if final is not None and self.entropy_target == 0:
            raise LightupError(
                f"{where}--entropy-target-final needs the entropy term: set --entropy-target above 0, or "
                "leave --entropy-target-final unset"
            )
        if self.n_embd is not None and self.n_embd % self.n_head:
            raise LightupError(
                f"{where}--n-embd ({self.n_embd}) must be divisible by --n-head ({self.n_head})"
            )
        if not isinstance(self.policy, str) or not (
            self.policy in ("dt", "mlp") or all(self.policy.partition(":")[::2]) and ":" in self.policy
        ):
            raise LightupError(f"{where}--policy must be dt, mlp or module:factory, got {self.policy!r}")
        adapters = self.obs_adapters
        if adapters is not None and not (
            isinstance(adapters, tuple) and all(isinstance(a, str) for a in adapters)
        ):
            raise LightupError(f"{where}obs_adapters must be a list of adapter names, got {adapters!r}")
        # The command line checks choices; a config built in Python or read from a file is checked here.
        for prefix, obj in (("", self), ("command.", self.command)):
            for name, hint in typing.get_type_hints(type(obj), include_extras=True).items():
                value, allowed = getattr(obj, name), choices(hint)
                if allowed is None or (value is None and may_be_none(hint)):
                    continue  # not a choice, or one left to its env family's default (checked once filled in)
                if str(value) not in allowed or isinstance(value, bool) != (allowed == ["True", "False"]):
                    flag = "--" + prefix + name.replace("_", "-")
                    raise LightupError(f"{where}{flag} must be one of {', '.join(allowed)}, got {value!r}")


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _check_no_control(value: object, flag: str, where: str) -> None:
    """A string setting holds no control character: a NUL in a path or name fails at mkdir (embedded null
    byte), a newline or an escape would garble the run folder's name and the terminal. Checked here, at
    validation, for config files and the command line alike."""
    found = _CONTROL.search(value) if isinstance(value, str) else None
    if found:
        raise LightupError(
            f"{where}{flag} holds the control character {found.group()!r} (at {found.start()}); give it "
            f"without one, got {value[:60]!r}"
        )


def _field(config: TrainConfig, key: str) -> typing.Any:
    """A field by name, ``command.NAME`` for a field of the command."""
    obj = config.command if key.startswith("command.") else config
    return getattr(obj, key.removeprefix("command."))


def with_overrides(config: TrainConfig, overrides: dict[str, typing.Any]) -> TrainConfig:
    """``config`` with fields replaced by name; ``command.NAME`` names a field of the command (an unknown
    name is a TypeError, as from the dataclass)."""
    top = {k: v for k, v in overrides.items() if not k.startswith("command.")}
    command = {k.removeprefix("command."): v for k, v in overrides.items() if k.startswith("command.")}
    if command:
        top["command"] = dataclasses.replace(top.get("command", config.command), **command)
    return dataclasses.replace(config, **top)


def parse_override(item: str) -> tuple[str, typing.Any]:
    """``updates_per_round=64`` -> ("updates_per_round", 64): a TrainConfig field (``command.NAME`` for the
    command's) and its JSON value (or True, False), else the text itself. An unknown field or a value out of
    its range is a one-line LightupError, before any run starts."""
    key, sep, text = item.partition("=")
    if not sep:
        raise LightupError(f"--set takes FIELD=VALUE, got {item!r}")
    key = key.replace("-", "_")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    names |= {"command." + f.name for f in dataclasses.fields(CommandConfig)}
    if key not in names:
        raise LightupError(f"--set {item}: TrainConfig has no field {key!r} (see `lightup train --help`)")
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        # True and False as `lightup train` spells them (--overlap True), beside JSON's true and false
        value = {"True": True, "False": False}.get(text, text)
    try:
        with_overrides(TrainConfig(), {key: value}).validate()
    except (LightupError, TypeError, ValueError) as err:
        raise LightupError(f"--set {item}: {err}") from None
    return key, value
