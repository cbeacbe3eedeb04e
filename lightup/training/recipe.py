"""The default recipe, derived from the env and its returns, and the named presets that may replace it.

A field left at None is filled in, in this order: from the chosen ``--preset`` (settings measured on named
envs, opt in), else from `DEFAULTS` (one recipe for every env, keyed by nothing). What must depend on the env
is derived from it, never looked up by its id:
- the highest possible return, only where the env declares it (``max_return`` on the unwrapped env, as the
  lightup games do);
- the scale of returns: the declared highest return, else the largest return, in absolute value, of a few
  episodes of uniformly random actions before training (written into the run's config, so the policy sees
  the same inputs after a resume);
- the evaluation cadence: a twentieth of the budget;
- the command's step above the best return: a share of the return scale (`COMMAND_OFFSET_SHARE`);
- the kind of actions: continuous ones fit the advantage's value net to TD(0.95) returns
  (`CONTINUOUS_DEFAULTS`), and explore only where a few episodes of held random actions before training
  beat uniformly random ones by a return scale (`held_actions_lead`, written into the config).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable

import gymnasium as gym
import numpy as np

from lightup.ranges import HUGE, SMALL
from lightup.training.config import TrainConfig, _field, with_overrides

# The settings of the first measured recipes (the lightup games were measured with them), under the presets.
_MEASURED_BASE = {
    "buffer_capacity": 300,
    "value_hidden": 128,
    "value_history": 0,
    "value_select": False,
    "value_best": False,
    "n_embd": 64,
    "n_envs": 16,
    "context_len": 20,
    "total_steps": 100_000,
    "eval_every": 10_000,
    "return_scale": 100.0,
    "updates_per_round": 32,
    "timestep_embedding": True,
    "n_layer": 3,
    "advantage_beta": 0.0,
    "advantage_lambda": 1.0,
    "greedy_envs": 0,
    "explore_share": 0.0,
    "entropy_target": 0.15,
    "entropy_target_final": None,
    "command.kind": "best",
    "command.offset": 5.0,
    "advantage_baseline": "value",
    "batch_size": 64,
    "optimizer_kernel": "foreach",
}

PRESETS: dict[str, dict] = {
    # 3000 episodes: 300 one-step episodes are less than one round (16 envs x 32 steps), so a policy trained
    # only on its own latest, nearly greedy presses can stay wrong on one button for good
    # (benchmarks/results/bench_games_20k).
    "games": {**_MEASURED_BASE, "total_steps": 20_000, "eval_every": 2_000, "buffer_capacity": 3_000},
    # Each choice: benchmarks/results/learning_cartpole.md.
    "cartpole": {
        **_MEASURED_BASE,
        "total_steps": 100_000,
        "eval_every": 5_000,
        "return_scale": 100.0,
        "max_return": 500.0,
        "n_envs": 8,
        "updates_per_round": 32,
        "context_len": 10,
        "timestep_embedding": False,
        "n_layer": 1,
        "advantage_beta": 0.5,
        "n_embd": 32,
        "value_hidden": 64,
    },
    # benchmarks/results/learning_lunar.md: one block and K 10, advantage weighting with TD(0.95) values,
    # 4 greedy rollout envs, an entropy target falling from 0.5 to 0.1, 64 updates a round, top-k commands.
    "lunarlander": {
        **_MEASURED_BASE,
        "total_steps": 1_000_000,
        "eval_every": 50_000,
        "return_scale": 200.0,
        "n_layer": 1,
        "context_len": 10,
        "updates_per_round": 64,
        "advantage_beta": 1.0,
        "advantage_lambda": 0.95,
        "greedy_envs": 4,
        "entropy_target": 0.5,
        "entropy_target_final": 0.1,
        "command.kind": "topk",
        "advantage_baseline": "policy",
    },
}
PRESET_NAMES = tuple(PRESETS)

DEFAULTS: dict = {
    # CartPole's recipe without its env-specific numbers (return scale, highest return): one block of width
    # 32, K 10, no timestep embedding, advantage weighting (beta 0.5, a value net of width 64), rounds of 8
    # envs x 32 steps and 32 updates (0.125 updates per env step); benchmarks/results/learning_general.md;
    # its wall time against PPO's, and the levers measured: benchmarks/results/wall_time.md.
    "total_steps": 100_000,
    "buffer_capacity": 300,
    "n_envs": 8,
    "updates_per_round": 16,
    "batch_size": 128,
    "context_len": 10,
    "timestep_embedding": False,
    "n_layer": 1,
    "n_embd": 32,
    "advantage_beta": 0.5,
    "value_hidden": 64,
    "advantage_lambda": 0.95,
    "advantage_baseline": "policy",
    # the value of the history (TD(0.95)) or one-step values of the observation, whichever predicts fresh
    # episodes better (lightup.training.advantage.ValuePair)
    "value_select": True,
    "greedy_envs": 0,
    "explore_share": 0.5,
    "entropy_target": 0.15,
    "entropy_target_final": None,
    "command.kind": "best",
    "optimizer_kernel": "fused",
}
# Continuous actions (long episodes of small, dense rewards): the value of advantage weighting learns TD(0.95)
# returns, bootstrapped at time-limit cuts, in place of Monte Carlo ones. Monte Carlo returns to a time limit
# fall with the steps left, which the value (of the observation alone) cannot see, so the advantages ranked
# steps by time: Pendulum-v1 stayed at random actions' return; benchmarks/results/learning_continuous.md.
# No exploration in the table: it solves MountainCarContinuous-v0 but slowed Pendulum-v1 (same file,
# "Exploration for continuous actions"); it is turned on where held random actions pay (`HELD_LEAD_MIN`).
CONTINUOUS_DEFAULTS: dict = {
    "advantage_lambda": 0.95,
    "advantage_baseline": "value",
    "value_history": 0,
    "value_select": False,
    "value_best": False,
    "explore_share": 0.0,
    # the updates and the optimizer kernel the continuous figures were measured with
    "batch_size": 64,
    "updates_per_round": 32,
    "optimizer_kernel": "foreach",
}
VALUE_HISTORY_MAX = 64
# Taxi-v4's one-hot observations are 500 numbers: nine steps back would make each row of the value 5,063
# wide; CartPole-v1's step is 7 numbers, LunarLander-v3's 13, MiniGrid's flattened image about 156.
VALUE_ROW_WIDTH = 512
EVALUATIONS_PER_RUN = 20  # the default cadence: eval_every = total_steps / 20
# The default command's fixed step above the best return, as a share of the return scale: the measured
# recipe's 5 on MountainCar-v0's scale of 200 (its step while every stored episode sits at -200). A step in
# reward units would ask a [0, 1] task (MiniGrid, FrozenLake) for 5 times its highest return;
# benchmarks/results/learning_general.md.
COMMAND_OFFSET_SHARE = 0.025
# Continuous actions explore (at this share, gated by `lightup.training.explore.gain`) only where a few
# episodes of held random actions before training beat uniformly random ones' best return by at least
# HELD_LEAD_MIN return scales: MountainCarContinuous-v0 3.4 to 3.6 on seeds 0 to 9 (its flag); Pendulum-v1,
# LunarLanderContinuous-v3 and BipedalWalker-v3 at most 0.15, where exploring costs Pendulum-v1 seeds;
# benchmarks/results/learning_continuous.md, "Exploration where held actions pay".
CONTINUOUS_EXPLORE_SHARE = 0.5
HELD_LEAD_MIN = 1.0


# TrainConfig's fields that choose where a run writes and what it shows, not what it learns.
_NOT_RECIPE = (
    "exp_name", "run_root", "run_dir", "quiet", "tensorboard", "track", "wandb_project", "device", "threads",
    "max_env_errors",
)  # fmt: skip


def recipe_digest() -> str:
    """A short SHA-256 of everything a run's config is filled from when a field is left unset: `DEFAULTS`,
    `CONTINUOUS_DEFAULTS`, the presets, this module's constants and `TrainConfig`'s own defaults. Two
    codes with equal digests run a job with the same settings (a bench's ``--resume`` refuses rows of
    another)."""
    config = {k: v for k, v in dataclasses.asdict(TrainConfig()).items() if k not in _NOT_RECIPE}
    tables = {
        "defaults": DEFAULTS,
        "continuous": CONTINUOUS_DEFAULTS,
        "presets": PRESETS,
        "constants": [
            VALUE_HISTORY_MAX,
            VALUE_ROW_WIDTH,
            EVALUATIONS_PER_RUN,
            COMMAND_OFFSET_SHARE,
            CONTINUOUS_EXPLORE_SHARE,
            HELD_LEAD_MIN,
        ],
        "config": config,
    }
    text = json.dumps(tables, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def random_returns(
    env: gym.Env, seed: int, held: bool = False, episodes: int = 16, max_steps: int = 20_000
) -> np.ndarray:
    """The returns (float64) of ``episodes`` episodes of uniformly random actions, or with ``held`` of
    random actions each held for a heavy-tailed number of steps (exploration's options,
    `lightup.training.explore`), at most ``max_steps`` steps in all (an episode cut there counts its return
    so far). Seeded, and drawing from no generator of the trainer's. An env that raises ends the probe with
    the episodes finished so far: its errors are the trainer's to handle (``max_env_errors``)."""
    from lightup.training.explore import MAX_DURATION  # here: explore imports torch, which `play` need not

    env.action_space.seed(seed)
    rng = np.random.default_rng([seed, 1])  # the options' durations
    returns, steps = [], 0
    try:
        for i in range(episodes):
            env.reset(seed=seed + i)
            total, done, left, action = 0.0, False, 0, None
            while not done and steps < max_steps:
                if not held or left == 0:
                    action = env.action_space.sample()
                    left = min(int(1.0 / (1.0 - rng.random())), MAX_DURATION) if held else 0
                left -= 1
                _, reward, terminated, truncated, _ = env.step(action)
                total, steps, done = total + float(reward), steps + 1, terminated or truncated
            returns.append(total)
            if steps >= max_steps:
                break
    except Exception:  # noqa: BLE001 (any error of the env's own)
        pass
    return np.array(returns, dtype=np.float64)


def random_return_scale(env: gym.Env, seed: int, uniform: np.ndarray | None = None) -> float:
    """The largest absolute return of a few episodes of uniformly random actions (``uniform``, else
    `random_returns` played here), or 1 if all are 0 (or none finished): the unit in which the policy reads
    returns-to-go. Within what ``--return-scale`` takes (`lightup.ranges.SMALL` to `HUGE`): a scale
    derived from an env's returns is not a flag to refuse."""
    uniform = random_returns(env, seed) if uniform is None else uniform
    largest = float(np.max(np.abs(uniform), initial=0.0))
    return min(max(largest, SMALL), HUGE) if np.isfinite(largest) and largest > 0 else 1.0


def held_actions_lead(env: gym.Env, seed: int, scale: float, uniform: np.ndarray | None = None) -> float:
    """How far the best return of a few episodes of held random actions lies above the best of uniformly
    random ones (``uniform``, else played here), in units of the return ``scale`` (`random_returns`; -inf
    where either probe ends with no episode): where held actions reach what uniform ones do not, exploring
    with them pays."""
    uniform = random_returns(env, seed) if uniform is None else uniform
    held = random_returns(env, seed, held=True)
    if not len(uniform) or not len(held):
        return float("-inf")
    return float((held.max() - uniform.max()) / scale)


def with_env_defaults(
    config: TrainConfig,
    max_return: float | None,
    return_scale: Callable[[], float] | None = None,
    continuous: bool = False,
    step_width: int = 1,
    held_lead: Callable[[float], float] | None = None,
    finite_observations: bool = False,
) -> TrainConfig:
    """Fill fields left at None from the preset or `DEFAULTS` (with `CONTINUOUS_DEFAULTS` over them for
    ``continuous`` actions), and from the env: its declared highest return (commands are capped there and
    returns-to-go scaled by it), else ``return_scale()`` (called only if the scale is still unset;
    default 1); ``step_width``, the numbers one step back adds to the value's row (observation, action,
    flag), bounds the value's history; for continuous actions with ``explore_share`` unset,
    ``held_lead(scale)`` (`held_actions_lead`) turns exploration on where it is at least
    `HELD_LEAD_MIN`; with ``finite_observations`` (`lightup.envs.adapters.finite_observations`), the best
    action's value (``value_best``) is on."""
    defaults = dict(PRESETS[config.preset] if config.preset else DEFAULTS)
    if continuous and not config.preset:
        defaults.update(CONTINUOUS_DEFAULTS)
    total = config.total_steps or defaults["total_steps"]
    defaults.setdefault("eval_every", max(total // EVALUATIONS_PER_RUN, 1))
    if max_return is not None:
        defaults.setdefault("max_return", max_return)
        if config.preset in (None, "games"):
            defaults["return_scale"] = max(abs(max_return), 1.0)
    if "return_scale" not in defaults and config.return_scale is None:
        defaults["return_scale"] = return_scale() if return_scale is not None else 1.0
    scale = config.return_scale if config.return_scale is not None else defaults["return_scale"]
    defaults.setdefault("command.offset", COMMAND_OFFSET_SHARE * scale)
    # Finite observations: over a Discrete space's one-hot states a one-step max backup is tabular
    # Q-learning's, which converges (over a few one-hot parts, close to it); over continuous ones a max backup
    # by function approximation can overestimate without bound (benchmarks/results/learning_general.md, "The
    # best action's value").
    defaults.setdefault("value_best", finite_observations)
    probe = continuous and not config.preset and config.explore_share is None and held_lead is not None
    if probe and held_lead(scale) >= HELD_LEAD_MIN:
        defaults["explore_share"] = CONTINUOUS_EXPLORE_SHARE
    updates = {k: v for k, v in defaults.items() if _field(config, k) is None}
    # A default gives way to what was chosen: no TD(lambda) or policy baseline without advantage weighting,
    # no entropy schedule without the entropy term, at most a quarter of the envs greedy.
    chosen = with_overrides(config, updates)
    if chosen.advantage_beta == 0:
        for key, off in (("advantage_lambda", 1.0), ("advantage_baseline", "value"), ("value_select", False)):
            if key in updates:
                updates[key] = off
    select = updates.get("value_select", chosen.value_select)
    if "value_best" in updates and (
        not select or updates.get("advantage_baseline", chosen.advantage_baseline) != "policy"
    ):
        updates["value_best"] = False
    if "entropy_target_final" in updates and chosen.entropy_target == 0:
        updates["entropy_target_final"] = None
    if chosen.value_history is None:
        # The value sees the steps the policy's context holds, as long as its row (the step and those before
        # it, ``step_width`` numbers each: observation, action, flag) stays within VALUE_ROW_WIDTH numbers.
        fits = max(VALUE_ROW_WIDTH // max(step_width, 1) - 1, 0)
        updates["value_history"] = min(chosen.context_len - 1, VALUE_HISTORY_MAX, fits)
    if "greedy_envs" in updates:
        updates["greedy_envs"] = min(chosen.greedy_envs, chosen.n_envs // 4)
    return with_overrides(config, updates)


__all__ = [
    "CONTINUOUS_DEFAULTS",
    "COMMAND_OFFSET_SHARE",
    "DEFAULTS",
    "HELD_LEAD_MIN",
    "PRESETS",
    "PRESET_NAMES",
    "held_actions_lead",
    "random_return_scale",
    "random_returns",
    "recipe_digest",
    "with_env_defaults",
]
