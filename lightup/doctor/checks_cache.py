"""The static check of the incremental interface: ``begin``/``push``/``reset`` against ``forward``."""

from __future__ import annotations

import math

import torch
from torch import Tensor

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


@check
def kv_cache(subject: Subject) -> Finding:
    """begin/push/reset give what forward gives, past the context length and with resets at different
    times in the batch. Two semantics are exact: forward over the whole episode so far (a banded cache, as
    our Decision Transformer keeps) or over its last K steps (the `SequencePolicy` default); a policy must
    match one of them at every step."""
    policy = build(subject).eval()
    k = policy.context_len
    n, length = 3, k + 4
    g = torch.Generator().manual_seed(3)
    rtg = torch.randn(n, length, generator=g)
    states = torch.randn(n, length, policy.obs_dim, generator=g)
    actions = random_actions(policy, (n, length), g)
    start = start_value(policy)
    resets = {0: set(), 1: {2}, 2: {k + 1}}  # steps at which a new episode begins (besides step 0)
    episode_start = [0] * n
    worst = {"episode": 0.0, "window": 0.0}
    where = {"episode": "", "window": ""}

    def reference(i: int, lo: int, j: int) -> Tensor:
        steps = torch.arange(lo, j + 1)
        first = (steps == episode_start[i]).view(-1, *([1] * (actions.dim() - 2)))
        prev = torch.where(first, start, actions[i, (steps - 1).clamp(min=0)])
        return policy(
            rtg[i : i + 1, lo : j + 1],
            states[i : i + 1, lo : j + 1],
            prev[None],
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
            prev = torch.stack(
                [torch.full_like(actions[i, 0], start) if ts[i] == 0 else actions[i, j - 1] for i in range(n)]
            )
            pushed = policy.push(rtg[:, j], states[:, j], prev, ts)
            for i in range(n):
                for kind, lo in (("episode", episode_start[i]), ("window", max(episode_start[i], j - k + 1))):
                    if worst[kind] == math.inf:
                        continue
                    try:
                        diff = rel_diff(pushed[i], reference(i, lo, j))
                    except Exception:  # e.g. a model whose forward takes at most K steps
                        diff = math.inf
                    if diff > worst[kind]:
                        worst[kind], where[kind] = diff, f"sequence {i}, step {j}"
    kind = min(worst, key=worst.get)
    span = "the whole episode so far" if kind == "episode" else "the last K steps"
    found = Finding.measured(
        limits.CACHE,
        worst[kind],
        f"{length} steps (K = {k}), resets at different times",
        f"push differs from forward ({worst['episode']:.1e} at {where['episode']} against the whole episode, "
        f"{worst['window']:.1e} at {where['window']} against the last K steps): check the cache position, "
        "the ring buffer and reset",
        f"push equals forward over {span}",
    )
    return found
