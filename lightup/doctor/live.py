"""The doctor's training alarms while a run trains: a `Trainer.learn` callback (`lightup train` adds it)."""

from __future__ import annotations

import math

from lightup.doctor.alarms import Context, check_records
from lightup.training.callbacks import Callback
from lightup.training.logger import read_metrics


class AlarmCallback(Callback):
    """At each evaluation, the alarms over the metrics so far (read back from the run's metrics file, so
    nothing grows in memory): each new one is logged once as ``alarm/NAME`` and, with ``show``, printed."""

    def __init__(self, show: bool = True):
        self.show = show
        self.raised: set[str] = set()

    def on_start(self, trainer, total_steps: int) -> None:
        self.raised |= trainer.logged_alarms  # a resumed run's, already in its metrics

    def on_eval(self, trainer, metrics: dict[str, float]) -> None:
        n = trainer.n_actions
        ctx = Context(max_entropy=math.log(n) if n > 1 else None, threshold=trainer.threshold)
        alarms, _ = check_records(read_metrics(trainer.run_dir), ctx)
        for alarm in alarms:
            if alarm.name in self.raised:
                continue
            self.raised.add(alarm.name)
            trainer.logger.log(trainer.steps, {f"alarm/{alarm.name}": 1.0})
            if self.show:
                print(
                    f"alarm at step {trainer.steps}: {alarm.message}. {alarm.meaning}. Look at: {alarm.where}"
                )
