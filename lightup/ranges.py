"""The allowed range of every size, count, seed and number a user can hand lightup, in one table.

The command line and the files (a run's config.json, a checkpoint's metadata, a bench's config.json) are
checked against the same ranges, before anything is allocated or looped over. Upper bounds are what one
machine can hold or play in sensible time (a million envs, a million evaluation episodes or a 10**8-point
sweep would hang rather than fail); the combined size of a model and one update's activations is checked
against the machine's memory by `check_memory`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
from dataclasses import dataclass
from typing import Any

from lightup.errors import LightupError


@dataclass(frozen=True)
class Range:
    """``low`` to ``high`` (each included unless open); ``integer``: ints only, else any finite number."""

    low: float
    high: float
    integer: bool = True
    low_open: bool = False
    high_open: bool = False

    def __str__(self) -> str:
        if self.integer:
            return f"an integer from {_show(self.low)} to {_show(self.high)}"
        left = f"> {self.low:g}" if self.low_open else f">= {self.low:g}"
        right = f"< {self.high:g}" if self.high_open else f"<= {self.high:g}"
        return f"a finite number {left} and {right}"

    def holds(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int if self.integer else int | float):
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _show(n: float) -> str:
    return f"{int(n):_}" if abs(n) >= 10**6 else str(int(n))


def _int(low: int, high: int) -> Range:
    return Range(low, high)


def _num(low: float, high: float, low_open: bool = False, high_open: bool = False) -> Range:
    return Range(low, high, integer=False, low_open=low_open, high_open=high_open)


STEPS = _int(1, 10**10)  # env steps: a budget far beyond any run here, small enough to stay an int64
SEED = _int(0, 2**32 - 1)  # what every seeded library (numpy, torch, gymnasium) takes without wrapping
HUGE = 1e12  # returns, commands and offsets: far beyond any env's return, still exact in float64
# The least sampling temperature and return scale: logits or returns divided by less overflow float32 (a
# logit of 10 over 1e-300 is inf, and inf - inf a NaN probability).
SMALL = 1e-6

# name -> range, shared by every config and file that has a field of that name (train, bench, doctor, the
# viz commands, checkpoint counters). A name means the same kind of thing wherever it appears.
RANGES: dict[str, Range] = {
    # seeds and budgets
    "seed": SEED,
    "total_steps": STEPS,
    "budget": STEPS,
    "env_budget": STEPS,
    "eval_every": STEPS,
    "checkpoint_every": STEPS,
    "buffer_steps": STEPS,
    # the model (check_memory bounds their product)
    "context_len": _int(1, 4096),
    "n_layer": _int(1, 64),
    "n_head": _int(1, 64),
    "n_embd": _int(1, 8192),
    "value_hidden": _int(1, 8192),
    "value_history": _int(0, 64),
    # rollouts, updates and replay: each env and each evaluation episode is a live env object
    "n_envs": _int(1, 1024),
    "greedy_envs": _int(0, 1024),
    "eval_episodes": _int(1, 1024),
    "rollout_steps": _int(1, 100_000),
    "updates_per_round": _int(0, 100_000),
    "batch_size": _int(1, 65_536),
    "buffer_capacity": _int(1, 10_000_000),
    "max_env_errors": _int(1, 1_000_000),
    "threads": _int(1, 256),
    "workers": _int(1, 1024),
    # counts of runs and repetitions
    "seeds": _int(1, 10_000),
    "bootstrap_reps": _int(1, 20_000),  # rliable: ~6 s per 10k replications and agent
    "commands": _int(1, 1000),
    "episodes_per_command": _int(1, 1000),
    "episodes": _int(1, 1000),
    "max_steps": _int(1, 1_000_000),
    "max_episode_steps": _int(1, 1_000_000),
    "fps": _int(1, 240),
    "episode": _int(-10_000_000, 10_000_000),
    "k": _int(1, 10_000_000),
    # rates and shares
    "lr": _num(0, 1, low_open=True, high_open=True),
    "lr_final_frac": _num(0, 1),
    "temperature": _num(SMALL, 100),
    "ema": _num(0, 1, high_open=True),
    "gamma": _num(0, 1, low_open=True),
    "advantage_gamma": _num(0, 1, low_open=True),
    "advantage_lambda": _num(0, 1),
    "explore_share": _num(0, 1),
    "dropout": _num(0, 1, high_open=True),
    "entropy_target": _num(0, 1),
    "entropy_target_final": _num(0, 1),
    "jitter": _num(0, 1),
    # scales and weights
    "weight_decay": _num(0, 1e6),
    "grad_clip": _num(0, 1e9, low_open=True),
    "init_alpha": _num(0, 1e6, low_open=True),
    "alpha_lr": _num(0, 1),
    "advantage_beta": _num(0, 1e6),
    "return_scale": _num(SMALL, HUGE),
    "margin": _num(-1, 100),
    # returns and commands
    "max_return": _num(-HUGE, HUGE),
    "value": _num(-HUGE, HUGE),
    "offset": _num(-HUGE, HUGE),
    "command": _num(-HUGE, HUGE),
    "low": _num(-HUGE, HUGE),
    "high": _num(-HUGE, HUGE),
    # a checkpoint's counters
    "steps": _int(0, STEPS.high + 10**6),
    "rounds": _int(0, STEPS.high),
    "updates": _int(0, 10**12),
    "episodes_seen": _int(0, STEPS.high),
    "solved_at": _int(0, STEPS.high + 10**6),
}


def check(name: str, value: Any, flag: str | None = None, where: str = "") -> Any:
    """``value`` if it is in ``name``'s range, else a one-line LightupError naming ``flag`` (default
    ``--name``) and ``where`` it came from (a file), with the range."""
    allowed = RANGES[name]
    if allowed.holds(value):
        return value
    flag = flag or "--" + name.replace("_", "-")
    raise LightupError(f"{where}{flag} must be {allowed}, got {value!r}")


def check_args(args: Any, names: tuple[str, ...]) -> None:
    """`check` the named attributes of parsed arguments (an argparse namespace) that are not None."""
    for name in names:
        if getattr(args, name) is not None:
            check(name, getattr(args, name))


def _plain(hint: Any) -> Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint


def _number_kind(hint: Any) -> type | None:
    """int or float for a field of that type (also one that may be None), else None."""
    hint = _plain(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        hint = args[0] if len(args) == 1 else None
    return hint if hint in (int, float) else None


def check_config(obj: Any, prefix: str = "", where: str = "") -> None:
    """`check` every int and float field of a config dataclass (and of the dataclasses in it, as
    ``--outer.name``); a field left at None is a default worked out later. Every such field must have a
    range in `RANGES`: a new one without is an error here, not an unbounded input."""
    hints = typing.get_type_hints(type(obj), include_extras=True)
    for field in dataclasses.fields(obj):
        value, hint = getattr(obj, field.name), hints[field.name]
        if dataclasses.is_dataclass(value):
            check_config(value, f"{prefix}{field.name}.", where)
            continue
        if _number_kind(hint) is None or (value is None and type(None) in typing.get_args(_plain(hint))):
            continue
        assert field.name in RANGES, f"{type(obj).__name__}.{field.name} has no range in lightup.ranges"
        check(field.name, value, "--" + prefix + field.name.replace("_", "-"), where)


def _range_text(name: str, flag: str) -> str:
    text = str(RANGES[name]).removeprefix("an integer from ").removeprefix("a finite number ")
    return f"{flag} {text}"


def ranges_help(cls: type) -> str:
    """A config class's numbers and their ranges, as docs/ranges.md lists them: ``--seed 0 to ...; ...``."""
    parts = []

    def walk(cls: type, prefix: str) -> None:
        hints = typing.get_type_hints(cls, include_extras=True)
        for field in dataclasses.fields(cls):
            hint = hints[field.name]
            if dataclasses.is_dataclass(_plain(hint)):
                walk(_plain(hint), f"{prefix}{field.name}.")
            elif _number_kind(hint) is not None and field.name in RANGES:
                parts.append(_range_text(field.name, f"--{prefix}{field.name.replace('_', '-')}"))

    walk(cls, "")
    return "Ranges: " + "; ".join(parts) + "."


# A checkpoint's counters -> their ranges.
COUNTERS = {"steps": "steps", "rounds": "rounds", "updates": "updates", "episodes": "episodes_seen"}


def check_counters(counters: Any, where: str = "") -> None:
    """A checkpoint's counters (steps, rounds, updates, episodes, solved_at), each in its range: a crafted
    file cannot make a resumed run train a million steps more or fewer."""
    if not isinstance(counters, dict):
        raise LightupError(f"{where}counters must be a JSON object, got {type(counters).__name__}")
    for key, name in COUNTERS.items():
        check(name, counters.get(key), f"counter {key!r}", where)
    if counters.get("solved_at") is not None:
        check("solved_at", counters["solved_at"], "counter 'solved_at'", where)


def physical_memory() -> int:
    """Bytes of RAM on this machine (a generous 1 TiB where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**40


def check_memory(n_layer: int, n_embd: int, n_head: int, context_len: int, batch_size: int, where="") -> None:
    """Refuse a model whose weights (with gradients and Adam's two moments) or one update's activations
    would not fit in this machine's memory: each size is in range, but their product may not be. A rough
    upper estimate (three tokens per step, about 16 floats per token and layer, and one attention matrix per
    head and layer), enough to tell an hour of swapping or an out-of-memory kill from a run."""
    tokens = 3 * context_len
    weights = 4 * 4 * 12 * n_layer * n_embd**2
    activations = 4 * batch_size * n_layer * (16 * tokens * n_embd + n_head * tokens**2)
    need, have = weights + activations, physical_memory()
    if need > have:
        raise LightupError(
            f"{where}--n-layer {n_layer}, --n-embd {n_embd}, --n-head {n_head}, --context-len {context_len} "
            f"and --batch-size {batch_size} need about {need / 2**30:,.0f} GiB for one update, more than "
            f"this machine's {have / 2**30:,.0f} GiB; make some of them smaller"
        )
