"""The ladder's rungs: what each isolates, what its failure usually means, its env, budget and pass rule.

Budgets and pass rules are measured (see `lightup.doctor.ladder` and benchmarks/results/rung_calibration.md);
`lightup.doctor.ladder` climbs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rung:
    name: str
    isolates: str
    on_failure: str
    """What a failure here usually means."""
    env_id: str | None = None
    """None: a supervised rung, no environment; its budget counts gradient steps."""
    env_options: tuple[str, ...] = ()
    budget: int = 1024
    """Env steps per seed (gradient steps for supervised rungs)."""
    pass_rate: float = 1.0
    """Share of seeds that must pass."""
    seeds: int | None = None
    """Seeds this rung runs whatever --seeds says (None: --seeds); set where the measured per-seed pass
    rate of healthy models needs more seeds for a rule that fails them at most 1% of the time
    (benchmarks/results/rung_calibration.md)."""
    full_only: bool = False
    """Run only with --full or when named in --rungs (long)."""
    memory: bool = False
    """Needs memory: the memoryless reference MLP cannot pass it, so it cannot arbitrate."""
    known_limit: str | None = None
    """A limit of return conditioning itself: reported, never a failure."""
    overrides: tuple[tuple[str, Any], ...] = ()
    """TrainConfig fields that differ from the ladder's small config."""
    continuous: bool = False
    """Its env has continuous (Box) actions: a policy that plays only discrete ones skips it."""
    commands: tuple[float, ...] = ()
    """Commanded returns the greedy policy must meet instead of the env's threshold: a seed passes (and
    stops) at the first evaluation where, at each command, 90% of the episodes return within 0.5 of it."""


# The trainer tests' small config (tests/test_training.py): solves PressButton in well under 3000 steps.
SMALL = dict(
    n_envs=8,
    rollout_steps=8,
    updates_per_round=8,
    batch_size=32,
    context_len=4,
    n_layer=1,
    n_embd=32,
    n_head=2,
    eval_every=256,
    eval_episodes=20,
    buffer_kind="fifo",
    # Rounds 8 times smaller than the trainer's, so a replay 10 times smaller than the games': a 3000-episode
    # replay keeps the interleaved DT at chance on RecallButton within the rung's budget.
    buffer_capacity=300,
    # Plain return-conditioned imitation with the timestep embedding (the "games" preset's settings), which
    # the budgets assume.
    timestep_embedding=True,
    advantage_beta=0.0,
)
LARGE = (("eval_episodes", 10),)  # CartPole, LunarLander: fewer evaluation episodes than the trainer's
CONTINUOUS_OVERRIDES = (("advantage_beta", 0.5), ("explore_share", 0.0))

RUNGS: tuple[Rung, ...] = (
    Rung(
        "overfit-batch",
        "the gradient path, the loss and the optimiser: memorise 16 fixed windows",
        "the model cannot fit data at all: a broken gradient path, a wrong loss or a bad learning rate",
        budget=400,
    ),
    Rung(
        "lookup-table",
        "conditioning on state and return together: learn (state, return) -> action for 8 pairs",
        "an input is ignored or read from the wrong token (return or state embedding, the readout position)",
        budget=1500,
    ),
    Rung(
        "probe-constant",
        "the plumbing: env -> rollout -> replay -> update -> evaluation, with one action",
        "the trainer, the rollout or the env wrappers are broken (one action cannot be chosen wrongly)",
        "lightup/ProbeConstant-v0",
        budget=512,
    ),
    Rung(
        "probe-obs-reward",
        "episodes whose return depends on the observation (one action)",
        "returns or observations are mangled on the way into the replay buffer",
        "lightup/ProbeObsReward-v0",
        budget=512,
    ),
    Rung(
        "probe-delayed-reward",
        "two-step episodes: returns-to-go across steps, episode ends (one action)",
        "episode boundaries, terminated/truncated handling or returns-to-go over several steps",
        "lightup/ProbeDelayedReward-v0",
        budget=512,
    ),
    Rung(
        "probe-action-reward",
        "return conditioning picks the better of two actions (constant observation)",
        "the commanded return does not reach the action choice: the returns-to-go input or the commands",
        "lightup/ProbeActionReward-v0",
        budget=1024,
    ),
    Rung(
        "probe-action-obs-reward",
        "the action must depend on the observation and the return",
        "the observation does not reach the action choice: the state embedding or the readout token",
        "lightup/ProbeActionObsReward-v0",
        budget=2048,
    ),
    Rung(
        "command-follow",
        "the same state, commanded +1 or -1, must give different actions",
        "the policy ignores the commanded return: returns-to-go scaling, relabelling or the return embedding",
        "lightup/CommandFollow-v0",
        budget=2048,
    ),
    # Continuous actions (tanh-Gaussian head, actions rescaled from [0, 1]), with advantage weighting as in
    # the default recipe: plain imitation misses seeds here. Without exploration, as calibrated
    # (benchmarks/results/rung_calibration.md). Policies for discrete actions only skip them.
    Rung(
        "continuous-target-action",
        "a continuous action learnt from returns alone (constant observation, a fixed right action)",
        "the continuous head, its log-likelihood or the rescaling of actions to the env's bounds",
        "lightup/ProbeTargetAction-v0",
        budget=2048,
        continuous=True,
        overrides=CONTINUOUS_OVERRIDES,
    ),
    Rung(
        "continuous-obs-action",
        "a continuous action that must follow the observation",
        "the observation does not reach the continuous head's mean: the state embedding or the readout",
        "lightup/ProbeObsAction-v0",
        budget=3072,
        continuous=True,
        overrides=CONTINUOUS_OVERRIDES,
    ),
    Rung(
        "command-follow-later",
        "the return still to collect, read at the second step: commanded 0 after a hidden +1 or -1",
        "the return-to-go is read only at some positions of the window (the first), or relabelled wrongly "
        "past the first step",
        "lightup/CommandFollowLater-v0",
        # Sized for the slowest healthy model measured, the example GRU (examples/custom_policy.py), which
        # needs many times our DT's steps; not every one of its seeds passes, hence 2 of 4.
        budget=8192,
        commands=(0.0,),
        pass_rate=0.5,
        seeds=4,
    ),
    Rung(
        "press-fixed-light",
        "PressButton with button 0 always lit: learn one action from returns alone",
        "return-conditioned improvement is broken: commands, replay or evaluation",
        "lightup/PressButton-v0",
        ("fixed_light=true",),
        budget=2048,
    ),
    Rung(
        "press-size-2",
        "PressButton: press the lit one of 2 buttons",
        "the policy does not read its observation when acting",
        "lightup/PressButton-v0",
        budget=3072,
    ),
    Rung(
        "press-size-4",
        "PressButton with 4 buttons: more actions, rarer successes",
        "exploration or entropy: the policy collapses before it finds the good action",
        "lightup/PressButton-v0",
        ("size=4",),
        budget=10_000,
        # Some healthy seeds stall at 3 buttons of 4 whatever the budget: 1 of 5 seeds must pass.
        pass_rate=0.2,
        seeds=5,
    ),
    Rung(
        "press-length-5",
        "PressButton with 5 presses per game: multi-step returns-to-go and credit",
        "returns-to-go or timesteps across steps of an episode, the KV cache in rollouts",
        "lightup/PressButton-v0",
        ("game_length=5",),
        # Above the most steps any healthy model measured needed (the example GRU's).
        budget=12_000,
    ),
    Rung(
        "press-hard",
        "PressButton hard mode: the right button is (lit + t) % size, so the policy must count",
        "the timestep or the history does not reach the action: timestep embedding, context, KV cache",
        "lightup/PressButton-v0",
        ("game_length=5", "hard_mode=true"),
        budget=20_000,
        # Healthy models fail many seeds (a GRU without timesteps about half): 1 of 7 seeds must pass.
        pass_rate=0.14,
        seeds=7,
        memory=True,
    ),
    Rung(
        "recall",
        "RecallButton: press the button that was lit two steps ago",
        "attention over the history: the causal mask, the context length, the KV cache",
        "lightup/RecallButton-v0",
        budget=12_000,
        # Not every healthy seed passes (interleaved): 2 of 3.
        pass_rate=0.6,
        memory=True,
    ),
    Rung(
        "recall-rounds",
        "RecallButton, 2 to 5 rounds an episode (6 to 15 steps, longer than the context) ending at the "
        "first miss: the envs restart at different times",
        "the rollout cache past the context length or at staggered resets: its ring position, its reset",
        "lightup/RecallButton-v0",
        ("min_rounds=2", "max_rounds=5", "end_on_miss=true"),
        budget=30_000,
        memory=True,
    ),
    Rung(
        "gamble",
        "Gamble (Paster et al. 2022): conditioning on the best return picks the worst action",
        "(a known limit: return conditioning cannot tell luck from skill)",
        "lightup/Gamble-v0",
        budget=1024,
        known_limit="return conditioning cannot count on luck: the top returns come from a lucky gamble",
    ),
    Rung(
        "cartpole",
        "CartPole-v1: a standard control task, long episodes",
        "scale: context length, return scaling, budget",
        "CartPole-v1",
        budget=100_000,
        full_only=True,
        overrides=LARGE + (("eval_every", 5000), ("preset", "cartpole")),
    ),
    Rung(
        "lunarlander",
        "LunarLander-v3: dense, noisy rewards and long credit assignment",
        "return scaling, commands and exploration at scale",
        "LunarLander-v3",
        budget=1_000_000,
        full_only=True,
        overrides=LARGE + (("eval_every", 50_000), ("preset", "lunarlander")),
    ),
)
RUNG_NAMES = tuple(r.name for r in RUNGS)
