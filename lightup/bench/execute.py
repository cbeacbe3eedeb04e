"""Where runs execute: a local process pool (default) or a Ray cluster, one task per run.

Both yield result rows as runs finish. Ray is imported only here, and only when asked for.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed

from lightup.bench.runs import Job, run_job
from lightup.errors import LightupError


def run_local(jobs: list[Job], workers: int) -> Iterator[dict]:
    """A process pool of ``workers`` processes; each run uses one torch thread."""
    # spawn, not fork: a forked child of a process that ran torch's thread pools can hang.
    context = multiprocessing.get_context("spawn")
    others = set(multiprocessing.active_children())  # a caller's own child processes, left alone
    try:
        pool = ProcessPoolExecutor(
            max(1, min(workers, len(jobs))), mp_context=context, initializer=_ignore_ctrl_c
        )
        with pool:
            futures = [pool.submit(run_job, job) for job in jobs]
            try:
                for future in as_completed(futures):
                    yield future.result()
            except BaseException:
                # The bench ends here: stopped (Ctrl-C, or SIGTERM sent to this process alone), a run
                # failed, or the caller stopped reading (GeneratorExit: Ctrl-C landed while it wrote a row).
                # No run goes on without it: queued runs are cancelled and each worker's run is asked to
                # stop after its round (the trainer's SIGTERM handling) rather than waited for to its budget.
                for future in futures:
                    future.cancel()
                for child in set(multiprocessing.active_children()) - others:
                    child.terminate()
                raise
    except BaseException:
        # A second Ctrl-C while the pool shuts down cuts the shutdown short, leaving workers that wait for
        # work for good and a bench that waits for them at exit: they are stopped at once, as a second
        # Ctrl-C asks (a pool that shut down has no worker left here).
        for child in set(multiprocessing.active_children()) - others:
            child.kill()
        raise


def _ignore_ctrl_c() -> None:
    """A pool worker leaves Ctrl-C to the bench: a terminal sends it to the workers too, and one caught
    between two runs would print its traceback. A run's trainer takes SIGINT while it trains (stop after
    the round), as it takes SIGTERM, which is how the bench stops it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
