"""`TrainConfig`: the one config of `lightup train` and `Trainer`; field docstrings become ``--help``."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import tyro

from lightup.args import MaybeBool, MaybeFloat, MaybeInt, MaybeStr, choices, may_be_none
from lightup.errors import LightupError
from lightup.jsonfile import read_json
from lightup.outputs import check_folder, folder_kind, refuse_kind
from lightup.ranges import check_config, check_memory
from lightup.training.commands import CommandConfig


@dataclass
class TrainConfig:
    env_id: str = "CartPole-v1"
    """A lightup game (lightup/PressButton-v0, ...) or any Gymnasium id (Discrete or bounded Box actions)."""
    env_options: tuple[str, ...] = ()
    """Options of the env as key=value, e.g. size=4 game_length=5."""
    obs_adapters: Annotated[tuple[str, ...] | None, tyro.conf.Suppress] = None
    """Filled in by the trainer, not a flag: the adapters applied to the env's observations and actions
    (`lightup.envs.adapters`), so that a run read back rebuilds the same pipeline."""
    preset: Annotated[
        Literal["cartpole", "lunarlander", "games"] | None,
        tyro.conf.arg(metavar="{cartpole,lunarlander,games}"),
    ] = None
    """Settings measured on named envs, in place of the default recipe: "the recipe's" default of each field
    below is the preset's, else the one recipe for every env (both in lightup/training/recipe.py, which
    cites the measurements); flags given beside it win."""
    exp_name: str = "dt"
    seed: int = 1
    total_steps: MaybeInt = None
    """Env steps to train for (default 100k, or the preset's)."""

    # --- the policy ---
    policy: Annotated[str, tyro.conf.arg(metavar="{dt,mlp,MODULE:FACTORY}")] = "dt"
    """dt: the Decision Transformer; mlp: the reference ReturnConditionedMLP; module:factory: your own
    SequencePolicy, built by factory(obs_dim, act_dim, discrete) (give it again with --resume)."""
    layout: Literal["stacked", "interleaved"] = "stacked"
    context_len: MaybeInt = None
    """K: steps of history the policy sees (default: the recipe's)."""
    n_layer: MaybeInt = None
    """Transformer blocks (default: the recipe's)."""
    n_head: int = 4
    n_embd: MaybeInt = None
    """Width of the model (default: the recipe's)."""
    dropout: float = 0.0
    timestep_embedding: MaybeBool = None
    """dt: add a learned embedding of the episode timestep to every token (default: the
    recipe's). Off, the DT sees returns-to-go, states and actions only (their order comes
    from the causal mask), as the reference MLP sees no time."""

    # --- rollouts and updates ---
    n_envs: MaybeInt = None
    """Envs stepped in lockstep (default: the recipe's)."""
    rollout_steps: int = 32
    """Env steps per env between two rounds of updates."""
    updates_per_round: MaybeInt = None
    """Gradient steps after each round of rollouts (default: the recipe's)."""
    batch_size: int = 64
    lr: float = 1e-3
    lr_schedule: Literal["constant", "linear"] = "constant"
    """linear: the learning rate falls linearly from lr to lr_final_frac x lr at total_steps (as the RL Zoo's
    lin_ schedules for PPO), so late updates stop shaking a nearly solved policy."""
    lr_final_frac: float = 0.1
    weight_decay: float = 1e-4
    grad_clip: float = 0.25
    temperature: float = 1.0
    """Sampling temperature of rollouts (logits divided by it)."""
    greedy_envs: MaybeInt = None
    """This many of the rollout envs act greedily (the most likely action) instead of sampling: episodes
    near what greedy evaluation plays, for the replay. 0: every env samples. Default: the
    recipe's (at most a quarter of n_envs)."""
    ema: float = 0.0
    """Polyak averaging: greedy evaluation, `predict`, the viz tools and the bench's agent play an exponential
    moving average of the weights, which moves 1 - ema of the way to the trained weights after every update
    (0.99: about the last 100 updates). Rollouts always play the trained weights. 0: no averaging."""

    # --- replay and commands ---
    buffer_capacity: MaybeInt = None
    """Episodes kept (default: the recipe's)."""
    buffer_steps: MaybeInt = None
    """If set, also drop episodes while the replay holds more than this many steps (AWR keeps 50k): a replay
    as fresh when episodes are long as when they are short. None: episodes are counted only."""
    buffer_kind: Literal["fifo", "top"] = "fifo"
    gamma: float = 1.0
    return_scale: MaybeFloat = None
    """Returns-to-go are divided by this before the model sees them (default: the env's declared highest
    return, else the largest absolute return of 16 random-action episodes; see lightup/training/recipe.py)."""
    max_return: MaybeFloat = None
    """Highest return the env allows, if known: commands are capped there (default: what the env declares
    as ``max_return``, else none)."""
    command: CommandConfig = field(default_factory=CommandConfig)

    # --- entropy: a learned temperature keeps the policy entropy near a target (Online DT) ---
    entropy_target: MaybeFloat = None
    """Target entropy as a share of the maximum, log(number of actions); 0 turns the entropy term off.
    Default: the recipe's."""
    entropy_target_final: MaybeFloat = None
    """If set, the target moves linearly from entropy_target to this (same units) at total_steps: a policy
    kept diffuse early to explore, nearer greedy later. Default: the recipe's
    (with the entropy term on; None: constant)."""
    init_alpha: float = 0.1
    alpha_lr: float = 3e-3
    entropy_at: Literal["data", "commands"] = "data"
    """Where the entropy term reads the policy. data: on the replayed windows at their hindsight
    returns-to-go (as Online DT). commands: on the same windows at the returns-to-go a rollout would feed
    them, each window's episode replayed from a fresh rollout command (one more forward pass per update):
    the entropy where the policy acts."""

    # --- advantage weighting (AWR, Peng et al. 2019) ---
    advantage_beta: MaybeFloat = None
    """Weight each step's action loss by exp(A / beta), A the step's advantage normalised over the batch:
    its return discounted by advantage_gamma less a learned value of its state (a small MLP trained beside
    the policy). The policy stays return-conditioned; this favours the better actions of the data at every
    command. 0: off (plain return-conditioned imitation).
    Default: the recipe's."""
    advantage_gamma: float = 0.99
    """Discount of the returns that the value of advantage weighting learns and the advantages compare."""
    value_hidden: MaybeInt = None
    """Width of the two hidden layers of advantage weighting's value network (default: the
    recipe's)."""
    advantage_lambda: MaybeFloat = None
    """What the value of advantage weighting learns. 1: the discounted returns received (Monte Carlo; an
    episode a time limit cut counts nothing after the cut). Below 1: TD(lambda) returns, recomputed over the
    whole replay with the current value before each round of updates (as AWR, which uses 0.95),
    bootstrapping the episodes a time limit cut. Default: the recipe's (with
    advantage weighting on)."""

    advantage_baseline: Annotated[
        Literal["value", "policy"] | None, tyro.conf.arg(metavar="{value,policy}")
    ] = None
    """What each step's return is judged against. value: the learned value of its state (AWR: the replay's
    mix of past policies as the baseline). policy: a learned Q(s, a) of the step's action, less the mean of
    Q(s, .) under the policy being trained (QWR, Kozakowski et al. 2021): a per-action estimate in place of
    one sampled return, judged against what the current policy would play. Needs advantage weighting.
    Default: the recipe's (with advantage weighting on)."""

    # --- evaluation, checkpoints, output ---
    eval_every: MaybeInt = None
    """Env steps between greedy evaluations (default: a twentieth of total_steps)."""
    eval_episodes: int = 20
    eval_command: Literal["best", "max", "rollout"] = "best"
    """Command of greedy evaluation: best: the best return stored (in the data, as the Decision Transformer
    paper conditions); max: the env's highest possible return; rollout: the rollout command without jitter.
    Each is capped at max_return."""
    stop_at_threshold: bool = False
    """Stop once a greedy evaluation reaches the env's reward threshold."""
    checkpoint_every: int = 20_000
    run_root: str = "runs"
    run_dir: MaybeStr = None
    """Where to write the run (default: {run_root}/{env}__{exp_name}__{seed}__{time})."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    max_env_errors: int = 5
    """An env that raises loses its episode and training goes on; this many failed steps in a row stop the
    run (with a checkpoint). Tracebacks go to env_errors.log in the run folder."""
    threads: int = 1
    """torch threads (1 keeps parallel runs from fighting over cores)."""
    quiet: bool = False
    tensorboard: bool = True

    def validate(self, where: str = "") -> None:
        """Check every field against its range (lightup.ranges, shared with the files that hold a config);
        a bad value is a one-line LightupError naming its flag, after ``where`` (a file) if given."""
        check_config(self, where=where)
        for prefix, obj in (("", self), ("command.", self.command)):
            for name, hint in typing.get_type_hints(type(obj), include_extras=True).items():
                value = getattr(obj, name)
                if hint in (str, MaybeStr) and not (
                    isinstance(value, str) or (value is None and may_be_none(hint))
                ):
                    raise LightupError(
                        f"{where}--{prefix}{name.replace('_', '-')} must be a string, got {value!r}"
                    )
        if not isinstance(self.env_options, tuple | list) or not all(
            isinstance(o, str) for o in self.env_options
        ):
            raise LightupError(f"{where}--env-options must be name=value strings, got {self.env_options!r}")
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
        if None not in (self.n_layer, self.n_embd, self.context_len):
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


def check_run_dir(run_dir: str | Path, flag: str = "--run-dir") -> None:
    """``run_dir`` can take a training run: a folder that can be written (or made), not a bench's results,
    and holding no config.json that a run did not write. Errors name ``flag``, the flag that chose it."""
    check_folder(run_dir, flag)
    refuse_kind(run_dir, "run", flag)
    config = Path(run_dir) / "config.json"
    if config.exists() and folder_kind(run_dir) is None:
        try:
            fields = read_json(config)
        except LightupError:
            fields = None
        if not isinstance(fields, dict) or not {"env_id", "policy", "context_len"} <= set(fields):
            raise LightupError(
                f"{flag} {str(run_dir)!r} holds a config.json that `lightup train` did not write; pick "
                f"another {flag}"
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
