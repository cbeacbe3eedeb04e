"""Training alarms: read a run's metrics (``metrics.jsonl``) and say what looks wrong, what it usually
means, and where to look.

Each alarm is a function ``(records, context) -> Alarm | None`` over the records of
`lightup.training.logger.read_metrics`. The trainer logs per round: ``train/loss``, ``train/nll``,
``train/entropy``, ``train/alpha``, ``train/grad_norm`` (before clipping), ``rollout/ep_rew_mean``,
``rollout/commanded_return``, ``rollout/entropy``, ``rollout/max_prob``, and ``eval/*`` at evaluations.
It logs no share of probability on illegal actions, so that alarm reads ``rollout/illegal_mass`` when a
trainer provides it and is skipped otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lightup.errors import LightupError


@dataclass
class Alarm:
    name: str
    message: str
    """What was seen, with numbers."""
    meaning: str
    """What it usually means."""
    where: str
    """Where to look."""
    step: int | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


@dataclass
class RunReport:
    run_dir: str
    records: int
    alarms: list[Alarm] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    """Alarms that could not be checked, with the metric they miss."""

    def to_dict(self) -> dict:
        return {
            "run_dir": self.run_dir,
            "records": self.records,
            "alarms": [a.to_dict() for a in self.alarms],
            "skipped": self.skipped,
        }


@dataclass
class Context:
    max_entropy: float | None = None
    """log(number of actions), when known."""
    threshold: float | None = None
    """The env's reward threshold, when known."""
    unknown: str = "config.json"
    """Why the env's facts are unknown, when they are: where a user would look."""


class Missing(Exception):
    """A metric an alarm needs is not in the records."""


def series(records: list[dict], tag: str) -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of a tag; non-finite values (logged as strings) become NaN."""
    steps, values = [], []
    for r in records:
        if tag in r:
            v = r[tag]
            steps.append(r["step"])
            values.append(float(v) if isinstance(v, int | float) or _non_finite(v) else math.nan)
    if not values:
        raise Missing(tag)
    return np.array(steps), np.array(values, dtype=np.float64)


def _non_finite(v) -> bool:
    return isinstance(v, str) and v.lower() in ("nan", "inf", "-inf")


def _tail(values: np.ndarray, share: float = 0.25) -> np.ndarray:
    return values[-max(1, int(len(values) * share)) :]


def _head(values: np.ndarray, share: float = 0.25) -> np.ndarray:
    return values[: max(1, int(len(values) * share))]


# --- the alarms ---


def non_finite(records: list[dict], ctx: Context) -> Alarm | None:
    for r in records:
        for tag, v in r.items():
            if _non_finite(v) or (isinstance(v, float) and not math.isfinite(v)):
                return Alarm(
                    "non-finite",
                    f"{tag} was {v} at step {r['step']}",
                    "a diverging update or an env that returns NaN/inf",
                    "lower --lr or --grad-clip; check the env's observations and rewards; `lightup doctor` "
                    "static checks (gradients)",
                    r["step"],
                )
    return None


def entropy_collapse(records: list[dict], ctx: Context) -> Alarm | None:
    if ctx.max_entropy is None:
        raise Missing(f"the number of actions ({ctx.unknown})")
    steps, entropy = series(records, "rollout/entropy")
    w = max(3, len(entropy) // 10)
    if len(entropy) < w:
        return None
    rolling = np.convolve(entropy, np.ones(w) / w, mode="valid")  # mean over each stretch of w rounds
    low = int(np.argmin(rolling))
    if rolling[low] < 0.05 * ctx.max_entropy:
        return Alarm(
            "entropy-collapse",
            f"rollout entropy averaged {rolling[low]:.3f} ({rolling[low] / ctx.max_entropy:.0%} of the "
            f"maximum) over {w} rounds up to step {int(steps[low + w - 1])}",
            "the policy turned deterministic: exploration stopped, the replay fills with one behaviour",
            "--entropy-target and train/alpha (is the entropy term on?), --temperature",
            int(steps[low + w - 1]),
        )
    return None


def entropy_stuck_at_max(records: list[dict], ctx: Context) -> Alarm | None:
    if ctx.max_entropy is None:
        raise Missing(f"the number of actions ({ctx.unknown})")
    steps, entropy = series(records, "rollout/entropy")
    if len(entropy) < 8:
        return None
    late = float(np.mean(entropy[len(entropy) // 2 :]))
    if late > 0.97 * ctx.max_entropy:
        return Alarm(
            "entropy-stuck-at-max",
            f"rollout entropy stays at {late / ctx.max_entropy:.0%} of the maximum over the second half",
            "the policy is not learning: no gradient reaches the head, or the loss sees no real targets",
            "`lightup doctor` static checks (gradients, padded_targets_carry_no_loss, overfit_batch), --lr",
            int(steps[-1]),
        )
    return None


def illegal_action_mass(records: list[dict], ctx: Context) -> Alarm | None:
    steps, mass = series(records, "rollout/illegal_mass")
    worst = float(np.nanmax(mass))
    if worst > 1e-6:
        return Alarm(
            "illegal-action-mass",
            f"up to {worst:.2%} of the action probability on illegal actions (start token or padding)",
            "the head can output the start or padding token",
            "the model's head size and its distribution(); `lightup doctor` (start_token_never_sampled)",
            int(steps[int(np.nanargmax(mass))]),
        )
    return None


def memorising(records: list[dict], ctx: Context) -> Alarm | None:
    steps, nll = series(records, "train/nll")
    _, ret = series(records, "rollout/ep_rew_mean")
    if len(nll) < 8 or len(ret) < 8:
        return None
    late_nll = float(np.mean(_tail(nll)))
    gain = float(np.mean(_tail(ret)) - np.mean(_head(ret)))
    spread = float(np.std(ret)) + 1e-9
    solved = ctx.threshold is not None and float(np.mean(_tail(ret))) >= ctx.threshold
    if late_nll < 0.05 and gain < 0.5 * spread and not solved:
        return Alarm(
            "memorising",
            f"the action loss fell to {late_nll:.3f} while the rollout return stayed flat "
            f"({np.mean(_head(ret)):.2f} -> {np.mean(_tail(ret)):.2f})",
            "the model memorises the replay buffer instead of improving: too little new data or commands "
            "that ask for nothing new",
            "--buffer-capacity, --command.* (margin, offset), --entropy-target; is the target return leaking "
            "into the data? (`lightup doctor`: relabelling)",
            int(steps[-1]),
        )
    return None


def command_drift(records: list[dict], ctx: Context) -> Alarm | None:
    _, commanded = series(records, "rollout/commanded_return")
    steps, achieved = series(records, "rollout/ep_rew_mean")
    if len(commanded) != len(achieved) or len(achieved) < 8:
        return None
    # The gap relative to the returns themselves: commands set a margin above the best return (20% by
    # default), so a healthy run's absolute gap grows with its returns while the relative one does not.
    gap = np.abs(commanded - achieved)
    relative = gap / np.maximum(np.maximum(np.abs(commanded), np.abs(achieved)), 1e-6)
    early, late = float(np.mean(_head(relative))), float(np.mean(_tail(relative)))
    if late > 0.5 and late > early + 0.25:
        return Alarm(
            "command-drift",
            f"commanded and achieved returns drift apart: gap {early:.0%} -> {late:.0%} of the larger of the "
            f"two (last gap {float(gap[-1]):.2f})",
            "the policy ignores its command, or the commands run away above what the agent can reach",
            "--command.* (margin, offset, kind), --return-scale; `lightup doctor` (returns_to_go_matter, "
            "command-follow)",
            int(steps[-1]),
        )
    return None


def exploding_gradients(records: list[dict], ctx: Context) -> Alarm | None:
    steps, norm = series(records, "train/grad_norm")
    finite = norm[np.isfinite(norm)]
    if len(finite) < 4:
        return None
    typical = float(np.median(_head(finite, 0.5)))
    worst = float(np.max(finite))
    if worst > 1e3 or worst > 100 * max(typical, 1e-8):
        return Alarm(
            "exploding-gradients",
            f"gradient norm up to {worst:.3g} (typical early: {typical:.3g})",
            "a learning rate too high for the model, or inputs on very different scales",
            "--lr, --grad-clip, --return-scale (returns-to-go should be of order 1)",
            int(steps[int(np.argmax(np.where(np.isfinite(norm), norm, -np.inf)))]),
        )
    return None


ALARMS: tuple[Callable[[list[dict], Context], Alarm | None], ...] = (
    non_finite,
    entropy_collapse,
    entropy_stuck_at_max,
    illegal_action_mass,
    memorising,
    command_drift,
    exploding_gradients,
)


def check_records(records: list[dict], ctx: Context | None = None) -> tuple[list[Alarm], list[str]]:
    """All alarms over some metrics records: (alarms raised, alarms skipped with the metric they lack)."""
    ctx = ctx or Context()
    raised, skipped = [], []
    for alarm in ALARMS:
        try:
            found = alarm(records, ctx)
        except Missing as missing:
            skipped.append(f"{alarm.__name__} (needs {missing})")
            continue
        if found is not None:
            raised.append(found)
    return raised, skipped


def run_context(run_dir: Path) -> Context:
    """The number of actions and the reward threshold of a run's env, from its config.json."""
    from lightup.jsonfile import JsonLimitError, read_json

    try:
        config = read_json(run_dir / "config.json")
    except JsonLimitError:
        raise
    except LightupError:  # missing, binary or corrupt: judge without it (the file is data, never run)
        return Context()
    if not isinstance(config, dict):
        return Context()
    from lightup.envs import check_env_module_trusted, make_env, parse_options, reward_threshold

    try:
        check_env_module_trusted(config["env_id"])  # a module named in a file is not imported unasked
        env = make_env(config["env_id"], **parse_options(list(config.get("env_options", []))))
    except LightupError as err:  # an untrusted module, an env that no longer builds: judge without it
        return Context(unknown=f"the env of config.json: {err}")
    except Exception:  # noqa: BLE001 (a bad config.json's env_id or options)
        return Context()
    n = getattr(env.action_space, "n", None)
    unknown = "none: the actions are continuous" if n is None else "none: one action" if n < 2 else ""
    ctx = Context(
        max_entropy=math.log(n) if n and n > 1 else None, threshold=reward_threshold(env), unknown=unknown
    )
    env.close()
    return ctx


def check_run(run_dir: str | Path) -> RunReport:
    """The alarms of one run folder (made by `lightup train`)."""
    from lightup.training.logger import read_metrics

    run_dir = Path(run_dir)
    if not (run_dir / "metrics.jsonl").is_file():
        raise LightupError(
            f"{str(run_dir)!r} holds no metrics.jsonl; pass a run folder made by `lightup train`"
        )
    records = read_metrics(run_dir)
    alarms, skipped = check_records(records, run_context(run_dir))
    return RunReport(str(run_dir), len(records), alarms, skipped)
