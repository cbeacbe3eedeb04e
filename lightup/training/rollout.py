"""Batched rollouts: N vectorized envs, one incremental (KV-cached) policy call per env step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy, greedy_action
from lightup.training.replay import Episode


@dataclass
class StepStats:
    """Sums over the steps of one `collect` call, for logging."""

    steps: int = 0
    entropy: float = 0.0
    max_prob: float = 0.0


def check_finite(name: str, values: np.ndarray, env_id: str) -> None:
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        raise LightupError(
            f"env {env_id} returned a non-finite {name} ({values[tuple(bad)]} at index "
            f"{tuple(bad.tolist())}); fix the env or wrap it"
        )


def check_shape(obs: np.ndarray, n: int, obs_dim: int, env_id: str) -> None:
    """The policy reads ``obs_dim`` values per observation (each env's own shape is checked where the envs
    are made, by `lightup.training.trainer.make_vector_env`)."""
    if obs.size != n * obs_dim:
        raise LightupError(
            f"env {env_id} gives observations of shape {obs.shape[1:]}, but the policy reads {obs_dim} "
            "values; build the policy for this env's observation space"
        )


class Rollout:
    """Runs N envs in lockstep, keeps each env's episode so far, and hands finished episodes back.

    Each env's return-to-go starts at the command and is decremented by every reward it observes; at an
    episode's first step the previous action is the start token. Episodes cut by a time limit stay marked
    as truncated, not terminated.
    """

    def __init__(
        self,
        envs: gym.vector.VectorEnv,
        policy: SequencePolicy,
        env_id: str,
        return_scale: float,
        gamma: float,
        device: torch.device,
    ):
        self.envs, self.policy, self.env_id = envs, policy, env_id
        self.return_scale, self.gamma, self.device = return_scale, gamma, device
        self.n = envs.num_envs
        self.discrete = policy.discrete
        self.on_env_error: Callable[[Exception, int], None] | None = None
        """If set, an exception from an env step goes here (with the count of failed steps in a row) and the
        envs restart; else it is raised."""
        self.errors_in_a_row = 0

    def start(self, seed: int, command: Callable[[], float]) -> None:
        """Reset all envs (seeded) and begin fresh sequences."""
        self.seed = seed
        obs, _ = self.envs.reset(seed=[seed + i for i in range(self.n)])
        check_finite("observation", obs, self.env_id)
        check_shape(obs, self.n, self.policy.obs_dim, self.env_id)
        self.obs = obs.reshape(self.n, -1).astype(np.float32)
        self.command = command
        self.rtg = np.array([command() for _ in range(self.n)], dtype=np.float64)
        self.t = np.zeros(self.n, dtype=np.int64)
        self.history: list[dict[str, list]] = [self._empty() for _ in range(self.n)]
        self.policy.begin(self.n)

    def _restart(self) -> None:
        """After an env raised: reset every env on fresh seeds and drop the episodes under way."""
        self.start(self.seed + 1_000_003, self.command)

    @staticmethod
    def _empty() -> dict[str, list]:
        return {"obs": [], "actions": [], "rewards": [], "rtg": []}

    def _prev_actions(self) -> torch.Tensor:
        if self.discrete:
            prev = [h["actions"][-1] if h["actions"] else self.policy.start_action for h in self.history]
            return torch.tensor(prev, dtype=torch.long, device=self.device)
        prev = [h["actions"][-1] if h["actions"] else np.zeros(self.policy.act_dim) for h in self.history]
        return torch.as_tensor(np.array(prev), dtype=torch.float32, device=self.device)

    @torch.inference_mode()
    def refresh(self) -> None:
        """Rebuild the policy's cache after its weights changed: replay each ongoing episode's last K steps
        with the new weights (right-aligned: shorter histories start later, after a reset)."""
        k = self.policy.context_len
        lens = [min(len(h["obs"]), k) for h in self.history]
        m = max(lens)
        self.policy.begin(self.n)
        if m == 0:
            return
        s = self.policy.obs_dim
        for j in range(m):
            rtg, obs, prev, ts = (
                np.zeros(self.n),
                np.zeros((self.n, s), np.float32),
                [],
                np.zeros(self.n, np.int64),
            )
            for i, h in enumerate(self.history):
                idx = len(h["obs"]) - m + j  # index into this episode
                if idx >= 0 and j >= m - lens[i]:
                    rtg[i], obs[i], ts[i] = h["rtg"][idx], h["obs"][idx], idx
                    prev.append(h["actions"][idx - 1] if idx > 0 else self._start())
                else:
                    prev.append(self._start())
            self.policy.push(*self._tensors(rtg, obs, prev, ts))
            self.policy.reset(torch.tensor([j < m - lens[i] for i in range(self.n)]))

    def _start(self):
        return self.policy.start_action if self.discrete else np.zeros(self.policy.act_dim, np.float32)

    def _tensors(self, rtg, obs, prev, ts):
        return (
            torch.as_tensor(rtg / self.return_scale, dtype=torch.float32, device=self.device),
            torch.as_tensor(obs, dtype=torch.float32, device=self.device),
            torch.as_tensor(
                np.array(prev), dtype=torch.long if self.discrete else torch.float32, device=self.device
            ),
            torch.as_tensor(ts, device=self.device),
        )

    @torch.inference_mode()
    def collect(
        self,
        n_steps: int,
        temperature: float = 1.0,
        greedy: bool = False,
        on_episode: Callable[[int, Episode], None] | None = None,
    ) -> StepStats:
        """Step every env ``n_steps`` times; finished episodes go to ``on_episode(env_index, episode)``."""
        stats = StepStats()
        for _ in range(n_steps):
            prev = self._prev_actions()
            params = self.policy.push(
                torch.as_tensor(self.rtg / self.return_scale, dtype=torch.float32, device=self.device),
                torch.as_tensor(self.obs, device=self.device),
                prev,
                torch.as_tensor(self.t, device=self.device),
            )
            if greedy:
                actions = greedy_action(params, self.discrete)
            else:
                scaled = params / temperature if self.discrete else params
                dist = self.policy.distribution(scaled)
                actions = dist.sample()
                if self.discrete:
                    probs = dist.probs
                    stats.entropy += float(dist.entropy().mean())
                    stats.max_prob += float(probs.max(dim=-1).values.mean())
            actions_np = actions.cpu().numpy()
            try:
                obs, rewards, terminated, truncated, info = self.envs.step(actions_np)
            except LightupError:
                raise
            except Exception as err:  # an env bug, reported on one line with where to look
                if self.on_env_error is None:
                    raise LightupError(f"env {self.env_id} raised {type(err).__name__}: {err}") from err
                self.errors_in_a_row += 1
                self.on_env_error(err, self.errors_in_a_row)  # logs it; raises once the env keeps failing
                self._restart()  # the ongoing episodes are dropped
                continue
            self.errors_in_a_row = 0
            check_finite("reward", rewards, self.env_id)
            check_finite("observation", obs, self.env_id)
            check_shape(obs, self.n, self.policy.obs_dim, self.env_id)
            stats.steps += self.n
            done = np.logical_or(terminated, truncated)
            for i, h in enumerate(self.history):
                h["obs"].append(self.obs[i])
                h["actions"].append(actions_np[i])
                h["rewards"].append(float(rewards[i]))
                h["rtg"].append(self.rtg[i])
                if done[i]:
                    if on_episode is not None:
                        on_episode(i, self._episode(h, bool(terminated[i])))
                    self.history[i] = self._empty()
            self.rtg = np.where(done, [self.command() if d else 0.0 for d in done], self.rtg - rewards)
            self.t = np.where(done, 0, self.t + 1)
            self.obs = obs.reshape(self.n, -1).astype(np.float32)
            if done.any():
                self.policy.reset(torch.as_tensor(done, device=self.device))
        return stats

    def _episode(self, h: dict[str, list], terminated: bool) -> Episode:
        actions = np.array(h["actions"], dtype=np.int64 if self.discrete else np.float32)
        return Episode(
            np.array(h["obs"], np.float32),
            actions,
            np.array(h["rewards"], np.float32),
            terminated,
            gamma=self.gamma,
            commanded=float(h["rtg"][0]),
        )
