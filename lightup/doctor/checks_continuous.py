"""The static check of a policy's continuous-action twin, where its factory builds one.

The other checks examine discrete-action policies (as the ladder trains). A factory that also builds
continuous-action policies (ours does) has code only they run: the start of an episode has no previous
action (``prev_actions`` is ignored where ``timesteps == 0``, by the `SequencePolicy` contract), previous
actions are vectors, and the head gives a mean and a log-std per action dimension. `continuous_actions`
runs the contract's rules on that twin: what the start ignores, what each later position reads, gradients,
and ``push`` against ``forward``; `continuous_reach` fits it to actions near the edge of the action box.
"""

from __future__ import annotations

import copy
import math

import torch

from lightup.doctor import limits
from lightup.doctor.check_base import OBS, Finding, Subject, check, inputs, random_batch, rel_diff
from lightup.doctor.checks_cache import train_a_little
from lightup.doctor.checks_inputs import declares
from lightup.models.policy import SequencePolicy, greedy_action

ACT_DIMS = 2  # action dimensions of the continuous twin


def twin(subject: Subject) -> SequencePolicy | None:
    """The subject's continuous-action policy (a copy of a built one), or None where its factory builds
    none."""
    if isinstance(subject.factory, SequencePolicy):
        return None if subject.factory.discrete else copy.deepcopy(subject.factory)
    torch.manual_seed(subject.seed)
    try:
        policy = subject.factory(OBS, ACT_DIMS, False)
    except Exception:  # a factory for discrete actions only: nothing to check here
        return None
    return None if not isinstance(policy, SequencePolicy) or policy.discrete else policy


def plays_continuous(subject: Subject) -> str | None:
    """None where the subject plays continuous actions, else why not (as `continuous_actions` judges it: no
    continuous-action policy from its factory, or one whose forward raises while its config does not
    declare continuous actions)."""
    policy = twin(subject)
    if policy is None:
        return "its factory builds no continuous-action policy"
    try:
        with torch.no_grad():
            policy(**inputs(_batch(policy, seed=30)))
    except Exception as err:  # noqa: BLE001 (as continuous_actions: a discrete-only model)
        if getattr(getattr(policy, "config", None), "discrete", None) is False:
            return None  # it declares continuous actions: the rung finds the crash
        return f"its continuous-action policy raises {type(err).__name__} in forward"
    return None


def _batch(policy: SequencePolicy, seed: int) -> dict:
    batch = random_batch(policy, 8, min(policy.context_len, 6), seed=seed, pad=False)
    g = torch.Generator().manual_seed(seed)
    batch["prev_actions"] = torch.rand(*batch["timesteps"].shape, ACT_DIMS, generator=g) * 2 - 1
    batch["actions"] = torch.rand(*batch["timesteps"].shape, ACT_DIMS, generator=g) * 1.8 - 0.9
    return batch


def _cache_error(policy: SequencePolicy) -> float:
    """Largest relative difference of push from forward (over the episode so far or its last K steps,
    whichever is closer), with a reset at a different step in each of two sequences."""
    k = policy.context_len
    length, starts_at = k + 3, ({0, 2}, {0, k + 1})
    g = torch.Generator().manual_seed(31)
    rtg, states = torch.randn(2, length, generator=g), torch.randn(2, length, OBS, generator=g)
    acts = torch.rand(2, length, ACT_DIMS, generator=g) * 2 - 1
    start = [0, 0]
    worst = {"episode": 0.0, "window": 0.0}
    with torch.no_grad():
        policy.begin(2)
        for j in range(length):
            done = torch.tensor([j > 0 and j in starts_at[i] for i in range(2)])
            if done.any():
                policy.reset(done)
            start = [j if j in starts_at[i] else start[i] for i in range(2)]
            ts = torch.tensor([j - start[i] for i in range(2)])
            # At an episode start the previous action is ignored by the contract: feed a non-zero one.
            prev = torch.stack([acts[i, j - 1] if ts[i] > 0 else acts[i, j] for i in range(2)])
            pushed = policy.push(rtg[:, j], states[:, j], prev, ts)
            for i in range(2):
                for kind, lo in (("episode", start[i]), ("window", max(start[i], j - k + 1))):
                    steps = torch.arange(lo, j + 1)
                    prev_seq = torch.where(
                        (steps == start[i])[:, None], acts[i, steps], acts[i, (steps - 1).clamp(min=0)]
                    )
                    try:
                        ref = policy(
                            rtg[i : i + 1, lo : j + 1],
                            states[i : i + 1, lo : j + 1],
                            prev_seq[None],
                            (steps - start[i])[None],
                            torch.ones(1, len(steps), dtype=torch.bool),
                        )[0, -1]
                        diff = rel_diff(pushed[i], ref)
                    except Exception:  # e.g. a forward that takes at most K steps
                        diff = math.inf
                    worst[kind] = max(worst[kind], diff)
    return min(worst.values())


@check
def continuous_actions(subject: Subject) -> Finding | tuple[bool, str]:
    """Where the factory also builds continuous-action policies: the previous action is ignored at episode
    starts and read at every later position, every parameter gets a gradient from the loss, and push
    equals forward."""
    policy = twin(subject)
    if policy is None:
        return True, "the factory builds no continuous-action policy (nothing to check)"
    policy.eval()
    batch = _batch(policy, seed=30)
    x = inputs(batch)
    first = batch["timesteps"] == 0  # (B, T): episode starts
    with torch.no_grad():
        try:
            base = policy(**x)
        except Exception as err:
            if getattr(getattr(policy, "config", None), "discrete", None) is False:
                raise  # its config declares continuous actions: a crash is a finding
            # A factory that ignores ``discrete`` (a discrete-only model): its discrete policies are checked.
            return True, f"the continuous-action policy raises {type(err).__name__} in forward (not checked)"
        shaken = x["prev_actions"] + torch.where(first[..., None], 0.5, 0.0)
        at_start = rel_diff(base[first], policy(**{**x, "prev_actions": shaken})[first])
        read = math.inf
        for t in range(base.shape[1]):
            later = ~first[:, t]
            if not later.any():
                continue
            moved = x["prev_actions"].clone()
            moved[:, t] = -moved[:, t]
            read = min(read, rel_diff(base[later, t], policy(**{**x, "prev_actions": moved})[later, t]))
    if limits.EXACT_OUTPUTS.judge(at_start) == "fail":
        why = "the previous action changes the output at an episode start, where there is none (timesteps 0)"
        return Finding.measured(limits.EXACT_OUTPUTS, at_start, "continuous actions, episode starts", why, "")
    reads = declares(policy, "prev_actions")
    if reads is None:
        reads = read > limits.SAME  # a policy that says nothing: checked where it reads them at all
    if reads and read != math.inf and limits.START_TOKEN.judge(read) == "fail":
        why = "a real previous action is ignored at a later step, as if it were an episode start"
        return Finding.measured(limits.START_TOKEN, read, "continuous actions, after the start", why, "")
    policy.train()
    loss = subject.loss(policy(**x), batch["actions"], batch["mask"], False)
    loss.backward()
    dead = [
        n for n, p in policy.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())
    ]
    # The start embedding is reached only at episode starts: the batch has some.
    if dead:
        return False, f"continuous actions: {', '.join(dead[:3])} get no gradient from the loss"
    policy.eval()
    cache, where = _cache_error(policy), "continuous actions"
    # Again on weights trained a little (a larger mean and log-std, where a squash or clamp in one path only
    # shows; new weights for begin to take up), where the initial ones pass.
    how = train_a_little(policy, subject) if cache <= limits.CACHE.fail_at else None
    if how is not None:
        trained = _cache_error(policy)
        where += f", at initialisation and after {how}"
        if trained > cache:
            cache, where = trained, f"continuous actions, on the weights trained {how}"
    why = (
        "push differs from forward for continuous actions: check the start embedding in the cached step, and "
        "any squash or clamp of the outputs (in both paths or neither)"
    )
    return Finding.measured(limits.CACHE, cache, where, why, "continuous twin keeps the contract")


@check
def continuous_reach(subject: Subject) -> Finding | tuple[bool, str]:
    """Where the factory also builds continuous-action policies: fit by the loss to one batch whose every
    action is (0.95, -0.95), the greedy action comes within 0.05 of it. A mean squashed, clamped or scaled
    before the head's own tanh cannot reach the edges of the action box (a tanh twice stops at 0.76), so
    neither can the policy's actions, whatever it learns."""
    why_not = plays_continuous(subject)
    if why_not is not None:
        return True, f"{why_not} (nothing to check)"
    policy = twin(subject).train()
    batch = _batch(policy, seed=32)
    mask = batch["mask"]
    shape = (*mask.shape, 2 * ACT_DIMS)
    with torch.no_grad():
        given = tuple(policy(**inputs(batch)).shape)
    if given != shape:  # not a mean and a log-std per dimension: output_shape judges a continuous subject
        return True, f"its continuous-action policy gives outputs of shape {given}, not {shape} (not checked)"
    target = torch.tensor([limits.REACH_TARGET, -limits.REACH_TARGET]).expand_as(batch["actions"])
    trained = [p for p in policy.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=subject.lr)
    for step in range(limits.REACH_STEPS + 1):
        params = policy(**inputs(batch))
        with torch.no_grad():
            error = float((greedy_action(params.detach(), False) - target).abs()[mask].max())
        if not math.isfinite(error) or error <= limits.REACH.pass_at or step == limits.REACH_STEPS:
            break
        loss = subject.loss(params, target, mask, False)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    why = (
        "the greedy action cannot reach the edge of the action box: a mean squashed, clamped or scaled "
        "before the head's tanh"
    )
    where = f"target +-{limits.REACH_TARGET}, {step} Adam steps"
    return Finding.measured(limits.REACH, error, where, why, "reaches the edges of the action box")
