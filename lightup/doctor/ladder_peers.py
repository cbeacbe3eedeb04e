"""The doctor's peers: Stable-Baselines3 agents climbing the same environment rungs as the subject, with each
rung's budget and seeds and the trainer's evaluation (``lightup doctor --peer``)."""

from __future__ import annotations

import math
import time

from lightup.doctor.ladder import RungResult, SeedOutcome
from lightup.doctor.rungs import SMALL, Rung
from lightup.errors import LightupError

PEERS = {"sb3:PPO": "sb3-ppo", "sb3:DQN": "sb3-dqn"}


def peer_rungs(rungs: list[Rung]) -> list[Rung]:
    """The rungs a standard agent can play: an env, a reward threshold, no command to follow."""
    return [r for r in rungs if r.env_id is not None and r.name != "command-follow" and not r.known_limit]


def climb_peer(agent: str, rungs: list[Rung], seeds: int = 3, on_result=None) -> list[RungResult]:
    """A Stable-Baselines3 agent (RL Zoo hyperparameters, see lightup.bench.zoo) on every environment rung,
    with the rung's budget and seeds and the trainer's evaluation; it does not stop at a failure, since it
    is there to show where a standard agent stands, not to be diagnosed."""
    from lightup.bench.runs import Job, run_job

    if agent not in PEERS:
        raise LightupError(f"unknown agent {agent!r}; choose from: {', '.join(PEERS)}")
    results = []
    for rung in peer_rungs(rungs):
        t0 = time.perf_counter()
        eval_every = dict(rung.overrides).get("eval_every", SMALL["eval_every"])
        need = max(1, math.ceil(rung.pass_rate * seeds - 1e-9))
        outcomes = []
        for seed in range(seeds):
            try:
                row = run_job(Job(rung.env_id, PEERS[agent], seed, rung.budget, eval_every, rung.env_options))
                solved = row["solved_at"] is not None
                detail = (
                    f"reached {row['threshold']:g} at {row['solved_at']} steps"
                    if solved
                    else f"last greedy evaluation {row['final_eval']} < {row['threshold']:g} "
                    f"after {rung.budget} steps"
                )
            except LightupError:
                raise  # a missing extra: the user must install it
            except Exception as err:  # a crash is a failure of that seed, on its line
                solved, detail = False, f"raised {type(err).__name__}: {str(err).splitlines()[0]}"
            outcomes.append(SeedOutcome(seed, solved, detail))
        passed = sum(o.passed for o in outcomes)
        first_bad = next((o for o in outcomes if not o.passed), outcomes[0])
        result = RungResult(
            rung.name,
            "pass" if passed >= need else "fail",
            passed,
            len(outcomes),
            time.perf_counter() - t0,
            f"seed {first_bad.seed}: {first_bad.detail}",
            outcomes=outcomes,
        )
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
