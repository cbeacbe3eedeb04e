"""A trainer's run folder and checkpoints: the folder opened and locked while the trainer writes in it, the
whole training state saved there, and a trainer rebuilt from it (`lightup.training.state` reads and writes
the file). A mixin of `lightup.training.trainer.Trainer`."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym

from lightup.checkpoint import atomic_write, with_prefix
from lightup.errors import LightupError
from lightup.models import SequencePolicy
from lightup.models.factory import PolicyFactory
from lightup.outputs import mark
from lightup.ranges import check_counters
from lightup.training import recovery, state
from lightup.training.agent import AGENT_FILE
from lightup.training.envs import EnvFactory
from lightup.training.state import CHECKPOINT
from lightup.training.state_checks import check_buffer, check_outputs

if TYPE_CHECKING:
    from lightup.training.trainer import Trainer


class Checkpoints:
    """The run folder, saving and loading (mixed into `Trainer`: the state saved is the trainer's)."""

    run_lock: recovery.RunLock | None = None
    """The run folder's lock while this trainer writes in it (`hold_run`)."""
    _seen: tuple[int, ...] | None = None
    """The folder's checkpoint as this trainer last read or wrote it (`recovery.stamp`); None: a new run."""
    _opened: tuple[Path, set[str] | None] | None = None
    """A new run's folder and the names it held before `_open_run` (None: it made the folder), until the
    run has started (`undo_open`)."""

    def hold_run(self) -> bool:
        """Open the run folder (made, for a new run) and lock it until `release_run`, so that no other process
        trains in it meanwhile; True if locked by this call (False: held already). A folder whose checkpoint
        changed since this trainer read it (another process trained on) is refused: load it again."""
        if self.run_lock is not None and self.run_lock.held:
            return False
        if self.run_dir is None:
            self._open_run()
            return True
        self._lock(self.run_dir)
        if self._seen is not None and recovery.stamp(self.run_dir / CHECKPOINT) != self._seen:
            self.release_run()
            raise LightupError(
                f"the checkpoint in {str(self.run_dir)!r} changed after this run read it (another process "
                f"trained in the folder); resume it again: lightup train --resume {self.run_dir}"
            )
        return True

    @contextlib.contextmanager
    def holding_run(self) -> Iterator[None]:
        """`hold_run` for the length of a ``with`` block (released after it, unless held already)."""
        held = self.hold_run()
        try:
            yield
        finally:
            if held:
                self.release_run()

    def release_run(self) -> None:
        """Let other processes train in the run folder again."""
        if self.run_lock is not None:
            self.run_lock.release()

    def continue_in(self, run_dir: Path) -> None:
        """Train on in ``run_dir`` as it is now: if its checkpoint changes before `hold_run`, that refuses."""
        self.run_dir = Path(run_dir)
        self._seen = recovery.stamp(self.run_dir / CHECKPOINT)

    def _lock(self, run_dir: Path) -> None:
        self.run_lock = recovery.RunLock(run_dir)
        self.run_lock.acquire()

    def _open_run(self) -> None:
        """Make and lock a new run's folder, write its config.json; a folder that holds a run is refused."""
        c = self.config
        name = f"{c.env_id.replace('/', '_').replace(':', '_')}__{c.exp_name}__{c.seed}__{int(time.time())}"
        run_dir = Path(c.run_dir) if c.run_dir else Path(c.run_root) / name
        # a folder train may write in, not a bench's: checked before anything is written
        recovery.check_run_dir(run_dir, "--run-dir" if c.run_dir else "--run-root (and --exp-name)")
        before = {entry.name for entry in run_dir.iterdir()} if run_dir.is_dir() else None
        holds_run = LightupError(
            f"{str(run_dir)!r} already holds a run; continue it with --resume {run_dir} or pick another "
            "--run-dir"
        )
        if (run_dir / CHECKPOINT).exists():  # refused before the folder is touched
            raise holds_run
        run_dir.mkdir(parents=True, exist_ok=True)
        self._lock(run_dir)
        try:
            if (run_dir / CHECKPOINT).exists():  # again once locked: a run in it may have written one since
                raise holds_run
            if (run_dir / "metrics.jsonl").exists():  # a run stopped before its first checkpoint: nothing
                print(  # to resume, so the folder is reused (`learn` drops the old metrics)
                    f"note: {run_dir} holds a run stopped before its first checkpoint; starting a new run "
                    "there (its metrics are replaced)",
                    file=sys.stderr,
                )
            mark(run_dir, "run")
            text = json.dumps(dataclasses.asdict(self.config), indent=2)
            atomic_write(run_dir / "config.json", lambda tmp: Path(tmp).write_text(text))
        except BaseException:
            self.release_run()
            raise
        self.run_dir, self._seen, self._opened = run_dir, (), (run_dir, before)

    def undo_open(self) -> None:
        """Take back what `_open_run` made for a run that could not start (its logger refused: W&B without
        a login): the entries it added to the folder, and the folder if it made it. Nothing once started."""
        opened, self._opened = self._opened, None
        if opened is None:
            return
        run_dir, before = opened
        self.release_run()
        for entry in run_dir.iterdir():
            if before is None or entry.name not in before:
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry)
                else:
                    entry.unlink()
        if before is None:
            run_dir.rmdir()
        self.run_dir = None

    def started(self) -> None:
        """The run has started: what `_open_run` made is the run's now, never taken back."""
        self._opened = None

    def save_checkpoint(self, path: str | Path | None = None, rollout_state: dict | None = None) -> Path:
        """The whole training state (`lightup.training.state`); in the run folder, the agent file
        (``policy.safetensors``) beside it too. With ``rollout_state`` (at a stop between two checkpoints),
        the rollout's too, which a resumed run goes on from instead of re-seeding its envs."""
        with self.holding_run():
            return self._save_checkpoint(path, rollout_state)

    def _save_checkpoint(self, path: str | Path | None, rollout_state: dict | None) -> Path:
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
            self._seen = recovery.stamp(path)
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
        seen = recovery.stamp(run_dir / CHECKPOINT)  # before reading: a write after it is seen by `hold_run`
        tensors, meta, config = state.read_checkpoint(run_dir)
        state.check_resumable(run_dir, config, env, policy_given=policy is not None)
        recovery.check_same_run(run_dir, run_dir / CHECKPOINT, meta["config"])
        try:
            path = run_dir / CHECKPOINT
            check_counters(meta["counters"], where=f"{str(path)!r}: ")
            config = dataclasses.replace(config, **(overrides or {}))
            trainer = cls(config, env=env, policy=policy, eval_env=eval_env)
            trainer.run_dir, trainer._seen = run_dir, seen
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
