"""Where runs execute: a local process pool (default) or a Ray cluster, one task per run.

Both yield result rows as runs finish. Ray is imported only here, and only when asked for.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor

from lightup.bench.runs import Job, run_job
from lightup.errors import LightupError


def run_local(jobs: list[Job], workers: int) -> Iterator[dict]:
    """A process pool of ``workers`` processes; each run uses one torch thread."""
    # spawn, not fork: a forked child of a process that ran torch's thread pools can hang.
    context = multiprocessing.get_context("spawn")
    others = set(multiprocessing.active_children())  # a caller's own child processes, left alone
    stopping = context.RawValue("b", 0)  # set when the bench stops: a worker starts no run after it
    pool = ProcessPoolExecutor(
        max(1, min(workers, len(jobs))),
        mp_context=context,
        initializer=_take_stops_in_runs,
        initargs=(stopping,),
    )
    # Finished runs come through a queue, not as_completed: a stop lands in the queue's wait, which it
    # leaves as it was, rather than in the futures' own locks, one of which a second stop landing while
    # the first unwinds could leave held (the pool's thread then waits on it for good).
    finished: queue.SimpleQueue[Future] = queue.SimpleQueue()
    try:
        for job in jobs:
            pool.submit(_run, job).add_done_callback(finished.put)
        for _ in jobs:
            yield finished.get().result()
    except BaseException:
        # The bench ends here: stopped (Ctrl-C, or SIGTERM sent to this process alone), a run
        # failed, or the caller stopped reading (GeneratorExit: Ctrl-C landed while it wrote a row).
        # No run goes on without it: queued runs are cancelled (`_shut_down`; a run already handed to
        # a worker does not start, `stopping`) and each worker's run is asked to stop after its round
        # (the trainer's SIGTERM handling) rather than waited for to its budget.
        stopping.value = 1
        for child in set(multiprocessing.active_children()) - others:
            child.terminate()
        raise
    finally:
        _shut_down(pool, others)


def _shut_down(pool: ProcessPoolExecutor, others: set) -> None:
    """Cancel the pool's queued runs and wait for the runs under way to end their round, the workers to
    exit and the pool's own thread to end. A stop meanwhile (Ctrl-C twice) kills the workers, as a second
    Ctrl-C asks, and is raised once that thread has ended too, which it does when it sees them gone; a
    further stop changes nothing, and after 10 s the stop is raised all the same.

    The wait is not the pool's own (``shutdown(wait=True)``, a join of its thread): in Python 3.11 a join
    that Ctrl-C cuts short marks the thread ended while it runs on, so no later join waits for it, not even
    the interpreter's at exit, and the thread goes on closing the pool while the bench exits; the exit's
    wake-up of the thread then writes to the pipe the thread closes, and one of them prints a traceback
    after the bench's line. Here a stop lands in a sleep, and the thread is looked for among those running.
    """
    thread = pool._executor_manager_thread  # private, the only handle on it; none before a first run
    pool.shutdown(wait=False, cancel_futures=True)
    stop: BaseException | None = None
    deadline = None
    while True:
        try:
            if thread is None or thread not in threading.enumerate():
                break
            if stop is not None:
                for child in set(multiprocessing.active_children()) - others:
                    child.kill()
                deadline = deadline or time.monotonic() + 10
                if time.monotonic() > deadline:
                    break
            time.sleep(0.01)
        except KeyboardInterrupt as err:
            stop = stop or err
    if stop is not None:
        raise stop


# In a pool worker: the bench's flag that it stops, and the bench's pid.
_stopping = None
_bench_pid = 0


def _take_stops_in_runs(stopping) -> None:
    """A pool worker's signals. Ctrl-C is left to the bench: a terminal sends it to the workers too, and
    one caught between two runs would print its traceback (a run's trainer takes SIGINT while it trains:
    stop after the round). SIGTERM, the bench's stop, ends the run under way (`_stop`)."""
    global _stopping, _bench_pid
    _stopping, _bench_pid = stopping, os.getppid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop)


def _stop(signum: int, frame) -> None:
    """SIGTERM in a pool worker. In a run (its setup, or after the trainer's `learn`, which takes SIGTERM
    itself while it trains) the run ends here. Between runs the worker is in the pool's own code, taking a
    run or handing back a result, holding a lock it shares with the other workers or with a message half
    written: ended there, as SIGTERM's default would, it leaves the lock held or the message cut, and the
    other workers or the pool's thread wait for them for good (the bench's shutdown never ends). There
    SIGTERM does nothing: the bench's flag keeps the worker from starting a run, and the pool tells it
    to exit."""
    while frame is not None:
        if frame.f_code is _run.__code__:
            raise KeyboardInterrupt
        frame = frame.f_back
    if os.getppid() != _bench_pid:  # the bench is gone (killed): no pool will tell this worker to exit
        os._exit(128 + signum)


def _run(job: Job) -> dict:
    """A pool worker's run: none once the bench stops (a run handed to the worker before that and not
    started yet cannot be cancelled)."""
    if _stopping is not None and _stopping.value:
        raise KeyboardInterrupt
    return run_job(job)


def run_ray(jobs: list[Job], address: str) -> Iterator[dict]:
    """Each run is a Ray task of one CPU. ``address`` "auto" joins the cluster running here, or starts a
    local instance when there is none; any other value is a cluster address (``ray://host:10001`` or
    ``host:6379``). The workers need lightup installed, as ``pip install -e ".[ray]"`` does here."""
    try:
        import ray
        from ray.exceptions import RayTaskError
    except ImportError:
        raise LightupError('--ray needs Ray: pip install -e ".[ray]"') from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except ConnectionError:
            if address != "auto":
                raise LightupError(
                    f"no Ray cluster answers at {address!r}; check --ray or use auto"
                ) from None
            ray.init(include_dashboard=False, log_to_driver=False)  # none running: a local instance
    try:
        task = ray.remote(num_cpus=1, max_retries=0)(run_job)
        pending = [task.remote(job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except RayTaskError as err:
                if isinstance(err.cause, LightupError):
                    raise err.cause from None
                raise
    finally:
        if started:
            ray.shutdown()
