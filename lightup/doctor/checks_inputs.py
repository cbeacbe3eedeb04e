"""Static checks of what reaches the output: each input at each position, the start token, the causal mask.

"Output at t" follows the `SequencePolicy` contract: position t of ``forward``'s output gives the
distribution of a_t, from R_t, s_t, a_{t-1} and t (and the steps before, for a model with memory). So
changing one input at step t alone must change the output at t, at every position of the window, the first,
the later ones and the last alike; a model with no memory (the reference MLP) obeys the same rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
from torch import Tensor

from lightup.doctor import limits
from lightup.doctor.check_base import (
    MODES,
    WINDOW,
    Finding,
    Subject,
    build,
    check,
    discrete_only,
    inputs,
    random_actions,
    random_batch,
    rel_diff,
    row_changes,
    seeded,
    window,
)
from lightup.models.decision_transformer import DecisionTransformer
from lightup.models.policy import SequencePolicy

Batch = dict[str, Tensor]


def declares(policy: SequencePolicy, name: str) -> bool | None:
    """Whether the policy says it reads the input ``name``: True or False where its config says so (our
    Decision Transformer always reads a_{t-1}, and reads t with ``timestep_embedding``; the MLP reads a_{t-1}
    with ``use_prev_action``), None where it says nothing (a user's model)."""
    if name in ("returns_to_go", "states"):
        return True
    config = getattr(policy, "config", None)
    if name == "prev_actions":
        if hasattr(config, "use_prev_action"):
            return bool(config.use_prev_action)
        return True if isinstance(policy, DecisionTransformer) else None
    if hasattr(config, "timestep_embedding"):
        return bool(config.timestep_embedding)
    return None


def variants(
    policy: SequencePolicy, batch: Batch, name: str, t: int, seed: int
) -> Iterator[tuple[str, Batch]]:
    """The batch with input ``name`` changed at step t alone, each change with its label: R_t by +-1; s_t by
    a unit normal draw, then each dimension alone by 1 (a dimension the model drops is a change it misses);
    a_{t-1} to each other real action (continuous: another action vector); t by 7 and to a timestep half
    the longest episode away (never to 0, so no step becomes an episode start)."""
    g = torch.Generator().manual_seed(seed + t)
    n = batch["states"].shape[0]
    if name == "returns_to_go":
        shifts = [("+1", 1.0), ("-1", -1.0)]
    elif name == "states":
        shifts = [("a random shift", torch.randn(n, policy.obs_dim, generator=g))]
        shifts += [(f"dimension {j}", torch.eye(policy.obs_dim)[j]) for j in range(policy.obs_dim)]
    elif name == "prev_actions" and not policy.discrete:  # another real action vector
        shifts = [("another action", random_actions(policy, (n,), g) - batch[name][:, t])]
    elif name == "prev_actions":
        shifts = [(f"action + {k}", k) for k in range(1, policy.act_dim)]
    else:
        half = longest_episode(policy) // 2
        far = (batch[name][:, t] + half) % (2 * half)
        shifts = [("+7", 7), (f"+-{half}", far.clamp(min=1) - batch[name][:, t])]
    for label, shift in shifts:
        other = dict(batch)
        value = batch[name].clone()
        if name == "prev_actions" and policy.discrete:
            value[:, t] = (value[:, t] + shift) % policy.act_dim
        else:
            value[:, t] = value[:, t] + shift
        other[name] = value
        yield label, other


MAX_EPISODE_NAMES = ("max_episode_len", "max_ep_len", "max_timestep")
"""Where a policy or its config may declare the longest episode its timestep input takes."""


def declared_episode(policy: SequencePolicy) -> int | None:
    """The longest episode the policy declares (the least, on itself or its ``config``; our Decision
    Transformer's config always declares one), None where it declares none."""
    owners = (getattr(policy, "config", None), policy)
    declared = [getattr(o, n, None) for o in owners for n in MAX_EPISODE_NAMES]
    return min([v for v in declared if isinstance(v, int) and v > 0], default=None)


def longest_episode(policy: SequencePolicy) -> int:
    """The longest episode the policy declares, else 1024."""
    declared = declared_episode(policy)
    return 1024 if declared is None else declared


class RaisedInRange(Exception):
    """The policy raised on inputs within the range it declares (a timestep below its declared longest
    episode): a crash the trainer meets once its episodes get that long, not a shorter episode."""


def phases(policy: SequencePolicy, length: int) -> list[int]:
    """Where in an episode the position checks put their windows: near its start, then tens and hundreds of
    steps in (below a declared longest episode), so that an input read only early in an episode shows."""
    last = longest_episode(policy) - length - 16  # room for a start up to 5 steps in and the shift of 7
    return sorted({min(start, max(last, 0)) for start in (0, 40, 400)})


LONG_WINDOW = 64
"""The positions checked for the state and the timestep, which the step's own token carries: every position of
a context of up to 64 steps, so that a mask or a slice sized for an older, shorter context shows wherever it
ends. The return and the previous action are checked over `WINDOW`: the interleaved layout reads them through
attention from other tokens, more weakly at later positions (the previous action's change falls from 1.3e-3
within 8 positions to 2e-4 to 3e-4 at positions 19 to 52 of contexts of 20 to 60, near its limit)."""


def reach(name: str) -> int:
    """How many positions of the window the position checks of input ``name`` cover."""
    return LONG_WINDOW if name in ("states", "timesteps") else WINDOW


def by_position(policy: SequencePolicy, name: str, seed: int) -> tuple[list[float], str]:
    """For each position t of the window, the smallest relative change of the output at t over the changes
    of input ``name`` at t alone, over every row (each row a sequence of its own: an input that reaches the
    output for some values only, a clipped or rectified one, leaves some row unchanged) and over windows
    early and late in the episode (rows mid-episode, so that every a_{t-1} is a real action); and where the
    weakest of all was (timestep, row and change). A later window that the policy cannot take is left out
    (and named) where it declares no longest episode: the episodes it plays may be shorter. Where it declares
    one, every window lies within it and a crash there raises `RaisedInRange`."""
    length = window(policy, reach(name))
    out = [math.inf] * length
    weakest, left_out = (math.inf, ""), ""
    declared = declared_episode(policy)
    with torch.no_grad():
        for start in phases(policy, length):
            try:
                found = _phase(policy, name, seed, start)
            except Exception as err:  # noqa: BLE001 (a later window the policy cannot take; the first must run)
                if start == 0:
                    raise
                # The window's timesteps: from start + 1 (rows begin 1 to 5 steps in) to its end, plus 7.
                span = f"timesteps {start + 1} to {start + length + 11}"
                if declared is not None:
                    said = (str(err).splitlines() or [""])[0]
                    raise RaisedInRange(
                        f"forward raised {type(err).__name__} ({said}) on a window of {span}, below the "
                        f"longest episode the policy or its config declares ({declared}): a crash once "
                        "episodes get that long (declare a shorter max_episode_len, or size the timestep "
                        "input to it)"
                    ) from err
                if not left_out:
                    why = f"forward raised {type(err).__name__}, no longest episode declared"
                    left_out = f"; windows from timestep {start + 1} on left out ({why})"
                continue
            for t, (change, where) in enumerate(found):
                out[t] = min(out[t], change)
                weakest = min(weakest, (change, where), key=lambda pair: pair[0])
    return out, weakest[1] + left_out


def _phase(policy: SequencePolicy, name: str, seed: int, start: int) -> list[tuple[float, str]]:
    """For each position of a window ``start`` steps into the episode: the smallest change of the output
    there over the rows and the changes of ``name``, and where it was. Every change of the other inputs
    must reach every row; a timestep must reach each row by one of its changes (a timestep read in buckets,
    as T5's relative positions are, is read, though a step of 7 may stay in its bucket)."""
    length = window(policy, reach(name))
    batch = inputs(random_batch(policy, 8, length, seed=seed, pad=False, mid_episode=True))
    batch["timesteps"] = batch["timesteps"] + start
    base = policy(**batch)
    found = []
    for t in range(base.shape[1]):
        smallest = (math.inf, "")
        changes = []
        for label, other in variants(policy, batch, name, t, seed):
            try:
                changes.append((label, row_changes(base[:, t], policy(**other)[:, t])))
            except Exception:  # noqa: BLE001 (a far timestep the policy cannot take: the windows' own find it)
                if name != "timesteps" or label == "+7":
                    raise
        if name == "timesteps":  # any of its changes
            changes = [
                (" or ".join(label for label, _ in changes), torch.stack([c for _, c in changes]).amax(0))
            ]
        for label, rows in changes:
            row = int(rows.argmin())
            if float(rows[row]) < smallest[0]:
                step = int(batch["timesteps"][row, t])
                smallest = (float(rows[row]), f"timestep {step}, row {row}, {name} {label}")
        found.append(smallest)
    return found


def _position_check(subject: Subject, name: str, seed: int) -> Finding:
    policy = build(subject).eval()
    declared = declares(policy, name)
    if declared is False:
        return Finding("pass", f"the policy's config declares no {name} input (nothing to check)")
    try:
        changes, weakest = by_position(policy, name, seed)
    except RaisedInRange as err:
        return Finding("fail", str(err))
    if declared is None and max(changes) <= limits.SAME:
        return Finding("pass", f"{name} reach the output at no position: an input the policy does not read")
    t = min(range(len(changes)), key=changes.__getitem__)
    where = f"weakest at position {t} of {len(changes)} ({weakest})"
    used = "used elsewhere (other positions, timesteps or values) but not here"
    why = (
        f"changing {name} at step {t} alone leaves the output at step {t} (nearly) unchanged: the input is "
        f"{used if max(changes) > limits.SAME else 'not used'}"
    )
    return Finding.measured(limits.BY_POSITION[name], changes[t], where, why, f"{name} reach every position")


@check
def returns_by_position(subject: Subject) -> Finding:
    """Changing the return-to-go R_t at step t alone changes the output at t, at every position."""
    return _position_check(subject, "returns_to_go", seed=20)


@check
def states_by_position(subject: Subject) -> Finding:
    """Changing the state s_t at step t alone changes the output at t, at every position."""
    return _position_check(subject, "states", seed=21)


@check
def prev_actions_by_position(subject: Subject) -> Finding:
    """Each real previous action a_{t-1} at step t gives an output at t of its own, at every position (where
    the policy reads previous actions)."""
    return _position_check(subject, "prev_actions", seed=22)


@check
def timesteps_by_position(subject: Subject) -> Finding:
    """Changing the timestep at step t alone changes the output at t, at every position (where the policy
    declares a timestep input)."""
    return _position_check(subject, "timesteps", seed=23)


@check
def start_token_distinct(subject: Subject) -> Finding:
    """The start token gives an output distinct from every real action's, at every position: at the episode
    start and mid-episode (so a timestep embedding cannot hide a start token that stands for an action)."""
    policy = build(subject).eval()
    skip = discrete_only(policy, "no start token among the actions (continuous_actions checks the start)")
    if skip is not None:
        return skip
    declared = declares(policy, "prev_actions")
    if declared is False:
        return Finding("pass", "the policy's config declares no previous-action input (nothing to check)")
    if declared is None and max(by_position(policy, "prev_actions", seed=22)[0]) <= limits.SAME:
        return Finding(
            "pass", "previous actions reach the output at no position: the policy does not read them"
        )
    worst, where = math.inf, ""
    with torch.no_grad():
        for mid in (False, True):
            batch = inputs(random_batch(policy, 8, window(policy), seed=24, pad=False, mid_episode=mid))
            if not mid:
                batch["timesteps"] = torch.arange(batch["timesteps"].shape[1]).expand_as(batch["timesteps"])
            for t in range(batch["timesteps"].shape[1]):
                start = batch["prev_actions"].clone()
                start[:, t] = policy.start_action
                ref = policy(**{**batch, "prev_actions": start})[:, t]
                for a in range(policy.act_dim):
                    real = batch["prev_actions"].clone()
                    real[:, t] = a
                    diff = rel_diff(ref, policy(**{**batch, "prev_actions": real})[:, t])
                    if diff < worst:
                        worst = diff
                        step = int(batch["timesteps"][0, t])
                        where = f"closest to action {a} at position {t} (timestep {step})"
    why = "the start token stands for a real action: the first step looks like a later one"
    return Finding.measured(
        limits.START_TOKEN, worst, where, why, "the start token differs from every action"
    )


def future_changed(policy: SequencePolicy, batch: Batch, t: int) -> Batch:
    """The batch with every input after step t changed: returns-to-go and states redrawn, previous actions
    moved to other actions, timesteps moved on by 7 (a later step is never an episode start)."""
    other = {k: v.clone() for k, v in batch.items()}
    b, t_len = batch["returns_to_go"].shape
    g = torch.Generator().manual_seed(100 + t)
    other["returns_to_go"][:, t + 1 :] = torch.randn(b, t_len - t - 1, generator=g) * 3
    other["states"][:, t + 1 :] = torch.randn(b, t_len - t - 1, policy.obs_dim, generator=g) * 3
    later = other["prev_actions"][:, t + 1 :]
    other["prev_actions"][:, t + 1 :] = (later + 1) % policy.act_dim if policy.discrete else -later
    other["timesteps"][:, t + 1 :] += 7
    return other


def later_changes(policy: SequencePolicy, batch: Batch, t: int, pad: bool) -> Iterator[tuple[str, Batch]]:
    """The batch with its steps after t changed (`future_changed`), and, in an unpadded window, made padding:
    whether an episode goes on after step t is the future too (a position counted back from the last real
    step, or statistics over the real steps, tell it to the earlier ones)."""
    yield "changed", future_changed(policy, batch, t)
    if not pad:
        mask = batch["mask"].clone()
        mask[:, t + 1 :] = False
        yield "made padding", {**batch, "mask": mask}


@check
def causal_masking(subject: Subject) -> Finding:
    """Changing the inputs after step t leaves the outputs up to step t unchanged, in unpadded windows and
    in right-padded ones (a model may build its mask differently for each), and so does making the steps
    after t padding; in eval mode (rollouts) and in train mode (the loss; both forwards with the same
    dropout masks)."""
    policy = build(subject)
    t_len = max(window(policy), 2)
    worst, where, skipped = 0.0, "", ""
    with torch.no_grad():
        for mode in MODES:
            policy.train(mode == "train")
            for pad in (False, True):
                batch = random_batch(policy, 4, t_len, seed=2, pad=pad)
                real = batch["mask"]
                batch = inputs(batch)
                base = seeded(policy, batch, 0)
                if mode == "train" and rel_diff(base, seeded(policy, batch, 0)) > limits.SAME:
                    skipped = "; train mode not compared (its randomness is not torch's: not reproducible)"
                    break
                for t in range(t_len - 1):
                    seen = real[:, : t + 1]
                    for changed, other in later_changes(policy, batch, t, pad):
                        out = seeded(policy, other, 0)
                        diff = rel_diff(base[:, : t + 1][seen], out[:, : t + 1][seen])
                        if diff > worst:
                            padded = ", padded windows" if pad else ""
                            worst, where = (
                                diff,
                                f"outputs at steps <= {t} when steps > {t} {changed}{padded}, {mode} mode",
                            )
    why = "the model sees the future (a missing or wrong causal mask, or statistics over the time axis)"
    return Finding.measured(
        limits.EXACT_OUTPUTS, worst, where + skipped, why, f"no step sees a later one (T = {t_len})"
    )


@check
def returns_to_go_matter(subject: Subject) -> Finding:
    """Changing the returns-to-go changes the output (the command is not ignored)."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, 4, window(policy, 4), seed=8, pad=False))
    with torch.no_grad():
        high = policy(**{**batch, "returns_to_go": torch.ones_like(batch["returns_to_go"])})
        low = policy(**{**batch, "returns_to_go": -torch.ones_like(batch["returns_to_go"])})
    why = "outputs for returns-to-go +1 and -1 are (nearly) the same: the command is ignored"
    return Finding.measured(limits.RETURNS_MATTER, rel_diff(high, low), "returns-to-go +1 vs -1", why, "ok")


@check
def timesteps_matter(subject: Subject) -> Finding:
    """With a timestep embedding configured, changing the timesteps changes the output."""
    policy = build(subject).eval()
    config = getattr(policy, "config", None)
    if not getattr(config, "timestep_embedding", False):
        return Finding("pass", "the policy declares no timestep embedding (nothing to check)")
    # Every row mid-episode (no step at timestep 0, none moved to it): every timestep moves, also in a
    # window of one step, and the start token stays where it was.
    batch = inputs(random_batch(policy, 4, window(policy, 4), seed=9, pad=False, mid_episode=True))
    later = batch["timesteps"] + 7
    with torch.no_grad():
        diff = rel_diff(policy(**batch), policy(**{**batch, "timesteps": later}))
    why = "config.timestep_embedding is on but other timesteps leave the output unchanged: it is unused"
    return Finding.measured(limits.TIMESTEPS_MATTER, diff, "timesteps + 7", why, "ok")


@check
def distinct_outputs(subject: Subject) -> Finding:
    """Different states give different outputs at initialisation (no collapsed embeddings)."""
    policy = build(subject).eval()
    batch = inputs(random_batch(policy, 8, window(policy, 4), seed=13, pad=False))
    with torch.no_grad():
        params = policy(**batch)
        other = policy(**{**batch, "states": batch["states"].flip(0)})
    flat = params.reshape(-1, params.shape[-1])
    spread = rel_diff(flat, flat.mean(0, keepdim=True).expand_as(flat))
    value = min(spread, rel_diff(params, other))
    why = "outputs for different inputs are (nearly) identical: collapsed embeddings or a zero head"
    return Finding.measured(limits.DISTINCT_OUTPUTS, value, "spread or states swapped", why, "outputs differ")
