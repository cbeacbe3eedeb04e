"""Overlapped rounds (``overlap``): the next round's rollout runs in a worker thread during the updates.

The rollout plays its own copy of the policy, which takes the trained weights once per round, after the
updates: a round is collected with the weights of one round before (one round stale, as in asynchronous
actor-learner setups). torch releases the GIL inside its kernels and the envs step in the worker, so on two
cores the rollout costs little wall time beside the updates.

Same seed, same weights, as long as the updates draw nothing from torch's generator (dropout 0, the
default): the worker alone samples actions, and it draws its commands from a numpy generator of its own.
A resume is not exact: the round ahead, and that generator, are not in the checkpoint (a stop between two
checkpoints keeps the round ahead's episodes, so that the envs saved and the replay agree). The default runs
rounds one after the other, resumed bit for bit.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from lightup.models.policy import SequencePolicy
from lightup.training.replay import Episode
from lightup.training.rollout import Rollout, StepStats


class RolloutAhead:
    """Runs `Rollout.collect` of the next round in one worker thread; `result` waits for it."""

    def __init__(self, rollout: Rollout):
        self.rollout = rollout
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="lightup-rollout")
        self._pending: Future | None = None

    @staticmethod
    def policy_copy(policy: SequencePolicy) -> SequencePolicy:
        """The rollout's own policy: a copy in eval mode, without gradients (the learner's is trained in
        place while the rollout plays)."""
        played = copy.deepcopy(policy).eval()
        played.requires_grad_(False)
        return played

    def start(self, n_steps: int, temperature: float, n_greedy: int) -> None:
        assert self._pending is None, "one round ahead at most"
        self._pending = self._pool.submit(self._collect, n_steps, temperature, n_greedy)

    def _collect(self, n_steps: int, temperature: float, n_greedy: int):
        t0 = time.perf_counter()
        finished: list[Episode] = []
        stats = self.rollout.collect(
            n_steps, temperature, on_episode=lambda i, ep: finished.append(ep), n_greedy=n_greedy
        )
        return stats, finished, time.perf_counter() - t0

    @property
    def pending(self) -> bool:
        return self._pending is not None

    def result(self) -> tuple[StepStats, list[Episode], float]:
        """The round collected ahead: its statistics, finished episodes and seconds (raises what it
        raised)."""
        assert self._pending is not None, "no round collected ahead"
        pending, self._pending = self._pending, None
        return pending.result()

    def take_weights(self, policy: SequencePolicy, rebuild: Callable[[], None]) -> None:
        """Copy the trained weights into the rollout's policy, then ``rebuild`` its cache (`Rollout.refresh`
        or `Rollout.start`)."""
        assert self._pending is None, "the rollout is running"
        self.rollout.policy.load_state_dict(policy.state_dict())
        rebuild()

    def close(self) -> None:
        """Wait for a round still running (its result is dropped) and stop the worker."""
        if self._pending is not None:
            with contextlib.suppress(Exception):  # the run is ending on another error or a stop
                self._pending.result()
            self._pending = None
        self._pool.shutdown(wait=True)
