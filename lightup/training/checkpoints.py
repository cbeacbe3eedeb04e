"""A trainer's checkpoints: the whole training state saved to its run folder, and a trainer rebuilt from one
(`lightup.training.state` reads and writes the file). A mixin of `lightup.training.trainer.Trainer`."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym

from lightup.checkpoint import with_prefix
from lightup.errors import LightupError
from lightup.models import SequencePolicy
from lightup.models.factory import PolicyFactory
from lightup.ranges import check_counters
from lightup.training import state
from lightup.training.agent import AGENT_FILE
from lightup.training.envs import EnvFactory
from lightup.training.state import CHECKPOINT
from lightup.training.state_checks import check_buffer, check_outputs

if TYPE_CHECKING:
    from lightup.training.trainer import Trainer


class Checkpoints:
    """Saving and loading (mixed into `Trainer`: the state saved is the trainer's)."""

    def save_checkpoint(self, path: str | Path | None = None, rollout_state: dict | None = None) -> Path:
        """The whole training state (`lightup.training.state`); in the run folder, the agent file
        (``policy.safetensors``) beside it too. With ``rollout_state`` (at a stop between two checkpoints),
        the rollout's too, which a resumed run goes on from instead of re-seeding its envs."""
        self._open_run()
        path = Path(path) if path else self.run_dir / CHECKPOINT
        try:
            state.save_state(self, path, rollout_state)
            if path == self.run_dir / CHECKPOINT:
                self.agent(copy_policy=False).save(self.run_dir / AGENT_FILE)
        except OSError as err:  # a full disk, a folder gone: the write left the old file as it was
            kept = "no checkpoint was written there"
            if path.exists():
                at = f" (step {self.saved_at})" if path == self.run_dir / CHECKPOINT else ""
                kept = f"the checkpoint already there{at} is intact"
            raise LightupError(
                f"could not write the checkpoint {str(path)!r} ({err.strerror or err}); {kept}: free space "
                f"and resume with lightup train --resume {self.run_dir}"
            ) from None
        if path == self.run_dir / CHECKPOINT:
            self.saved_at = self.steps
        return path

    @classmethod
    def load(
        cls,
        run_dir: str | Path,
        env: str | EnvFactory | gym.vector.VectorEnv | None = None,
        policy: SequencePolicy | PolicyFactory | None = None,
        eval_env: EnvFactory | None = None,
        overrides: dict | None = None,
    ) -> Trainer:
        """Rebuild a trainer from a run folder's checkpoint: weights, optimizer, replay, random states.

        A run of a user's policy factory (its config's ``policy`` is ``module:attr``) needs ``policy`` again:
        a module named in a file is never imported. A run on an env given in Python needs ``env`` again.
        ``overrides``: config fields that may change on resume (the budget, the device, output)."""
        run_dir = Path(run_dir)
        tensors, meta, config = state.read_checkpoint(run_dir)
        state.check_resumable(run_dir, config, env, policy_given=policy is not None)
        try:
            path = run_dir / CHECKPOINT
            check_counters(meta["counters"], where=f"{str(path)!r}: ")
            config = dataclasses.replace(config, **(overrides or {}))
            trainer = cls(config, env=env, policy=policy, eval_env=eval_env)
            trainer.run_dir = run_dir
            obs_dim, commanded = trainer.policy.obs_dim, meta["buffer_commanded"]
            where, n = f"{str(path)!r} ", trainer.n_actions
            check_buffer(tensors, commanded, obs_dim, n, where, discrete=trainer.discrete)
            state.restore_state(trainer, tensors, meta, where)
            check_outputs(trainer.policy, where)  # finite weights may still overflow (3e38)
            rollout = with_prefix(tensors, "rollout.")
            trainer._rollout_state = {k: v.numpy() for k, v in rollout.items()} if rollout else None
        # OverflowError: a number past its type in the metadata (a numpy RNG state of 10**4000 or -5)
        except (
            KeyError,
            TypeError,
            ValueError,
            AttributeError,
            IndexError,
            RuntimeError,
            OverflowError,
        ) as err:
            raise state.unreadable(run_dir / CHECKPOINT, err) from None
        trainer.saved_at = trainer.steps
        return trainer
