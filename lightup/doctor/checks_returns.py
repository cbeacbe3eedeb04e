"""Static checks of the returns a model is trained on and commanded with: the hindsight relabelling of
stored episodes, and the bookkeeping of `lightup.training.returns` (the running command of a rollout, its
rewriting to other commands, the TD(lambda) targets of value baselines), each against a reference computed
here term by term from its definition."""

from __future__ import annotations

import numpy as np

from lightup.doctor import limits
from lightup.doctor.check_base import ACT, OBS, Finding, Subject, check
from lightup.training import returns as R
from lightup.training.replay import EpisodeBuffer


def hindsight(rewards, gamma: float) -> list[float]:
    """R_t = sum over i >= t of gamma^(i - t) r_i, term by term."""
    n = len(rewards)
    return [sum(gamma ** (i - t) * float(rewards[i]) for i in range(t, n)) for t in range(n)]


@check
def relabelling(subject: Subject) -> tuple[bool, str]:
    """Stored episodes get hindsight returns-to-go (R_t = r_t + ... + r_T, from the rewards received, not
    the command) and training windows pair them with the right states and previous actions."""
    rewards = np.array([0.0, 1.0, 0.0, 2.0, 1.0], np.float32)
    actions = np.array([1, 0, 3, 2, 1])
    obs = np.arange(len(rewards) * OBS, dtype=np.float32).reshape(len(rewards), OBS)
    for gamma in (0.9, 1.0):  # the trainer's --gamma; the Decision Transformer's own is 1
        ep = subject.episode_cls(obs, actions, rewards, True, gamma=gamma, commanded=10.0)
        want = hindsight(rewards, gamma)
        got = [float(x) for x in ep.returns_to_go]
        if not np.allclose(got, want):
            return False, (
                f"returns-to-go of rewards {rewards.tolist()} (gamma {gamma}, commanded 10) are "
                f"{[round(x, 4) for x in got]}, expected {[round(x, 4) for x in want]}"
            )
    buffer = EpisodeBuffer(4)
    buffer.add(ep)
    batch = buffer.sample(32, 3, np.random.default_rng(0), return_scale=2.0, start_action=ACT)
    for b in range(32):
        n = int(batch["mask"][b].sum())
        steps = batch["timesteps"][b, :n].tolist()
        rtg = batch["returns_to_go"][b, :n].tolist()
        prev = batch["prev_actions"][b, :n].tolist()
        if not np.allclose(rtg, [want[s] / 2.0 for s in steps]):
            return (
                False,
                f"a window at steps {steps} holds returns-to-go {rtg}, "
                f"expected {[want[s] / 2 for s in steps]}",
            )
        if prev != [ACT if s == 0 else int(actions[s - 1]) for s in steps]:
            return False, f"a window at steps {steps} holds previous actions {prev}"
    return True, "hindsight returns-to-go and windows match hand-computed values"


@check
def return_bookkeeping(subject: Subject) -> Finding:
    """A rollout's running command (`next_return_to_go` after each reward) started at the achieved return
    equals the hindsight returns-to-go; `commanded_returns_to_go` and `at_commands` give the running command
    of any other start; TD(lambda) targets are the discounted returns plus the bootstrap at lambda 1 and
    one-step targets at lambda 0. With gamma 1 and 0.9."""
    rewards = np.array([0.5, 1.0, 0.0, 2.0, -1.0])
    n, command = len(rewards), 7.0
    worst, where = 0.0, ""

    def compare(name: str, got, want) -> None:
        nonlocal worst, where
        got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
        err = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        if not err <= worst:  # a NaN counts as the worst
            worst, where = (err if err == err else float("inf")), name

    for gamma in (1.0, 0.9):
        back = hindsight(rewards, gamma)
        running, rtg = [], back[0]
        for r in rewards:
            running.append(rtg)
            rtg = R.next_return_to_go(rtg, r, gamma)
        compare(f"next_return_to_go from the achieved return (gamma {gamma})", running, back)
        spent = [sum(gamma**i * rewards[i] for i in range(t)) for t in range(n)]
        want = [(command - spent[t]) / gamma**t for t in range(n)]
        compare(
            f"commanded_returns_to_go (gamma {gamma})",
            R.commanded_returns_to_go(rewards, command, gamma),
            want,
        )
        steps = np.arange(n)[None, :]
        moved = R.at_commands(np.array([back]), steps, np.array([back[0]]), np.array([command]), gamma)
        compare(f"at_commands (gamma {gamma})", moved[0], want)
    values = np.array([0.3, -0.2, 0.8, 1.1, 0.4])
    starts, lengths, boot = np.array([0, 3]), np.array([3, 2]), np.array([0.0, 1.5])
    for lam in (1.0, 0.0):
        want = []
        for e in range(2):
            lo, hi = int(starts[e]), int(starts[e] + lengths[e])
            for t in range(lo, hi):
                if lam == 1.0:
                    want.append(
                        sum(0.9 ** (i - t) * rewards[i] for i in range(t, hi)) + 0.9 ** (hi - t) * boot[e]
                    )
                else:
                    want.append(rewards[t] + 0.9 * (values[t + 1] if t + 1 < hi else boot[e]))
        got = R.lambda_returns(rewards, values, starts, lengths, boot, 0.9, lam)
        compare(f"lambda_returns at lambda {lam:g}", got, want)
    why = "the returns a rollout commands or a value is fit to disagree with their definition"
    return Finding.measured(limits.RETURNS, worst, f"worst: {where}", why, "returns bookkeeping exact")
