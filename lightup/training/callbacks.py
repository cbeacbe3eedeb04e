"""Callbacks in Stable-Baselines3's manner: code that hooks into `Trainer.learn` without the loop knowing it.

A callback's hooks run after each round (``on_round``), after each greedy evaluation (``on_eval``, before
that round's ``on_round``) and once at the end (``on_end``); ``close`` always runs, even after an error. A
hook that returns False, or sets ``trainer.stop_training``, stops training after the round. Stopping at the
threshold, periodic checkpoints and the progress bar live here; the doctor's alarms are
`lightup.doctor.live.AlarmCallback`. `default_callbacks` is what `lightup train` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lightup.training.config import TrainConfig

if TYPE_CHECKING:
    from lightup.training.trainer import Trainer


class Callback:
    """Override the hooks you need; each gets the trainer, and the round's logged metrics where it has any."""

    def on_start(self, trainer: Trainer, total_steps: int) -> None:
        """Before the first round of a `learn` call."""

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> bool | None:
        """After a greedy evaluation (its figures are in ``metrics``, as logged)."""

    def on_round(self, trainer: Trainer, metrics: dict[str, float]) -> bool | None:
        """After each round (rollout, then updates), once its metrics are logged."""

    def on_end(self, trainer: Trainer) -> None:
        """After the last round, when training ends normally."""

    def close(self) -> None:
        """Always, last (after an error too): free what the callback holds."""


class StopAtThreshold(Callback):
    """Stop at the first greedy evaluation that reaches the env's reward threshold."""

    def on_eval(self, trainer: Trainer, metrics: dict[str, float]) -> bool:
        return trainer.solved_at is None


class CheckpointEvery(Callback):
    """Save a checkpoint (and the agent file beside it) every ``every`` env steps and at the end.

    The trainer resets its rollout envs on the round's seed after a checkpoint, so a run resumed from it
    goes on exactly as the uninterrupted one."""

    def __init__(self, every: int):
        self.every = every

    def on_start(self, trainer: Trainer, total_steps: int) -> None:
        self.next = (trainer.steps // self.every + 1) * self.every

    def on_round(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        if trainer.steps >= self.next:
            trainer.save_checkpoint()
            self.next = (trainer.steps // self.every + 1) * self.every

    def on_end(self, trainer: Trainer) -> None:
        if trainer.saved_at != trainer.steps:
            trainer.save_checkpoint()


class ProgressBar(Callback):
    """A rich progress bar with the key figures."""

    def on_start(self, trainer: Trainer, total_steps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[figures]}"),
        )
        self._task = self._progress.add_task("train", total=total_steps, completed=trainer.steps, figures="")
        self._return: float | None = None
        self._progress.start()

    def on_round(self, trainer: Trainer, metrics: dict[str, float]) -> None:
        # A round in which no episode ended (long episodes, few envs) keeps the last mean return shown.
        self._return = metrics.get("rollout/ep_rew_mean", self._return)
        figures = "return -" if self._return is None else f"return {self._return:.1f}"
        if trainer.last_eval is not None:
            figures += f"  eval {trainer.last_eval:.1f}"
        self._progress.update(self._task, completed=trainer.steps, figures=figures)

    def close(self) -> None:
        if getattr(self, "_progress", None) is not None:
            self._progress.stop()
            self._progress = None


def default_callbacks(
    config: TrainConfig, extra: list[Callback] | tuple[Callback, ...] = ()
) -> list[Callback]:
    """What a config asks for: the progress bar (unless quiet), ``extra`` (the doctor's alarms, for
    `lightup train`), stopping at the threshold (``stop_at_threshold``), checkpoints every
    ``checkpoint_every`` env steps and at the end."""
    callbacks: list[Callback] = [] if config.quiet else [ProgressBar()]
    callbacks += list(extra)
    if config.stop_at_threshold:
        callbacks.append(StopAtThreshold())
    callbacks.append(CheckpointEvery(config.checkpoint_every))
    return callbacks
