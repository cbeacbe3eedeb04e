"""Batched rollouts: N vectorized envs, one incremental (KV-cached) policy call per env step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import torch

from lightup.envs.env_errors import call_env
from lightup.errors import EnvRaised, LightupError
from lightup.models.heads import with_temperature
from lightup.models.policy import SequencePolicy, greedy_action
from lightup.training.envs import check_finite, check_rewards, check_shape
from lightup.training.explore import EXPLORE_KEYS, Explorer, explore_shapes, options_out_of_range
from lightup.training.replay import Episode
from lightup.training.returns import next_return_to_go


@dataclass
class StepStats:
    """Sums over the steps of one `collect` call, for logging."""

    steps: int = 0
    entropy: float = 0.0
    max_prob: float = 0.0
    explored: int = 0
    """Env steps whose action an exploring episode's option chose (`lightup.training.explore`)."""


def sample_categorical(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(actions, log-probabilities) of ``Categorical(logits=logits)``, row by row: the same arithmetic and
    the same draw from torch's generator as its ``sample`` and ``logits``, in a few tensor calls (building
    the distribution object costs more than the draw at rollout batch sizes)."""
    log_probs = logits - logits.logsumexp(dim=-1, keepdim=True)
    actions = torch.multinomial(torch.softmax(log_probs, dim=-1), 1, True)[:, 0]
    return actions, log_probs


def categorical_stats(log_probs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(entropy, probability of the most likely action) of categoricals given by their log-probabilities
    (..., A), as ``Categorical``'s ``entropy`` and ``probs`` compute them."""
    probs = torch.softmax(log_probs, dim=-1)
    entropy = -(log_probs.clamp(min=torch.finfo(log_probs.dtype).min) * probs).sum(-1)
    return entropy, probs.max(dim=-1).values


REPLAY_LIMIT = 1 << 22
"""Env steps (of all envs together) whose actions a rollout keeps to replay (at most 32 MiB of int64)."""


class Rollout:
    """Runs N envs in lockstep, keeps each env's episode so far, and hands finished episodes back.

    Each env's return-to-go starts at the command and is decremented by every reward it observes (and
    divided by gamma when that is below 1: `next_return_to_go`); at an episode's first step the previous
    action is the start token. Episodes cut by a time limit stay marked as truncated, not terminated.
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
        self._rows = np.arange(self.n)  # row index of each env, for the per-env writes and reads
        self.discrete = policy.discrete
        self.on_env_error: Callable[[Exception, int], None] | None = None
        """If set, an exception from an env step goes here (with the count of failed steps in a row) and the
        envs restart; else it is raised."""
        self.errors_in_a_row = 0
        # The contract's own categorical distribution: sampled by `sample_categorical`, without building a
        # torch.distributions object each step (a policy that overrides ``distribution`` keeps its own).
        self._plain_categorical = self.discrete and type(policy).distribution is SequencePolicy.distribution
        self.explorer = Explorer(self.n, policy.act_dim, continuous=not self.discrete)
        self.explore_chance: Callable[[], float] = lambda: 0.0
        """Each starting episode's chance to explore (`lightup.training.explore`)."""

    def start(self, seed: int, command: Callable[[], float]) -> None:
        """Reset all envs (seeded) and begin fresh sequences."""
        self.seed = seed
        obs, _ = call_env(self.env_id, self.envs.reset, seed=[seed + i for i in range(self.n)])
        check_finite("observation", obs, self.env_id)
        check_shape(obs, self.n, self.policy.obs_dim, self.env_id)
        self.obs = obs.reshape(self.n, -1).astype(np.float32)
        self.command = command
        self.rtg = np.array([command() for _ in range(self.n)], dtype=np.float64)
        self.explorer.begin(self._rows, self.explore_chance())
        self.t = np.zeros(self.n, dtype=np.int64)
        """Steps of each env's episode so far; the next step is written at index ``t``."""
        self._alloc(256)
        self.policy.begin(self.n)
        self._played: np.ndarray | None = np.zeros((16, *self._action_shape()), self._action_dtype())
        """The actions (N,) of each step since the envs were reset on ``seed``, in the first ``_n_played``
        rows: replaying them brings the envs back to where they are (`state`, `restore`); None once past
        ``REPLAY_LIMIT``."""
        self._n_played = 0

    def _alloc(self, capacity: int) -> None:
        """The episodes under way, one row per env, as arrays (a step is a few vectorized writes, not a
        Python loop over envs); columns grow by doubling, so episodes can be of any length."""
        n, old = self.n, getattr(self, "_obs_buf", None)
        act_shape = () if self.discrete else (self.policy.act_dim,)
        act_dtype = np.int64 if self.discrete else np.float32
        bufs = (
            np.zeros((n, capacity, self.policy.obs_dim), np.float32),
            np.zeros((n, capacity, *act_shape), act_dtype),
            np.zeros((n, capacity), np.float64),
            np.zeros((n, capacity), np.float64),
        )
        if old is not None and old.shape[1] < capacity:  # growing: keep the episodes under way
            olds = (self._obs_buf, self._act_buf, self._rew_buf, self._rtg_buf)
            for new, prev in zip(bufs, olds, strict=True):
                new[:, : old.shape[1]] = prev
        self._obs_buf, self._act_buf, self._rew_buf, self._rtg_buf = bufs

    def _restart(self) -> None:
        """After an env raised: reset every env on fresh seeds and drop the episodes under way."""
        self.start(self.seed + 1_000_003, self.command)

    def _start(self) -> np.ndarray:
        """The previous action of an episode's first step: the start token (discrete) or zeros."""
        if self.discrete:
            return np.int64(self.policy.start_action)
        return np.zeros(self.policy.act_dim, np.float32)

    def _actions_before(self, idx: np.ndarray) -> np.ndarray:
        """Each env's action at step ``idx - 1`` of its episode, the start token where ``idx`` is 0."""
        prev = self._act_buf[self._rows, np.maximum(idx - 1, 0)]
        first = idx <= 0 if self.discrete else (idx <= 0)[:, None]
        return np.where(first, self._start(), prev)

    @torch.inference_mode()
    def refresh(self) -> None:
        """Rebuild the policy's cache after its weights changed: replay each ongoing episode's last K steps
        with the new weights (right-aligned: shorter histories start later, after a reset)."""
        m = int(np.minimum(self.t, self.policy.context_len).max())
        self.policy.begin(self.n)
        rows = self._rows
        for j in range(m):
            idx = self.t - m + j  # index into each env's episode; negative: before its start
            real = idx >= 0
            at = np.maximum(idx, 0)
            rtg = np.where(real, self._rtg_buf[rows, at], 0.0)
            obs = np.where(real[:, None], self._obs_buf[rows, at], 0.0)
            self.policy.push(*self._tensors(rtg, obs, self._actions_before(at), at))
            self.policy.reset(torch.as_tensor(~real))

    def _tensors(self, rtg, obs, prev, ts):
        return (
            torch.as_tensor(rtg / self.return_scale, dtype=torch.float32, device=self.device),
            torch.as_tensor(obs, dtype=torch.float32, device=self.device),
            torch.as_tensor(prev, dtype=torch.long if self.discrete else torch.float32, device=self.device),
            torch.as_tensor(ts, device=self.device),
        )

    @torch.inference_mode()
    def collect(
        self,
        n_steps: int,
        temperature: float = 1.0,
        greedy: bool = False,
        on_episode: Callable[[int, Episode], None] | None = None,
        n_greedy: int = 0,
    ) -> StepStats:
        """Step every env ``n_steps`` times; finished episodes go to ``on_episode(env_index, episode)``.
        ``greedy``: every env takes the most likely action; else they sample (logits / ``temperature``), but
        the first ``n_greedy`` envs take the most likely one."""
        stats = StepStats()
        rows = self._rows
        seen: list[torch.Tensor] = []  # the sampled steps' log-probabilities, summarised at the end
        for _ in range(n_steps):
            prev = self._actions_before(self.t)
            params = self.policy.push(*self._tensors(self.rtg, self.obs, prev, self.t))
            if greedy:
                actions = greedy_action(params, self.discrete)
            elif self._plain_categorical:
                actions, log_probs = sample_categorical(params / temperature)
                if n_greedy:
                    actions[:n_greedy] = greedy_action(params[:n_greedy], True)
                seen.append(log_probs)
            else:
                dist = self.policy.distribution(with_temperature(params, temperature, self.discrete))
                actions = dist.sample()
                if n_greedy:
                    actions[:n_greedy] = greedy_action(params[:n_greedy], self.discrete)
                if self.discrete:
                    probs = dist.probs
                    stats.entropy += float(dist.entropy().mean())
                    stats.max_prob += float(probs.max(dim=-1).values.mean())
                else:  # the tanh-Gaussian's entropy has no closed form: -log p of the draws estimates it
                    stats.entropy -= float(dist.log_prob(actions).mean())
            actions_np = actions.cpu().numpy()
            if not greedy:
                self.explorer.exploring[:n_greedy] = False
                stats.explored += int(self.explorer.exploring.sum())
                actions_np = self.explorer.act(actions_np)
            try:
                obs, rewards, terminated, truncated, info = call_env(self.env_id, self.envs.step, actions_np)
            except EnvRaised as raised:  # an env bug: one line, or handed on with the env's own exception
                if self.on_env_error is None:
                    raise
                self.errors_in_a_row += 1
                # logs it; raises once the env keeps failing
                self.on_env_error(raised.__cause__, self.errors_in_a_row)
                self._restart()  # the ongoing episodes are dropped
                continue
            self.errors_in_a_row = 0
            if self._played is not None:
                self._keep_played(actions_np)
            check_rewards(rewards, self.env_id)
            check_finite("observation", obs, self.env_id)
            check_shape(obs, self.n, self.policy.obs_dim, self.env_id)
            stats.steps += self.n
            done = np.logical_or(terminated, truncated)
            if self.t.max() >= self._obs_buf.shape[1]:
                self._alloc(2 * self._obs_buf.shape[1])
            t = self.t
            self._obs_buf[rows, t] = self.obs
            self._act_buf[rows, t] = actions_np
            self._rew_buf[rows, t] = rewards
            self._rtg_buf[rows, t] = self.rtg
            self.rtg = next_return_to_go(self.rtg, rewards, self.gamma)
            for i in np.flatnonzero(done):
                if on_episode is not None:
                    on_episode(int(i), self._episode(int(i), int(t[i]) + 1, bool(terminated[i])))
                self.rtg[i] = self.command()
            if done.any():
                self.explorer.begin(np.flatnonzero(done), self.explore_chance())
            self.t = np.where(done, 0, t + 1)
            self.obs = obs.reshape(self.n, -1).astype(np.float32)
            if done.any():
                self.policy.reset(torch.as_tensor(done, device=self.device))
        if seen:  # one pass over all steps: per-step statistics cost a few tensor calls and a sync each
            entropy, max_prob = categorical_stats(torch.stack(seen))
            stats.entropy += float(entropy.mean(-1).sum())
            stats.max_prob += float(max_prob.mean(-1).sum())
        return stats

    def _action_shape(self) -> tuple[int, ...]:
        """The shape of one step's actions of all envs: (N,) discrete, (N, A) continuous."""
        return (self.n,) if self.discrete else (self.n, self.policy.act_dim)

    def _action_dtype(self) -> type:
        return np.int64 if self.discrete else np.float32

    def _keep_played(self, actions: np.ndarray) -> None:
        if self._n_played == len(self._played):  # full: double it, or give up past the limit
            if 2 * len(self._played) * self.n > REPLAY_LIMIT:
                self._played = None
                return
            self._played = np.concatenate([self._played, np.zeros_like(self._played)])
        self._played[self._n_played] = actions
        self._n_played += 1

    def state(self) -> dict[str, np.ndarray] | None:
        """Everything this rollout holds between two `collect` calls, as arrays to save: the episodes under
        way, and the seed and actions that bring the envs back to where they are (an env's own state cannot
        be saved without pickling it). None if more actions were played than are kept."""
        if self._played is None:
            return None
        m = int(self.t.max())
        return {
            "seed": np.array([self.seed], np.int64),
            "played": self._played[: self._n_played],
            "obs": self.obs,
            "rtg": self.rtg,
            "t": self.t,
            "errors_in_a_row": np.array([self.errors_in_a_row], np.int64),
            "obs_buf": self._obs_buf[:, :m],
            "act_buf": self._act_buf[:, :m],
            "rew_buf": self._rew_buf[:, :m],
            "rtg_buf": self._rtg_buf[:, :m],
            **self.explorer.state(),
        }

    def restore(self, state: dict[str, np.ndarray], command: Callable[[], float]) -> bool:
        """Go on from a `state`: reset the envs on its seed and replay its actions, then take its episodes
        under way and rebuild the policy's cache from them. Draws no command. False, with the envs to be
        started again, if the envs do not come back to the observations saved (an env that does not play
        the same from the same seed and actions, or that raises)."""
        self._check(state)
        seed = int(state["seed"][0])
        try:
            obs, _ = self.envs.reset(seed=[seed + i for i in range(self.n)])
            for actions in state["played"]:
                obs, *_ = self.envs.step(actions)
        except Exception:  # an env that raises on the way back: started again by the caller
            return False
        obs = obs.reshape(self.n, -1).astype(np.float32)
        if not np.array_equal(obs, state["obs"]):
            return False
        self.seed, self.command = seed, command
        self.obs, self.rtg, self.t = state["obs"].copy(), state["rtg"].copy(), state["t"].copy()
        self.errors_in_a_row = int(state["errors_in_a_row"][0])
        self.explorer.restore(state)
        m, capacity = state["obs_buf"].shape[1], 256
        while capacity <= m:
            capacity *= 2
        self._obs_buf = None
        self._alloc(capacity)
        for buf, saved in zip(
            (self._obs_buf, self._act_buf, self._rew_buf, self._rtg_buf),
            (state["obs_buf"], state["act_buf"], state["rew_buf"], state["rtg_buf"]),
            strict=True,
        ):
            buf[:, :m] = saved
        played = state["played"]
        self._played = np.concatenate([played, np.zeros((16, *self._action_shape()), played.dtype)])
        self._n_played = len(played)
        self.refresh()
        return True

    def _check(self, state: dict[str, np.ndarray]) -> None:
        """A state read from a file fits these envs and this policy, or a one-line error."""
        n, s = self.n, self.policy.obs_dim
        m = (
            state["obs_buf"].shape[1]
            if state.get("obs_buf") is not None and state["obs_buf"].ndim == 3
            else -1
        )
        act = self._action_shape()[1:]
        shapes = {
            "seed": ((1,), np.int64),
            "played": ((len(state.get("played", ())), n, *act), self._action_dtype()),
            "obs": ((n, s), np.float32),
            "rtg": ((n,), np.float64),
            "t": ((n,), np.int64),
            "errors_in_a_row": ((1,), np.int64),
            "obs_buf": ((n, m, s), np.float32),
            "act_buf": ((n, m, *act), self._action_dtype()),
            "rew_buf": ((n, m), np.float64),
            "rtg_buf": ((n, m), np.float64),
        }
        explored = any(state.get(k) is not None for k in EXPLORE_KEYS)  # written with exploration
        if explored:
            shapes.update(explore_shapes(n, self.policy.act_dim, not self.discrete))
        for name, (shape, dtype) in shapes.items():
            value = state.get(name)
            if not isinstance(value, np.ndarray) or value.shape != shape or value.dtype != dtype:
                raise LightupError(
                    f"the checkpoint's rollout.{name} does not fit {n} envs of this policy (an altered "
                    "file); use a checkpoint written by lightup"
                )
        t = state["t"]
        bad_option = explored and options_out_of_range(state, self.policy.act_dim, not self.discrete)
        if len(state["played"]) * n > REPLAY_LIMIT or t.min() < 0 or t.max() != m or bad_option:
            raise LightupError(
                "the checkpoint's rollout state is out of range (an altered file); use a checkpoint written "
                "by lightup"
            )

    def _episode(self, i: int, length: int, terminated: bool) -> Episode:
        """Env ``i``'s episode of ``length`` steps, copied out of the rows."""
        return Episode(
            self._obs_buf[i, :length].copy(),
            self._act_buf[i, :length].copy(),
            self._rew_buf[i, :length].astype(np.float32),
            terminated,
            gamma=self.gamma,
            commanded=float(self._rtg_buf[i, 0]),
            explored=bool(self.explorer.exploring[i]),
        )
