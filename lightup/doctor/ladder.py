"""The ladder: rungs of increasing difficulty, each isolating one more part of a learning agent.

Climb until a rung fails and stop there: the first failure points at the broken part (Andy Jones, "Debugging
RL, Without the Agonizing Pain"). A rung passes on a share of seeds, never on one lucky run. On a failure
the reference `ReturnConditionedMLP` climbs the same rung with the same trainer (differential diagnosis):
reference passes and yours fails, the model is at fault; both fail, look at the training loop, the env or
the hyperparameters.

Budgets were measured on the unbroken Decision Transformer at the doctor's defaults (stacked: seeds 0-5;
interleaved: seeds 0-2): each is at least twice the most env steps any passing run needed. Rules that need
fewer than all seeds come from the measured per-seed pass rates of healthy models (30 inits each), chosen so
that a healthy model fails a rung at most 1% of the time (benchmarks/results/rung_calibration.md; a failed
rung states its rate, `lightup.doctor.calibration`). A rung stops running seeds once its verdict is decided.
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lightup.doctor import calibration
from lightup.doctor.alarms import check_run
from lightup.doctor.checks import Subject, build, overfit
from lightup.doctor.checks_continuous import plays_continuous
from lightup.doctor.rungs import RUNGS, SMALL, Rung
from lightup.doctor.subjects import mlp_factory
from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy
from lightup.training.callbacks import Callback, default_callbacks
from lightup.training.config import TrainConfig


@dataclass
class SeedOutcome:
    seed: int
    passed: bool
    detail: str
    alarms: list[str] = field(default_factory=list)


@dataclass
class RungResult:
    name: str
    status: str
    """pass, fail, limit (a known limit), skipped (a kind of actions the policy does not play) or not run."""
    seeds_passed: int = 0
    seeds_run: int = 0
    seconds: float = 0.0
    detail: str = ""
    diagnosis: str = ""
    outcomes: list[SeedOutcome] = field(default_factory=list)
    reference: RungResult | None = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["reference"] = self.reference.to_dict() if self.reference else None
        return d


# --- one seed of one rung ---


def lookup_table(subject: Subject, seed: int, budget: int) -> tuple[bool, str]:
    """Full-batch Adam on 8 (one-hot state, return) -> action pairs; pass at 100% greedy accuracy."""
    n = 4
    policy = build(subject, seed, n, n).train()
    states = torch.eye(n).repeat(2, 1)  # (8, n): each state twice
    returns = torch.tensor([0.0] * n + [1.0] * n)  # (8,)
    targets = (states.argmax(1) + 1 + 2 * returns.long()) % n  # (8,): a different action per return
    batch = {
        "returns_to_go": returns[:, None],
        "states": states[:, None],
        "prev_actions": torch.full((2 * n, 1), policy.start_action),
        "timesteps": torch.zeros(2 * n, 1, dtype=torch.long),
        "mask": torch.ones(2 * n, 1, dtype=torch.bool),
    }
    optimizer = torch.optim.Adam(policy.parameters(), lr=subject.lr)
    correct = 0
    for step in range(1, budget + 1):
        params = policy(**batch)  # (8, 1, A)
        correct = int((params[:, 0].argmax(-1) == targets).sum())
        if correct == 2 * n:
            return True, f"all {2 * n} pairs right after {step} steps"
        loss = subject.loss(params, targets[:, None], batch["mask"], True)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return False, f"{correct} of {2 * n} pairs right after {budget} steps"


def rung_config(rung: Rung, seed: int, run_dir: Path, overrides: dict, reference: bool) -> TrainConfig:
    base: dict[str, Any] = dict(SMALL) if not rung.full_only else {}
    base.update(dict(rung.overrides))
    base.update(overrides)
    base.update(
        env_id=rung.env_id,
        env_options=rung.env_options,
        seed=seed,
        policy="mlp" if reference else "dt",
        stop_at_threshold=rung.known_limit is None and not rung.commands,
        quiet=True,
        tensorboard=False,
        run_dir=str(run_dir),
        exp_name="doctor",
    )
    return TrainConfig(**base)


FOLLOWED = 0.9
"""Share of greedy episodes that must return within 0.5 of a rung's command."""


def followed(trainer, command: float) -> float:
    """Share of the greedy evaluation episodes at ``command`` that returned within 0.5 of it."""
    returns = np.asarray(trainer.run_episodes(trainer.eval_envs, command, greedy=True))
    return float(np.mean(np.abs(returns - command) <= 0.5))


class FollowsCommands(Callback):
    """Stop at the first greedy evaluation where every command of the rung is met."""

    def __init__(self, commands: tuple[float, ...]):
        self.commands = commands
        self.shares: dict[float, float] = {}
        self.met_at: int | None = None

    def on_eval(self, trainer, metrics: dict[str, float]) -> bool:
        self.shares = {c: followed(trainer, c) for c in self.commands}
        if min(self.shares.values()) >= FOLLOWED:
            self.met_at = trainer.steps
            return False
        return True


def train_seed(
    rung: Rung, subject: Subject, seed: int, run_dir: Path, reference: bool = False
) -> tuple[bool, str]:
    """Train on the rung's env for its budget; pass when greedy evaluation reaches the env's threshold
    (command-follow: +1 when commanded +1 and -1 when commanded -1; a rung with ``commands``: when it
    meets each of them)."""
    from lightup.training.trainer import Trainer

    # The subject's own model, handed to the trainer: it trains with exactly the trainer's optimiser and
    # gradient clipping (the reference is the trainer's own --policy mlp).
    config = rung_config(rung, seed, run_dir, subject.train_overrides, reference)
    policy = None if reference else lambda obs, act, discrete: build(subject, seed, obs, act, discrete)
    trainer = Trainer(config, policy=policy)
    follows = FollowsCommands(rung.commands) if rung.commands else None
    try:
        trainer.learn(rung.budget, default_callbacks(config, [follows] if follows else []))
        if trainer.interrupted_by is not None:  # Ctrl-C stopped the run short: stop here too
            raise KeyboardInterrupt
        if follows is not None:
            if follows.met_at is None:  # the commands as the trained policy meets them at the end
                follows.shares = {c: followed(trainer, c) for c in rung.commands}
            shares = ", ".join(f"{share:.0%} at {c:+g}" for c, share in follows.shares.items())
            when = (
                f"at {follows.met_at} steps" if follows.met_at is not None else f"after {trainer.steps} steps"
            )
            return follows.met_at is not None, (
                f"greedy episodes returning the command (within 0.5; {FOLLOWED:.0%} needed): {shares} {when}"
            )
        if rung.name == "command-follow":
            up, down = trainer.evaluate(1.0)["eval/mean_reward"], trainer.evaluate(-1.0)["eval/mean_reward"]
            return up >= 0.9 and down <= -0.9, f"commanded +1 got {up:+.2f}, commanded -1 got {down:+.2f}"
        if rung.known_limit:
            last = trainer.last_eval if trainer.last_eval is not None else float("nan")
            return trainer.solved_at is not None, (
                f"greedy evaluation at the best stored return: {last:+.2f} after {trainer.steps} steps "
                f"(threshold {trainer.threshold:g})"
            )
        if trainer.solved_at is not None:
            return True, f"reached {trainer.threshold:g} at {trainer.solved_at} steps"
        return (
            False,
            f"last greedy evaluation {trainer.last_eval} < {trainer.threshold:g} after {trainer.steps} steps",
        )
    finally:
        trainer.close()


def run_seed(rung: Rung, subject: Subject, seed: int, runs_dir: Path, reference: bool) -> SeedOutcome:
    who = "reference" if reference else subject.name
    run_dir = runs_dir / f"{rung.name}__{who}__{seed}"
    try:
        if rung.env_id is None:
            sub = dataclasses.replace(subject, factory=mlp_factory) if reference else subject
            if rung.name == "overfit-batch":
                passed, detail = overfit(sub, seed=seed, steps=rung.budget)
            else:
                passed, detail = lookup_table(sub, seed, rung.budget)
        else:
            passed, detail = train_seed(rung, subject, seed, run_dir, reference)
    except Exception as err:  # a crash on a rung is a failure of that rung, reported on its line
        passed, detail = False, f"raised {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    alarms = []
    if not passed and (run_dir / "metrics.jsonl").exists():
        alarms = [a.name for a in check_run(run_dir).alarms]
    return SeedOutcome(seed, passed, detail, alarms)


# --- a rung over seeds, and the climb ---


def run_rung(rung: Rung, subject: Subject, seeds: int, runs_dir: Path, reference: bool = False) -> RungResult:
    t0 = time.perf_counter()
    n_seeds = 1 if rung.known_limit else rung.seeds or seeds
    need = max(1, math.ceil(rung.pass_rate * n_seeds - 1e-9))
    outcomes: list[SeedOutcome] = []
    for seed in range(n_seeds):
        outcomes.append(run_seed(rung, subject, seed, runs_dir, reference))
        passed = sum(o.passed for o in outcomes)
        if passed >= need or passed + (n_seeds - len(outcomes)) < need:
            break  # the verdict is decided: the remaining seeds cannot change it
    passed = sum(o.passed for o in outcomes)
    status = "limit" if rung.known_limit else "pass" if passed >= need else "fail"
    first_bad = next((o for o in outcomes if not o.passed), outcomes[0])
    detail = f"seed {first_bad.seed}: {first_bad.detail}"
    if first_bad.alarms:
        detail += f" (alarms: {', '.join(first_bad.alarms)})"
    result = RungResult(
        rung.name, status, passed, len(outcomes), time.perf_counter() - t0, detail, outcomes=outcomes
    )
    if rung.known_limit:
        result.diagnosis = f"known limit: {rung.known_limit}"
    elif status == "fail" and not reference:
        result.detail += f"; {calibration.note(rung.name, need, n_seeds)}"
    return result


def diagnose(rung: Rung, subject: Subject, result: RungResult, seeds: int, runs_dir: Path) -> None:
    """Differential diagnosis of a failed rung: the reference MLP climbs it with the same trainer."""
    if rung.memory:
        result.diagnosis = (
            f"{rung.on_failure}; the reference MLP has no memory and cannot pass this rung, so it cannot "
            "arbitrate: if the memoryless rungs below pass, suspect the model's use of its history"
        )
        return
    ref = run_rung(rung, subject, seeds, runs_dir, reference=True)
    result.reference = ref
    result.seconds += ref.seconds
    if ref.status == "pass" and rung.env_id is None:
        # A supervised rung is cheap: try the subject at a tenth of its learning rate before blaming it.
        t0 = time.perf_counter()
        lower = dataclasses.replace(subject, lr=subject.lr / 10)
        retry = run_seed(rung, lower, 0, runs_dir, reference=False)
        result.seconds += time.perf_counter() - t0
        if retry.passed:
            result.diagnosis = (
                f"hyperparameters: the learning rate {subject.lr:g} is too high for this model; at "
                f"{lower.lr:g} it passes ({retry.detail}); lower --lr"
            )
            return
    if ref.status == "pass":
        result.diagnosis = (
            f"model at fault: the reference MLP passes ({ref.seeds_passed}/{ref.seeds_run} seeds) with "
            f"the same trainer; {rung.on_failure}"
        )
    else:
        result.diagnosis = (
            f"training loop, env or hyperparameters: the reference MLP fails too "
            f"({ref.seeds_passed}/{ref.seeds_run} seeds); {rung.on_failure}"
        )


def env_rung(env_id: str, budget: int) -> Rung:
    """A rung on any Gymnasium env with a reward threshold (``--env``), with the trainer's own defaults."""
    from lightup.envs import make_env, reward_threshold

    env = make_env(env_id)  # an unknown id is a one-line LightupError
    threshold = reward_threshold(env)
    env.close()
    if threshold is None:
        raise LightupError(
            f"{env_id} has no reward_threshold, so the doctor cannot tell a pass from a fail; "
            "register it with one"
        )
    return Rung(
        f"env:{env_id}",
        f"your env {env_id}, with the trainer's defaults for it",
        "the lower rungs pass but this env fails: budget, return scale, context length or the env itself",
        env_id,
        budget=budget,
        full_only=True,  # the trainer's own defaults, not the ladder's small config
    )


def select(
    names: tuple[str, ...] = (), full: bool = False, envs: tuple[str, ...] = (), env_budget: int = 100_000
) -> list[Rung]:
    extra = [env_rung(e, env_budget) for e in envs]
    if names:
        return [r for r in RUNGS if r.name in names] + extra
    return [r for r in RUNGS if full or not r.full_only] + extra


def other_kind(rung: Rung, subject: Subject) -> str | None:
    """Why the subject does not play the rung's kind of actions, or None. Such a rung is skipped, never
    failed: a model made for discrete actions is not broken for lacking a continuous head (the static
    check `continuous_actions` judges the same way)."""
    if rung.env_id is None or rung.continuous != subject.discrete:
        return None
    if rung.continuous:
        return plays_continuous(subject)
    if isinstance(subject.factory, SequencePolicy):
        return "the policy plays continuous actions only"
    try:
        build(subject, discrete=True)
    except Exception as err:  # noqa: BLE001 (any refusal of the factory means: not this kind)
        return f"its factory builds no policy for discrete actions ({type(err).__name__})"
    return None


def climb(
    subject: Subject,
    rungs: list[Rung],
    seeds: int = 3,
    full: bool = False,
    runs_dir: str | Path | None = None,
    on_result=None,
) -> list[RungResult]:
    """Run the rungs in order; after the first failure the rest are "not run" unless ``full``.

    ``runs_dir`` keeps each seed's run folder (for `lightup doctor --run`); by default they go to a
    temporary folder that is removed afterwards."""
    results: list[RungResult] = []
    with tempfile.TemporaryDirectory(prefix="lightup-doctor-") as tmp:
        root = Path(runs_dir) if runs_dir is not None else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        failed = False
        for rung in rungs:
            if failed and not full:
                results.append(RungResult(rung.name, "not run", detail="an earlier rung failed"))
                continue
            why = other_kind(rung, subject)
            if why is not None:
                results.append(RungResult(rung.name, "skipped", detail=why.splitlines()[0]))
                if on_result is not None:
                    on_result(results[-1])
                continue
            result = run_rung(rung, subject, seeds, root)
            if result.status == "fail":
                failed = True
                diagnose(rung, subject, result, seeds, root)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
