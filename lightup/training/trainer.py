"""The online trainer: roll out with a commanded return, store episodes, fit the policy to them, repeat.

One round: every env steps ``rollout_steps`` times (the last round fewer, to end at the budget; finished
episodes go to the replay buffer, their returns-to-go recomputed from the rewards received), then
``updates_per_round`` gradient steps on windows from the buffer, with an entropy term whose weight is
learned to hold the policy's entropy at a target (Online DT, Zheng et al. 2022). Greedy evaluations and
checkpoints fall on round boundaries.

Resuming is exact on CPU: at each checkpoint the envs are reset with seeds derived from the round, in the
uninterrupted run as in the resumed one, so episodes in flight never need to be saved.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import signal
import time
import traceback
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from torch import Tensor

from lightup.checkpoint import (
    atomic_write,
    flatten_optimizer,
    load_tensors,
    save_tensors,
    unflatten_optimizer,
    with_prefix,
)
from lightup.envs import adapters_of, check_env_module_trusted, make_env, parse_options, reward_threshold
from lightup.errors import LightupError
from lightup.models import (
    DecisionTransformer,
    DTConfig,
    MLPConfig,
    ReturnConditionedMLP,
    SequencePolicy,
    greedy_action,
)
from lightup.training.commands import CommandConfig, propose_target
from lightup.training.config import TrainConfig
from lightup.training.logger import RunLogger, read_metrics
from lightup.training.loss import action_log_prob, masked_mean
from lightup.training.recipe import random_return_scale, with_env_defaults
from lightup.training.replay import Episode, EpisodeBuffer
from lightup.training.returns import at_commands, next_return_to_go
from lightup.training.rollout import Rollout

CHECKPOINT = "checkpoint.safetensors"
RUN_FORMAT = "lightup-run/1"
EVAL_SEED = 1_000_000  # evaluation episodes use fixed seeds, never those of training


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise LightupError(
            "--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu"
        )
    return torch.device(
        "cuda" if name == "auto" and torch.cuda.is_available() else name if name != "auto" else "cpu"
    )


def build_policy(config: TrainConfig, obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    if config.policy == "mlp":
        return ReturnConditionedMLP(MLPConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=discrete))
    return DecisionTransformer(
        DTConfig(
            obs_dim=obs_dim,
            act_dim=act_dim,
            discrete=discrete,
            context_len=config.context_len,
            n_layer=config.n_layer,
            n_head=config.n_head,
            n_embd=config.n_embd,
            dropout=config.dropout,
            layout=config.layout,
            timestep_embedding=config.timestep_embedding,
            max_episode_len=1024,
        )
    )


def build_value_net(obs_dim: int, n_out: int = 1, hidden: int = 128) -> torch.nn.Module:
    """The values of a state for advantage weighting: an MLP from the observation to ``n_out`` numbers (the
    state's value, then Q(s, a) of each action when the baseline is the policy's)."""
    return torch.nn.Sequential(
        torch.nn.Linear(obs_dim, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(),
        torch.nn.Linear(hidden, n_out),
    )


def advantage_weights(advantages: Tensor, mask: Tensor, beta: float, max_weight: float = 20.0) -> Tensor:
    """AWR's weights exp(A / beta) (B, T), with A normalised to mean 0 and std 1 over the real steps and the
    weights capped at ``max_weight`` (Peng et al. 2019 cap at 20); 0 at padded steps."""
    n = mask.sum().clamp(min=1)
    mean = (advantages * mask).sum() / n
    std = (((advantages - mean) ** 2 * mask).sum() / n).sqrt()
    normalised = (advantages - mean) / (std + 1e-8)
    return torch.exp(normalised / beta).clamp(max=max_weight) * mask


def _appender(episodes: list[Episode]):
    return lambda i, ep: episodes.append(ep)


class _CheckedObservations(gym.ObservationWrapper):
    """Turns an observation that breaks the env's own observation space's shape into a one-line error."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._shape = env.observation_space.shape  # read once: the wrappers' property chain costs more

    def observation(self, obs):
        shape = self._shape
        if np.shape(obs) != shape:
            raise LightupError(
                f"env {self.spec.id if self.spec else '?'} returned an observation of shape {np.shape(obs)}, "
                f"not the {shape} of its observation_space; fix the env or its observation_space"
            )
        return obs


def make_vector_env(env_id: str, options: dict, n: int) -> gym.vector.VectorEnv:
    """``n`` copies of an env in lockstep, as every rollout here plays them: reset in the step that ends an
    episode, and each observation checked against its env's observation space."""
    return gym.vector.SyncVectorEnv(
        [lambda: _CheckedObservations(make_env(env_id, **options)) for _ in range(n)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


class Trainer:
    """``Trainer(config).learn()``: Stable-Baselines3's shape, for a return-conditioned sequence policy."""

    def __init__(self, config: TrainConfig):
        config.validate()
        self.options = parse_options(list(config.env_options))
        probe = make_env(config.env_id, adapters=config.obs_adapters, **self.options)
        if not isinstance(probe.action_space, gym.spaces.Discrete):
            raise LightupError(
                f"{config.env_id} has a {type(probe.action_space).__name__} action space; the trainer "
                "supports Discrete action spaces for now: pick a discrete env"
            )
        config = dataclasses.replace(config, obs_adapters=adapters_of(probe))
        self.threshold = reward_threshold(probe)
        max_return = getattr(probe.unwrapped, "max_return", None)
        config = with_env_defaults(config, max_return, lambda: random_return_scale(probe, config.seed))
        config.validate()  # the values the recipe filled in, against the ones given
        self.config = config
        obs_dim = int(np.prod(probe.observation_space.shape))
        self.n_actions = int(probe.action_space.n)
        probe.close()

        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.device = resolve_device(config.device)
        self.policy = build_policy(config, obs_dim, self.n_actions, True).to(self.device)
        self._parameters = list(self.policy.parameters())  # listed once: walking the modules costs per update
        # foreach: one kernel call per step for all tensors instead of a Python loop over them; the same
        # arithmetic (bit-identical weights), about 30% less time per step for CartPole's policy on a CPU.
        self.optimizer = torch.optim.AdamW(
            self._parameters, lr=config.lr, weight_decay=config.weight_decay, foreach=True
        )
        self.averaged: torch.optim.swa_utils.AveragedModel | None = None  # made at the first update (ema)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device, requires_grad=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=config.alpha_lr)
        # Advantage weighting: a value of the state, fit to discounted returns (made after the policy, so
        # runs without it draw the same initial weights).
        self.value_net: torch.nn.Module | None = None
        if config.advantage_beta > 0:
            n_out = 1 + self.n_actions if config.advantage_baseline == "policy" else 1
            self.value_net = build_value_net(obs_dim, n_out, config.value_hidden).to(self.device)
            self.value_optimizer = torch.optim.Adam(self.value_net.parameters(), lr=config.lr, foreach=True)
        value_gamma = config.advantage_gamma if self.value_net is not None else None
        self.buffer = EpisodeBuffer(
            config.buffer_capacity, config.buffer_kind, value_gamma, max_steps=config.buffer_steps
        )
        self.steps = self.rounds = self.updates = self.episodes = 0
        self.solved_at: int | None = None
        self.last_eval: float | None = None
        self.run_dir: Path | None = None
        self._stop_requested = False
        self._alarms: set[str] = set()

    # --- commands ---

    def _capped(self, target: float) -> float:
        return min(target, self.config.max_return) if self.config.max_return is not None else target

    def rollout_target(self) -> float:
        return float(self.rollout_targets(1)[0])

    def rollout_targets(self, n: int) -> np.ndarray:
        """``n`` draws of the rollout command (float64 (n,)), from the episodes stored now."""
        returns = self.buffer.start_returns()
        return np.array(
            [self._capped(propose_target(self.config.command, returns, self.rng)) for _ in range(n)]
        )

    def eval_target(self) -> float:
        """The command of greedy evaluation (see ``TrainConfig.eval_command``)."""
        kind, returns = self.config.eval_command, self.buffer.start_returns()
        if kind == "max" and self.config.max_return is not None:
            return self.config.max_return
        if kind == "best" and len(returns):
            return self._capped(float(returns.max()))
        # rollout (or nothing stored yet): the rollout command without its random part
        command = dataclasses.replace(self.config.command, jitter=0.0)
        return self._capped(propose_target(command, returns, np.random.default_rng(0)))

    # --- the loop ---

    def _make_envs(self, n: int) -> gym.vector.VectorEnv:
        return make_vector_env(self.config.env_id, self.options, n)

    def _open_run(self) -> None:
        if self.run_dir is None:
            c = self.config
            name = (
                f"{c.env_id.replace('/', '_').replace(':', '_')}__{c.exp_name}__{c.seed}__{int(time.time())}"
            )
            run_dir = Path(c.run_dir) if c.run_dir else Path(c.run_root) / name
            if (run_dir / CHECKPOINT).exists() or (run_dir / "metrics.jsonl").exists():
                raise LightupError(
                    f"{str(run_dir)!r} already holds a run; continue it with --resume {run_dir} "
                    "or pick another --run-dir"
                )
            run_dir.mkdir(parents=True, exist_ok=True)
            self.run_dir = run_dir
            text = json.dumps(dataclasses.asdict(self.config), indent=2)
            atomic_write(self.run_dir / "config.json", lambda tmp: Path(tmp).write_text(text))

    @property
    def eval_envs(self) -> gym.vector.VectorEnv:
        """One env per evaluation episode, made on first use and kept (``close()`` frees them)."""
        if getattr(self, "_eval_envs", None) is None:
            self._eval_envs = self._make_envs(self.config.eval_episodes)
        return self._eval_envs

    def close(self) -> None:
        if getattr(self, "_eval_envs", None) is not None:
            self._eval_envs.close()
            self._eval_envs = None

    def _round_seed(self) -> int:
        return self.config.seed * 100_003 + self.rounds * 1_009

    def learn(self, total_steps: int | None = None) -> Trainer:
        c = self.config
        total = total_steps if total_steps is not None else c.total_steps
        self._open_run()
        self.logger = RunLogger(self.run_dir, tensorboard=c.tensorboard)
        envs = self._make_envs(c.n_envs)
        rollout = Rollout(envs, self.policy, c.env_id, c.return_scale, c.gamma, self.device)
        rollout.on_env_error = self._env_error
        rollout.start(self._round_seed(), self.rollout_target)
        old_handlers = {s: signal.signal(s, self._request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
        next_eval = (self.steps // c.eval_every + 1) * c.eval_every
        next_ckpt = (self.steps // c.checkpoint_every + 1) * c.checkpoint_every
        progress = None if c.quiet else _Progress(total, self.steps)
        saved_at = -1
        try:
            while self.steps < total and not self._stop_requested:
                t0 = time.perf_counter()
                finished: list[Episode] = []
                self.policy.eval()
                # the last round is cut to the steps left: a run ends at its budget (less than n_envs past it)
                n_steps = min(c.rollout_steps, -(-(total - self.steps) // c.n_envs))
                stats = rollout.collect(
                    n_steps, c.temperature, on_episode=_appender(finished), n_greedy=c.greedy_envs
                )
                t_rollout = time.perf_counter() - t0
                for ep in finished:
                    self.buffer.add(ep)
                self.steps += stats.steps
                self.episodes += len(finished)
                train_metrics = self._update() if len(self.buffer) else {}
                self.rounds += 1
                t_round = time.perf_counter() - t0
                metrics = {
                    "time/fps": stats.steps / max(t_round, 1e-9),
                    "time/rollout_s": t_rollout,
                    "time/update_s": t_round - t_rollout,
                    **train_metrics,
                }
                if finished:
                    metrics["rollout/ep_rew_mean"] = float(np.mean([e.ret for e in finished]))
                    metrics["rollout/ep_len_mean"] = float(np.mean([e.length for e in finished]))
                    metrics["rollout/commanded_return"] = float(np.mean([e.commanded for e in finished]))
                if stats.steps:
                    metrics["rollout/entropy"] = stats.entropy * c.n_envs / stats.steps
                    metrics["rollout/max_prob"] = stats.max_prob * c.n_envs / stats.steps
                metrics["rollout/buffer_best_return"] = (
                    float(self.buffer.returns().max()) if len(self.buffer) else 0.0
                )
                if self.steps >= next_eval or self.steps >= total:
                    metrics.update(self.evaluate())
                    next_eval = (self.steps // c.eval_every + 1) * c.eval_every
                self.logger.log(self.steps, metrics)
                if "eval/mean_reward" in metrics:
                    self._raise_alarms(progress is not None)
                if progress:
                    progress.update(self.steps, metrics, self.last_eval)
                if c.stop_at_threshold and self.solved_at is not None:
                    break
                if self.steps >= next_ckpt:
                    self.save_checkpoint()
                    saved_at = self.steps
                    next_ckpt = (self.steps // c.checkpoint_every + 1) * c.checkpoint_every
                    if self.steps < total:  # a resumed run starts from here: draw no random numbers before
                        rollout.start(self._round_seed(), self.rollout_target)
                else:
                    rollout.refresh()
            if saved_at != self.steps:
                self.save_checkpoint()
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            if progress:
                progress.close()
            self.logger.close()
            envs.close()
        return self

    def _env_error(self, err: Exception, in_a_row: int) -> None:
        """An env raised during a rollout: log the traceback in the run folder; stop if it keeps failing."""
        log = self.run_dir / "env_errors.log"
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"--- env step {self.steps}, failure {in_a_row} in a row\n")
            f.write("".join(traceback.format_exception(err)))
        if in_a_row >= self.config.max_env_errors:
            self.save_checkpoint()
            raise LightupError(
                f"env {self.config.env_id} raised {in_a_row} times in a row (last: {type(err).__name__}: "
                f"{str(err).splitlines()[0] if str(err) else ''}); tracebacks in {log}, checkpoint saved"
            )

    def _raise_alarms(self, show: bool) -> None:
        """At each evaluation, the doctor's training alarms over the metrics so far (read back from the run's
        metrics file, so nothing grows in memory): each new one is logged as ``alarm/NAME`` and shown."""
        from lightup.doctor.alarms import Context, check_records

        n = self.n_actions
        ctx = Context(max_entropy=math.log(n) if n > 1 else None, threshold=self.threshold)
        alarms, _ = check_records(read_metrics(self.run_dir), ctx)
        for alarm in alarms:
            if alarm.name in self._alarms:
                continue
            self._alarms.add(alarm.name)
            self.logger.log(self.steps, {f"alarm/{alarm.name}": 1.0})
            if show:
                print(f"alarm at step {self.steps}: {alarm.message}. {alarm.meaning}. Look at: {alarm.where}")

    def _request_stop(self, signum, frame) -> None:
        self._stop_requested = True

    def _update(self) -> dict[str, float]:
        c = self.config
        self.policy.train()
        lr = self.learning_rate()
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        totals = {"train/loss": 0.0, "train/nll": 0.0, "train/entropy": 0.0}
        if self.value_net is not None:
            totals["train/value_loss"] = 0.0
            if c.advantage_baseline == "policy":
                totals["train/q_loss"] = 0.0
            if c.advantage_lambda < 1 and c.updates_per_round:
                self.buffer.bootstrap_value_targets(self._values, c.advantage_lambda)
        target_entropy = self.target_entropy
        for _ in range(c.updates_per_round):
            batch = {
                k: v.to(self.device)
                for k, v in self.buffer.sample(
                    c.batch_size,
                    self.policy.context_len,
                    self.rng,
                    c.return_scale,
                    self.n_actions,
                    start_returns=c.entropy_at == "commands",
                ).items()
            }
            actions, mask = batch.pop("actions"), batch["mask"]
            value_targets = batch.pop("value_targets", None)
            start_returns = batch.pop("start_returns", None)
            params = self.policy(**batch)
            if not torch.isfinite(params).all():
                self._non_finite("policy output", "nan")
            log_prob, dist = action_log_prob(params, actions, mask, discrete=True)
            n_real = mask.sum().clamp(min=1)
            nll = -log_prob.sum() / n_real
            if start_returns is not None:
                # entropy_at commands: the policy on the same windows, as a rollout would play them
                dist = self.policy.distribution(self.policy(**self._at_commands(batch, start_returns)))
            entropy = (dist.entropy() * mask).sum() / n_real
            alpha = self.log_alpha.exp().detach() if c.entropy_target > 0 else 0.0
            if self.value_net is None:
                loss = nll - alpha * entropy
            else:
                out = self.value_net(batch["states"])
                values = out[..., 0]
                value_loss = masked_mean((values - value_targets) ** 2, mask)
                totals["train/value_loss"] += value_loss.item()
                if c.advantage_baseline == "policy":
                    q = out[..., 1:]
                    q_taken = q.gather(-1, actions.masked_fill(~mask, 0).unsqueeze(-1)).squeeze(-1)
                    q_loss = masked_mean((q_taken - value_targets) ** 2, mask)
                    totals["train/q_loss"] += q_loss.item()
                    value_loss = value_loss + q_loss
                    q = q.detach()
                    advantages = q_taken.detach() - (params.detach().softmax(-1) * q).sum(-1)
                else:
                    advantages = value_targets - values.detach()
                weights = advantage_weights(advantages, mask, c.advantage_beta)
                loss = -(weights * log_prob).sum() / n_real - alpha * entropy + value_loss
            if not torch.isfinite(loss):
                self._non_finite("loss", loss.item())
            self.optimizer.zero_grad(set_to_none=True)
            if self.value_net is not None:
                self.value_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(self._parameters, c.grad_clip, foreach=True)
            self.optimizer.step()
            if self.value_net is not None:
                self.value_optimizer.step()
            if c.ema > 0:
                self._average()
            if c.entropy_target > 0:
                # The temperature's loss is alpha * (entropy - target); its gradient in log alpha is the same
                # product, set here directly rather than through autograd for one scalar.
                with torch.no_grad():
                    self.log_alpha.grad = self.log_alpha.exp() * (entropy.detach() - target_entropy)
                self.alpha_optimizer.step()
            self.updates += 1
            totals["train/loss"] += loss.item()
            totals["train/nll"] += nll.item()
            totals["train/entropy"] += entropy.item()
        n = max(c.updates_per_round, 1)
        out = {k: v / n for k, v in totals.items()}
        out["train/alpha"] = float(self.log_alpha.detach().exp())
        out["train/target_entropy"] = target_entropy
        out["train/learning_rate"] = lr
        if c.updates_per_round:
            out["train/grad_norm"] = float(grad_norm)
        return out

    @torch.no_grad()
    def _values(self, observations: np.ndarray) -> np.ndarray:
        """The value net's values of ``observations`` (N, S), in return units (it learns scaled ones)."""
        values = self.value_net(torch.from_numpy(observations).to(self.device))[:, 0]
        return values.double().cpu().numpy() * self.config.return_scale

    def _at_commands(self, batch: dict[str, torch.Tensor], start_returns: torch.Tensor) -> dict:
        """``batch`` with the returns-to-go of each window's episode replayed from a fresh rollout command
        (`lightup.training.returns.at_commands`; padding stays 0)."""
        scale, mask = self.config.return_scale, batch["mask"]
        commands = self.rollout_targets(len(start_returns))
        commands = torch.as_tensor(commands, dtype=torch.float32, device=start_returns.device)
        rtg = at_commands(
            batch["returns_to_go"],
            batch["timesteps"],
            start_returns / scale,
            commands / scale,
            self.config.gamma,
        )
        return dict(batch, returns_to_go=torch.where(mask, rtg, 0.0))

    def _average(self) -> None:
        """Move the averaged weights toward the trained ones (the first call copies them)."""
        if self.averaged is None:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.averaged = AveragedModel(self.policy, multi_avg_fn=get_ema_multi_avg_fn(self.config.ema))
        self.averaged.update_parameters(self.policy)

    @property
    def eval_policy(self) -> SequencePolicy:
        """The policy that greedy evaluation, `predict` and the viz tools play: with ``ema``, the averaged
        weights; else (or before the first update) the trained ones."""
        return self.policy if self.averaged is None else self.averaged.module

    def learning_rate(self) -> float:
        """The learning rate of the next updates: ``lr``, or on the linear schedule ``lr`` falling to
        ``lr_final_frac * lr`` at ``total_steps`` (from the env steps taken so far)."""
        c = self.config
        if c.lr_schedule == "constant":
            return c.lr
        return c.lr * (1.0 - (1.0 - c.lr_final_frac) * self._progress())

    def _progress(self) -> float:
        """The share of ``total_steps`` taken so far, at most 1: where the linear schedules stand."""
        return min(self.steps / self.config.total_steps, 1.0)

    @property
    def target_entropy(self) -> float:
        """The entropy (nats) the learned temperature holds the policy at for the next updates:
        ``entropy_target`` of the maximum, or on its way to ``entropy_target_final`` at ``total_steps``."""
        c = self.config
        share = c.entropy_target
        if c.entropy_target_final is not None:
            share += (c.entropy_target_final - share) * self._progress()
        return share * math.log(self.n_actions)

    def _non_finite(self, what: str, value) -> None:
        raise LightupError(
            f"the {what} became {value} at env step {self.steps} (update {self.updates}); the last good "
            f"checkpoint stays in {self.run_dir}: lower --lr or check the env's observations and rewards"
        )

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
        """Play one episode in each of ``envs`` at a commanded return (``policy``: default `eval_policy`);
        returns their returns."""
        c = self.config
        policy = (self.eval_policy if policy is None else policy).eval()
        rollout = Rollout(envs, policy, c.env_id, c.return_scale, c.gamma, self.device)
        rollout.start(EVAL_SEED, lambda: target)
        returns: dict[int, float] = {}

        def keep_first(i: int, ep: Episode) -> None:
            returns.setdefault(i, ep.ret)

        while len(returns) < envs.num_envs:
            rollout.collect(1, greedy=greedy, on_episode=keep_first)
        return [returns[i] for i in range(envs.num_envs)]

    def evaluate_commands(self, targets: list[float]) -> list[dict[str, float]]:
        """Greedy evaluation at each commanded return: does asking for more give more?"""
        rows = []
        for target in targets:
            returns = self.run_episodes(self.eval_envs, target, greedy=True)
            rows.append({"command": target, "mean": float(np.mean(returns)), "std": float(np.std(returns))})
        return rows

    @torch.inference_mode()
    def predict(
        self,
        observations: np.ndarray,
        last_rewards: np.ndarray | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        target_return: float | None = None,
    ) -> np.ndarray:
        """Actions (N,) for N envs stepped in lockstep, like Stable-Baselines3's recurrent ``predict``.

        Call it once per env step with the observations (N, S), the rewards the previous actions earned, and
        ``episode_start`` True where an episode begins (all True on the first call). Each env's command starts
        at ``target_return`` (default: the evaluation command) and is decremented by its rewards (divided by
        gamma below 1, as in rollouts).

        It plays its own copy of `eval_policy`, so training or evaluating between two calls never disturbs the
        episodes under way; the copy is taken again, after the trainer's updates, when every env starts an
        episode (or N changes).
        """
        obs = np.asarray(observations, dtype=np.float32).reshape(len(observations), -1)
        n = len(obs)
        start = np.ones(n, bool) if episode_start is None else np.asarray(episode_start, bool)
        if getattr(self, "_predict_n", None) != n or start.all():
            if getattr(self, "_predict_updates", None) != self.updates:
                self._predict_policy = copy.deepcopy(self.eval_policy).eval()
                self._predict_updates = self.updates
            self._predict_policy.begin(n)
            self._predict_n, start = n, np.ones(n, bool)
            self._predict_rtg, self._predict_t = np.zeros(n), np.zeros(n, np.int64)
            self._predict_prev = np.full(n, self.n_actions)
        target = self.eval_target() if target_return is None else target_return
        rewards = np.zeros(n) if last_rewards is None else np.asarray(last_rewards, np.float64)
        rtg = next_return_to_go(self._predict_rtg, rewards, self.config.gamma)
        self._predict_rtg = np.where(start, target, rtg)
        self._predict_t = np.where(start, 0, self._predict_t + 1)
        self._predict_prev = np.where(start, self.n_actions, self._predict_prev)
        policy = self._predict_policy
        policy.reset(torch.as_tensor(start, device=self.device))
        params = policy.push(
            torch.as_tensor(
                self._predict_rtg / self.config.return_scale, dtype=torch.float32, device=self.device
            ),
            torch.as_tensor(obs, device=self.device),
            torch.as_tensor(self._predict_prev, device=self.device),
            torch.as_tensor(self._predict_t, device=self.device),
        )
        actions = greedy_action(params, True) if deterministic else policy.distribution(params).sample()
        self._predict_prev = actions.cpu().numpy()
        return self._predict_prev.copy()

    # --- checkpoints ---

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        self._open_run()
        path = Path(path) if path else self.run_dir / CHECKPOINT
        tensors = {f"model.{k}": v for k, v in self.policy.state_dict().items()}
        opt_tensors, opt_rest = flatten_optimizer(self.optimizer.state_dict())
        alpha_tensors, alpha_rest = flatten_optimizer(self.alpha_optimizer.state_dict())
        tensors.update(opt_tensors)
        tensors.update({f"alpha.{k}": v for k, v in alpha_tensors.items()})
        if self.averaged is not None:
            tensors.update({f"averaged.{k}": v for k, v in self.averaged.state_dict().items()})
        if self.value_net is not None:
            tensors.update({f"value.{k}": v for k, v in self.value_net.state_dict().items()})
            value_tensors, value_rest = flatten_optimizer(self.value_optimizer.state_dict())
            tensors.update({f"value_opt.{k}": v for k, v in value_tensors.items()})
        tensors["log_alpha"] = self.log_alpha.detach()
        tensors["rng.torch"] = torch.get_rng_state()
        tensors.update(_buffer_tensors(self.buffer))
        meta = {
            "format": RUN_FORMAT,
            "config": dataclasses.asdict(self.config),
            "counters": {
                "steps": self.steps,
                "rounds": self.rounds,
                "updates": self.updates,
                "episodes": self.episodes,
                "solved_at": self.solved_at,
            },
            "buffer_commanded": [e.commanded for e in self.buffer.episodes],
            "optimizer": opt_rest,
            "alpha_optimizer": alpha_rest,
            "value_optimizer": value_rest if self.value_net is not None else None,
            "rng_numpy": self.rng.bit_generator.state,
        }
        save_tensors(path, tensors, meta)
        return path

    @classmethod
    def load(cls, run_dir: str | Path) -> Trainer:
        """Rebuild a trainer from a run folder's checkpoint: weights, optimizer, replay, random states."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise LightupError(
                f"run folder {str(run_dir)!r} not found; pass a folder made by `lightup train`"
            )
        path = run_dir / CHECKPOINT
        tensors, meta = load_tensors(path)
        if meta.get("format") != RUN_FORMAT:
            raise LightupError(f"{str(path)!r} is not a lightup training checkpoint")
        # The metadata is JSON from a file, so it may be anything: whatever does not fit what `save` writes
        # is a one-line error (it is only ever read as data: no name in it is imported or called).
        try:
            config = _config_from_dict(meta["config"])
            config.validate()
            config = dataclasses.replace(config, run_dir=str(run_dir))
            check_env_module_trusted(config.env_id)
            trainer = cls(config)
            trainer.run_dir = run_dir
            trainer._restore(tensors, meta)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError) as err:
            reason = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise LightupError(
                f"{str(path)!r} holds a training state this version cannot read ({type(err).__name__}: "
                f"{reason}); use a checkpoint written by lightup"
            ) from None
        return trainer

    def _restore(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        """Load a checkpoint's weights, optimizers, replay and random states into this fresh trainer."""
        state = with_prefix(tensors, "model.")
        try:
            self.policy.load_state_dict(state)
        except RuntimeError as err:
            raise LightupError(f"checkpoint does not fit its config ({str(err).splitlines()[0]})") from None
        averaged = with_prefix(tensors, "averaged.")
        if self.config.ema > 0 and meta["counters"]["updates"] > 0:
            self._average()  # made as at the first update, then overwritten
            self.averaged.load_state_dict(averaged)
        elif averaged:
            raise LightupError(
                "checkpoint holds averaged weights but its config has ema 0 (an altered file); use a "
                "checkpoint written by lightup"
            )
        self.optimizer.load_state_dict(unflatten_optimizer(tensors, meta["optimizer"]))
        alpha = with_prefix(tensors, "alpha.")
        self.alpha_optimizer.load_state_dict(unflatten_optimizer(alpha, meta["alpha_optimizer"]))
        value = with_prefix(tensors, "value.")
        if self.value_net is not None:
            self.value_net.load_state_dict(value)
            value_opt = with_prefix(tensors, "value_opt.")
            self.value_optimizer.load_state_dict(unflatten_optimizer(value_opt, meta["value_optimizer"]))
        elif value:
            raise LightupError(
                "checkpoint holds a value network but its config has advantage_beta 0 (an altered file); use "
                "a checkpoint written by lightup"
            )
        with torch.no_grad():
            self.log_alpha.copy_(tensors["log_alpha"])
        torch.set_rng_state(tensors["rng.torch"])
        self.rng.bit_generator.state = meta["rng_numpy"]
        for ep in _buffer_episodes(tensors, meta["buffer_commanded"], self.config.gamma):
            self.buffer.add(ep)
        counters = meta["counters"]
        self.steps, self.rounds = counters["steps"], counters["rounds"]
        self.updates, self.episodes = counters["updates"], counters["episodes"]
        self.solved_at = counters["solved_at"]


def _config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    # Written before the policy baseline existed: such runs used the value baseline, whatever the family.
    d.setdefault("advantage_baseline", "value")
    # Written before the value network's width was a field: it was 128 everywhere.
    d.setdefault("value_hidden", 128)
    d["command"] = CommandConfig(**d["command"])
    d["env_options"] = tuple(d["env_options"])
    # Written before observations were adapted: such runs took Box observations only, which need none.
    adapters = d.get("obs_adapters", ())
    d["obs_adapters"] = None if adapters is None else tuple(adapters)
    return TrainConfig(**d)


def _buffer_tensors(buffer: EpisodeBuffer) -> dict[str, torch.Tensor]:
    if not buffer.episodes:
        return {}
    eps = buffer.episodes
    return {
        "buffer.observations": torch.from_numpy(np.concatenate([e.observations for e in eps])),
        "buffer.actions": torch.from_numpy(np.concatenate([e.actions for e in eps])),
        "buffer.rewards": torch.from_numpy(np.concatenate([e.rewards for e in eps])),
        "buffer.lengths": torch.tensor([e.length for e in eps]),
        "buffer.terminated": torch.tensor([e.terminated for e in eps]),
    }


def _buffer_episodes(tensors: dict, commanded: list[float], gamma: float) -> list[Episode]:
    if "buffer.lengths" not in tensors:
        return []
    ends = np.cumsum(tensors["buffer.lengths"].numpy())
    out = []
    for i, end in enumerate(ends):
        start = end - int(tensors["buffer.lengths"][i])
        out.append(
            Episode(
                tensors["buffer.observations"][start:end].numpy(),
                tensors["buffer.actions"][start:end].numpy(),
                tensors["buffer.rewards"][start:end].numpy(),
                bool(tensors["buffer.terminated"][i]),
                gamma=gamma,
                commanded=commanded[i],
            )
        )
    return out


class _Progress:
    """A rich progress bar with the key figures."""

    def __init__(self, total: int, done: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[figures]}"),
        )
        self._task = self._progress.add_task("train", total=total, completed=done, figures="")
        self._return: float | None = None
        self._progress.start()

    def update(self, steps: int, metrics: dict, last_eval: float | None) -> None:
        # A round in which no episode ended (long episodes, few envs) keeps the last mean return shown.
        self._return = metrics.get("rollout/ep_rew_mean", self._return)
        figures = "return -" if self._return is None else f"return {self._return:.1f}"
        if last_eval is not None:
            figures += f"  eval {last_eval:.1f}"
        self._progress.update(self._task, completed=steps, figures=figures)

    def close(self) -> None:
        self._progress.stop()
