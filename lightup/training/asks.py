"""What the trainer asks of its rollouts and evaluations: the commands drawn from the replay, and the chance
that a starting rollout episode explores (`lightup.training.explore`). A mixin of
`lightup.training.trainer.Trainer`, which owns the config, the replay and the generators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lightup.training.commands import eval_command, rollout_commands
from lightup.training.explore import gain, payoff, worst_share


class Asks:
    """Commands and exploration (mixed into `Trainer`: it reads the trainer's config, buffer and rng)."""

    def rollout_target(self) -> float:
        return float(self.rollout_targets(1)[0])

    def rollout_targets(self, n: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n`` draws of the rollout command (float64 (n,)), from the episodes stored now."""
        c = self.config
        rng = self.rng if rng is None else rng
        return rollout_commands(c.command, c.max_return, self.buffer.start_returns(), rng, n)

    def _rollout_command(self) -> Callable[[], float]:
        """What draws the rollout's commands: `rollout_target`, or with ``overlap`` the same from a
        generator of the rollout's own (its thread draws while the updates draw windows)."""
        if not self.config.overlap:
            return self.rollout_target
        if getattr(self, "_ahead_rng", None) is None:
            self._ahead_rng = np.random.default_rng([self.config.seed, 1])
        return lambda: float(self.rollout_targets(1, self._ahead_rng)[0])

    def eval_target(self) -> float:
        """The command of greedy evaluation (see ``TrainConfig.eval_command``)."""
        c = self.config
        return eval_command(c.eval_command, c.command, c.max_return, self.buffer.start_returns())

    def _explore_chance(self) -> float:
        """A starting rollout episode's chance to explore (`lightup.training.explore`): ``explore_share`` x
        the share of stored episodes at the worst return x how exploring episodes pay against the policy's,
        or for continuous actions ``explore_share`` x how much more often exploring episodes reach the top
        of the stored returns (`lightup.training.explore.gain`)."""
        share = self.config.explore_share
        if not share:
            return 0.0
        returns = self.buffer.returns()
        if not self.policy.discrete:
            return share * gain(returns, self.buffer.explored())
        return share * worst_share(returns) * payoff(returns, self.buffer.explored())
