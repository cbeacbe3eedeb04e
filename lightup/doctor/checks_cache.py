"""The static checks of the incremental interface: ``begin``/``push``/``reset`` against ``forward``, and the
state a policy keeps between pushes."""

from __future__ import annotations

import copy
import dataclasses
import math

import torch
from torch import Tensor, nn

from lightup.doctor import limits
from lightup.doctor.check_base import (
    Finding,
    Subject,
    build,
    check,
    random_actions,
    rel_diff,
    start_value,
)
from lightup.doctor.checks_inputs import declared_episode, longest_episode
from lightup.doctor.checks_training import fit
from lightup.models.policy import SequencePolicy

DEEP = 400
"""How far into an episode the second run of the cache check joins it (below a declared longest episode):
a cache may be exact for the first steps of an episode and drift later (a timestep clamped, a counter
that overflows), where a run from the episode's start does not reach. A third run joins K + 8 steps before
the longest episode's end (the declared one, else 1024), where a clamp sized for shorter episodes shows."""

TRAIN_STEPS = 40
"""The budget of the fit before the cache check's run on trained weights. At `TRAIN_LR` times the learning
rate our Decision Transformer (1 or 2 layers, either layout) memorises its batch (loss below 0.05) in 24 to
64 Adam steps; after 40 its largest logit is 4.5 to 6.5 where it stopped or not (at initialisation ~1e-2),
and a model of 6 layers 128 wide reaches 3.5 (1 s on one core)."""
TRAIN_LR = 10
"""The fit's learning rate, in the subject's: confident outputs in tens of steps, where the subject's own
takes 130 or so (0.4 s a subject instead of 0.1 s)."""


class PushRaised(Exception):
    """``push`` raised during a run of the cache check; the message names the error and the timesteps."""


def _cache_run(policy: SequencePolicy, join: int, length: int) -> tuple[dict, dict]:
    """Push ``length`` steps of 3 sequences, each step against forward over the episode so far and over its
    last K steps; the sequences join their first episode ``join`` steps in (its earlier steps unseen, as
    if begin came mid-episode) and new episodes begin at different times, and in two sequences at once. The
    worst difference of each semantics, and where; `PushRaised` where push raises."""
    k = policy.context_len
    n = 3
    g = torch.Generator().manual_seed(3)
    rtg = torch.randn(n, length, generator=g)
    states = torch.randn(n, length, policy.obs_dim, generator=g)
    actions = random_actions(policy, (n, length), g)
    before = random_actions(policy, (n,), g)  # the action before a joined episode's first pushed step
    start = start_value(policy)
    # Steps at which a new episode begins (besides step 0): early, after the ring wrapped once and twice;
    # sequences 1 and 2 together at K + 1 (envs of fixed-length episodes end together: a reset that clears
    # only one of the finished sequences leaves the other attending to its old episode).
    resets = {0: {2 * k + 1}, 1: {2, k + 1}, 2: {k + 1}}
    episode_start = [-join] * n
    worst = {"episode": 0.0, "window": 0.0}
    where = {"episode": "", "window": ""}

    def prev(i: int, step: int) -> Tensor:
        if step == episode_start[i]:
            return torch.full_like(actions[i, 0], start)
        return before[i] if step == 0 else actions[i, step - 1]

    def reference(i: int, lo: int, j: int) -> Tensor:
        steps = torch.arange(lo, j + 1)
        return policy(
            rtg[i : i + 1, lo : j + 1],
            states[i : i + 1, lo : j + 1],
            torch.stack([prev(i, int(s)) for s in steps])[None],
            (steps - episode_start[i])[None],
            torch.ones(1, j + 1 - lo, dtype=torch.bool),
        )[0, -1]

    with torch.no_grad():
        policy.begin(n)
        for j in range(length):
            done = torch.tensor([j in resets[i] for i in range(n)])
            if done.any():
                policy.reset(done)
            for i in range(n):
                if j in resets[i]:
                    episode_start[i] = j
            ts = torch.tensor([j - episode_start[i] for i in range(n)])
            try:
                pushed = policy.push(rtg[:, j], states[:, j], torch.stack([prev(i, j) for i in range(n)]), ts)
            except Exception as err:  # noqa: BLE001 (named with the timesteps; the caller judges it)
                said = (str(err).splitlines() or [""])[0]
                at = ", ".join(str(int(t)) for t in ts)
                raise PushRaised(f"push raised {type(err).__name__} ({said}) at timesteps {at}") from err
            for i in range(n):
                first = max(episode_start[i], 0)
                for kind, lo in (("episode", first), ("window", max(first, j - k + 1))):
                    if worst[kind] > limits.CACHE.fail_at:
                        continue  # this semantics already fails: the other decides
                    raised = ""
                    try:
                        diff = rel_diff(pushed[i], reference(i, lo, j))
                    except Exception as err:  # e.g. a model whose forward takes at most K steps
                        diff, raised = math.inf, f", forward raised {type(err).__name__}"
                    if diff > worst[kind]:
                        at = f"sequence {i}, step {j} (timestep {int(ts[i])}{raised})"
                        worst[kind], where[kind] = diff, at
    return worst, where


def train_a_little(policy: SequencePolicy, subject: Subject) -> str | None:
    """Train ``policy`` a little: Adam on one fixed batch toward memorising it (`fit`, loss below 0.05, at
    most `TRAIN_STEPS` steps, at `TRAIN_LR` times the subject's learning rate, then at its own if that one
    diverges). Its outputs become confident (at initialisation logits are ~1e-2, where a cap or a clamp in one
    path only is the identity) and its weights are no longer those its last ``begin`` saw. How it was
    trained, or None where it has nothing to train or its loss never stays finite (the weights then go back:
    overfit_batch judges that). Leaves ``policy`` in eval mode."""
    if not any(p.requires_grad for p in policy.parameters()):
        return None
    before = copy.deepcopy(policy.state_dict())
    for lr in (TRAIN_LR * subject.lr, subject.lr):
        with torch.enable_grad():
            trainer = dataclasses.replace(subject, lr=lr)
            took, first, last = fit(policy.train(), trainer, subject.seed, TRAIN_STEPS)
        policy.eval()
        if math.isfinite(last) and all(bool(p.isfinite().all()) for p in policy.parameters()):
            steps = TRAIN_STEPS if took is None else took
            return f"{steps} Adam steps at lr {lr:g} (loss {first:.2f} -> {last:.2f})"
        policy.load_state_dict(before)
    return None


def _run(policy: SequencePolicy, join: int, length: int, label: str = "") -> tuple[dict, dict, str]:
    """`_cache_run`, with ``label`` after each place named, and what push raised ("" where nothing: a push
    that raises differs from forward everywhere)."""
    try:
        worst, where = _cache_run(policy, join, length)
    except PushRaised as err:
        return {"episode": math.inf, "window": math.inf}, {"episode": str(err), "window": str(err)}, str(err)
    return worst, {kind: f"{at}{label}" for kind, at in where.items()}, ""


@check
def kv_cache(subject: Subject) -> Finding:
    """begin/push/reset give what forward gives, over two context lengths and more with resets at
    different times in the batch and at the same time, from an episode's start, joined hundreds of steps
    into one and near its end (within the longest episode the policy declares), then again from the start
    after the weights were trained a little (confident outputs, where a cap or a clamp in one path only
    shows; new weights, which begin must take up). Two semantics are exact: forward over the whole episode
    so far (a banded cache, as our Decision Transformer keeps) or over its last K steps (the
    `SequencePolicy` default); a policy must match one of them at every step. A push that raises fails,
    unless it is past the first run and the policy declares no longest episode (its episodes may be
    shorter: the run is left out, named)."""
    policy = build(subject).eval()
    k = policy.context_len
    worst, where, raised = _run(policy, 0, 2 * k + 4)
    runs = [f"{2 * k + 4} steps from the episode start"]

    def merge(other: dict, other_where: dict) -> None:
        for kind in worst:
            if other[kind] > worst[kind]:
                worst[kind], where[kind] = other[kind], other_where[kind]

    longest = longest_episode(policy)
    for join in sorted({min(DEEP, longest - 2 * k - 8), longest - k - 8}):
        if join <= 0 or raised:
            continue
        deep, deep_where, deep_raised = _run(policy, join, k + 4)
        if deep_raised and declared_episode(policy) is None:
            runs.append(f"not from timestep {join} ({deep_raised}; no longest episode declared)")
            break
        runs.append(f"{k + 4} from timestep {join}")
        merge(deep, deep_where)
        raised = deep_raised
    failing = raised or min(worst.values()) > limits.CACHE.fail_at  # found already: no need to train
    how = None if failing else train_a_little(policy, subject)
    if how is not None:  # K + 3 steps: past the ring's wrap and the two sequences that end together
        again, again_where, raised = _run(policy, 0, k + 3, " on the trained weights")
        runs.append(f"{k + 3} from the start again after {how}")
        merge(again, again_where)
    kind = min(worst, key=worst.get)
    span = "the whole episode so far" if kind == "episode" else "the last K steps"
    why = (
        f"push differs from forward ({worst['episode']:.1e} at {where['episode']} against the whole episode, "
        f"{worst['window']:.1e} at {where['window']} against the last K steps): check the cache position, "
        "the ring buffer, the timesteps it embeds, reset, what begin gathers, and any cap or clamp on the "
        "outputs (in both paths or neither)"
    )
    if raised:
        declared = declared_episode(policy)
        within = "the checks assume (1024)" if declared is None else f"the policy declares ({declared})"
        why = f"{raised}, below the longest episode {within}: acting crashes once episodes get that long"
    return Finding.measured(
        limits.CACHE,
        worst[kind],
        f"{', '.join(runs)} (K = {k}), resets at different times and together",
        why,
        f"push equals forward over {span}",
    )


def held_numbers(policy: SequencePolicy) -> int:
    """Numbers in the tensors reachable from ``policy`` through modules, dicts, lists, tuples and sets,
    its parameters aside: what it keeps between pushes, besides its weights."""
    weights = {id(p) for p in policy.parameters()}
    seen: set[int] = set()
    total, stack = 0, [policy]
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, Tensor):
            total += 0 if id(obj) in weights else obj.numel()
        elif isinstance(obj, nn.Module):
            stack.extend(vars(obj).values())
        elif isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
    return total


@check
def cache_bounded(subject: Subject) -> Finding:
    """The state a policy keeps between pushes stops growing once it holds K steps: the same numbers K + 2
    steps into an episode and 3K + 4 steps in. A cache or log that never drops old steps is exact (so
    kv_cache passes it) and holds memory without bound over a long episode."""
    policy = build(subject).eval()
    k, n = policy.context_len, 2
    g = torch.Generator().manual_seed(5)
    length = 3 * k + 4
    actions = random_actions(policy, (n, length), g)
    held = {}
    with torch.no_grad():
        policy.begin(n)
        for j in range(length):
            prev = torch.full_like(actions[:, 0], start_value(policy)) if j == 0 else actions[:, j - 1]
            policy.push(
                torch.randn(n, generator=g),
                torch.randn(n, policy.obs_dim, generator=g),
                prev,
                torch.full((n,), j),
            )
            if j + 1 in (k + 2, length):
                held[j + 1] = held_numbers(policy)
    growth = float(held[length] - held[k + 2])
    where = f"{held[k + 2]} numbers after {k + 2} steps, {held[length]} after {length} (K = {k})"
    why = (
        "the state it keeps between pushes grows with the episode: a cache or log that never drops old "
        "steps holds memory without bound over a long episode"
    )
    return Finding.measured(
        limits.HELD_GROWTH, growth, where, why, "the state kept between pushes is bounded"
    )
