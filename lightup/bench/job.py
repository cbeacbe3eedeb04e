"""A bench run's description (`Job`) and the digest of the weights it ends with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Job:
    env_id: str
    agent: str
    seed: int
    budget: int
    """Env steps at most."""
    eval_every: int
    env_options: tuple[str, ...] = ()
    eval_episodes: int = 20
    overrides: tuple[tuple[str, Any], ...] = ()
    """TrainConfig fields set last, as (name, value), for the trainer's agents (the learning benchmark's
    ``--set``); ``command.NAME`` sets a field of the command."""
    solved_at_return: float | None = None
    """The return that counts as solved where the env sets no reward threshold (a suite gives it)."""


def weights_digest(module) -> str:
    """A short SHA-256 of a torch module's parameters and buffers, by name: equal digests, equal weights
    (what makes a bench run's determinism checkable without keeping its model)."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]
