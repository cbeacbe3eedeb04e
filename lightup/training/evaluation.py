"""What a trainer's policy scores and plays: greedy evaluation, the command sweep, the `Agent` it hands out
and SB3's ``predict``, all through `lightup.training.agent.play_episodes`. A mixin of `Trainer`."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import torch

from lightup.errors import EnvRaised, error_line
from lightup.models import SequencePolicy
from lightup.models.factory import is_factory_spec
from lightup.training.agent import EVAL_SEED, Agent, play_episodes
from lightup.training.recovery import log_env_error, resume_hint


class Evaluation:
    """Greedy evaluation and the trained policy as an `Agent`; the state (``policy``, ``averaged``,
    ``config``, ``eval_envs`` ...) is the `Trainer`'s."""

    @property
    def eval_policy(self) -> SequencePolicy:
        """The policy that greedy evaluation, `predict` and the viz tools play: with ``ema``, the averaged
        weights; else (or before the first update) the trained ones."""
        return self.policy if self.averaged is None else self.averaged.module

    @torch.inference_mode()
    def evaluate(self, target: float | None = None) -> dict[str, float]:
        """Greedy episodes of `eval_policy`, one per eval env, on fixed seeds, at the evaluation command. With
        ``ema``, the trained weights are evaluated on the same episodes too (eval/trained_mean_reward)."""
        target = self.eval_target() if target is None else target
        returns = self.run_episodes(self.eval_envs, target, greedy=True)
        mean = float(np.mean(returns))
        self.last_eval = mean
        if self.threshold is not None and mean >= self.threshold and self.solved_at is None:
            self.solved_at = self.steps
        out = {"eval/mean_reward": mean, "eval/std_reward": float(np.std(returns)), "eval/command": target}
        if self.averaged is not None:
            trained = self.run_episodes(self.eval_envs, target, greedy=True, policy=self.policy)
            out["eval/trained_mean_reward"] = float(np.mean(trained))
        return out

    def run_episodes(
        self,
        envs: gym.vector.VectorEnv,
        target: float,
        greedy: bool = True,
        policy: SequencePolicy | None = None,
    ) -> list[float]:
        """Play one episode in each of ``envs`` at a commanded return (``policy``: default `eval_policy`) on
        the evaluation seeds; returns their returns."""
        agent = self.agent(self.eval_policy if policy is None else policy, copy_policy=False)
        try:
            return play_episodes(agent, envs, command=target, seed=EVAL_SEED, deterministic=greedy)
        except EnvRaised as err:  # the run stops: an evaluation on its fixed seeds cannot skip an episode
            if self.run_dir is None:  # evaluated before it trained: no run folder to log in or resume
                raise
            log = log_env_error(self.run_dir, self.steps, err.__cause__, "greedy evaluation")
            raise EnvRaised(
                f"env {self.config.env_id} raised in a greedy evaluation at step {self.steps} "
                f"({error_line(err.__cause__)}); traceback in {log}; "
                + resume_hint(self.run_dir, self.saved_at)
            ) from err.__cause__

    def agent(self, policy: SequencePolicy | None = None, copy_policy: bool = True) -> Agent:
        """The trained policy alone (`eval_policy`, copied unless ``copy_policy`` is False) with its command
        defaults: what `policy.safetensors` holds."""
        policy = self.eval_policy if policy is None else policy
        c = self.config
        return Agent(
            copy.deepcopy(policy) if copy_policy else policy,
            c.return_scale,
            c.gamma,
            self.eval_target(),
            None if self.env_source.given else c.env_id,
            c.env_options,
            c.policy if is_factory_spec(c.policy) else None,
            c.max_episode_steps,
        )

    def evaluate_commands(self, targets: list[float]) -> list[dict[str, float]]:
        """Greedy evaluation at each commanded return: does asking for more give more?"""
        rows = []
        for target in targets:
            returns = self.run_episodes(self.eval_envs, target, greedy=True)
            rows.append({"command": target, "mean": float(np.mean(returns)), "std": float(np.std(returns))})
        return rows

    def predict(
        self,
        observations: np.ndarray,
        last_rewards: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        target_return: float | None = None,
    ) -> np.ndarray:
        """Actions (N,) for N envs in lockstep, like Stable-Baselines3's recurrent ``predict``: `Agent.act` of
        its own copy of `eval_policy` (taken again after updates when every env starts an episode, so
        training between two calls never disturbs the episodes under way)."""
        n = len(observations)
        start = np.ones(n, bool) if episode_start is None else np.asarray(episode_start, bool)
        agent = getattr(self, "_predict_agent", None)
        if agent is None or agent.n != n or start.all():
            if agent is None or getattr(self, "_predict_updates", None) != self.updates:
                self._predict_agent = agent = self.agent()
                self._predict_updates = self.updates
            agent.reset(n)
            start = np.ones(n, bool)
        target = self.eval_target() if target_return is None else target_return
        return agent.act(observations, last_rewards, start, command=target, deterministic=deterministic)
