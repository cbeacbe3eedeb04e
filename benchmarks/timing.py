"""The benchmarks' clock: CPU time of the process on the CPU, wall time after a synchronize on a GPU."""

from __future__ import annotations

import time

import torch


def clock(device: str) -> float:
    """On the CPU, the process's CPU time (other people's load on a shared machine disturbs it less than wall
    time); on a GPU, which runs alone, wall time once the queued kernels are done."""
    if device == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()
