"""The static checks of the incremental interface: ``begin``/``push``/``reset`` against ``forward``, and the
state a policy keeps between pushes."""

from __future__ import annotations

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
from lightup.doctor.checks_inputs import longest_episode
from lightup.models.policy import SequencePolicy

DEEP = 400
"""How far into an episode the second run of the cache check joins it (below a declared longest episode):
a cache may be exact for the first steps of an episode and drift later (a timestep clamped, a counter
that overflows), where a run from the episode's start does not reach."""


def _cache_run(policy: SequencePolicy, join: int, length: int) -> tuple[dict, dict]:
    """Push ``length`` steps of 3 sequences, each step against forward over the episode so far and over its
    last K steps; the sequences join their first episode ``join`` steps in (its earlier steps unseen, as
    if begin came mid-episode) and new episodes begin at different times. The worst difference of each
    semantics, and where."""
    k = policy.context_len
    n = 3
    g = torch.Generator().manual_seed(3)
    rtg = torch.randn(n, length, generator=g)
    states = torch.randn(n, length, policy.obs_dim, generator=g)
    actions = random_actions(policy, (n, length), g)
    before = random_actions(policy, (n,), g)  # the action before a joined episode's first pushed step
    start = start_value(policy)
    # Steps at which a new episode begins (besides step 0): early, after the ring wrapped once and twice.
    resets = {0: {2 * k + 1}, 1: {2}, 2: {k + 1}}
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
            pushed = policy.push(rtg[:, j], states[:, j], torch.stack([prev(i, j) for i in range(n)]), ts)
            for i in range(n):
                first = max(episode_start[i], 0)
                for kind, lo in (("episode", first), ("window", max(first, j - k + 1))):
                    if worst[kind] > limits.CACHE.fail_at:
                        continue  # this semantics already fails: the other decides
                    try:
                        diff = rel_diff(pushed[i], reference(i, lo, j))
                    except Exception:  # e.g. a model whose forward takes at most K steps
                        diff = math.inf
                    if diff > worst[kind]:
                        at = f"sequence {i}, step {j} (timestep {int(ts[i])})"
                        worst[kind], where[kind] = diff, at
    return worst, where


@check
def kv_cache(subject: Subject) -> Finding:
    """begin/push/reset give what forward gives, over two context lengths and more with resets at
    different times in the batch, from an episode's start and joined hundreds of steps into one. Two
    semantics are exact: forward over the whole episode so far (a banded cache, as our Decision Transformer
    keeps) or over its last K steps (the `SequencePolicy` default); a policy must match one of them at every
    step."""
    policy = build(subject).eval()
    k = policy.context_len
    worst, where = _cache_run(policy, 0, 2 * k + 4)
    runs = f"{2 * k + 4} steps from the episode start"
    join = min(DEEP, longest_episode(policy) - 2 * k - 8)
    if join > 0:
        try:
            deep, deep_where = _cache_run(policy, join, k + 4)
        except Exception:  # noqa: BLE001 (push cannot take so late a timestep: its episodes are shorter)
            deep = None
        if deep is not None:
            runs += f" and {k + 4} from timestep {join}"
            for kind in worst:
                if deep[kind] > worst[kind]:
                    worst[kind], where[kind] = deep[kind], deep_where[kind]
    kind = min(worst, key=worst.get)
    span = "the whole episode so far" if kind == "episode" else "the last K steps"
    return Finding.measured(
        limits.CACHE,
        worst[kind],
        f"{runs} (K = {k}), resets at different times",
        f"push differs from forward ({worst['episode']:.1e} at {where['episode']} against the whole episode, "
        f"{worst['window']:.1e} at {where['window']} against the last K steps): check the cache position, "
        "the ring buffer, the timesteps it embeds and reset",
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
