"""The online trainer: roll out with a commanded return, store episodes, fit the policy to them, repeat.

One round: every env steps ``rollout_steps`` times (the last round fewer, to end at the budget; finished
episodes go to the replay buffer, their returns-to-go recomputed from the rewards received), then
``updates_per_round`` gradient steps on windows from the buffer, with an entropy term whose weight is
learned to hold the policy's entropy at a target (Online DT, Zheng et al. 2022). Greedy evaluations and
checkpoints fall on round boundaries.

Resuming is exact on CPU: at each checkpoint the envs are reset with seeds derived from the round, in the
uninterrupted run as in the resumed one, so episodes in flight never need to be saved. A run stopped by a
signal between two checkpoints saves them (`Rollout.state`) with the actions that bring its envs back; other
stops resume from the last checkpoint (`lightup.training.recovery`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import signal
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from lightup.envs import adapters_of, parse_options, reward_threshold
from lightup.envs.adapters import finite_observations
from lightup.errors import LightupError, error_line
from lightup.models import SequencePolicy
from lightup.models.factory import PolicyFactory, is_factory_spec, resolve_policy, spec_of
from lightup.training import recovery
from lightup.training.advantage import ValuePair, build_value_net, history_inputs
from lightup.training.agent import AGENT_FILE, EVAL_SEED
from lightup.training.asks import Asks
from lightup.training.callbacks import Callback, default_callbacks
from lightup.training.checkpoints import Checkpoints
from lightup.training.config import TrainConfig
from lightup.training.envs import EnvFactory, EnvSource, check_spaces, env_name
from lightup.training.evaluation import Evaluation
from lightup.training.logger import EpisodeWindow, RunLogger
from lightup.training.overlap import RolloutAhead
from lightup.training.recipe import held_actions_lead, random_return_scale, random_returns, with_env_defaults
from lightup.training.replay import Episode, EpisodeBuffer, step_cap
from lightup.training.rollout import Rollout
from lightup.training.state import CHECKPOINT
from lightup.training.update import UpdateStep

__all__ = ["AGENT_FILE", "CHECKPOINT", "EVAL_SEED", "Trainer", "resolve_device"]


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise LightupError(
            "--device cuda was asked for but no CUDA GPU is available; use --device auto or cpu"
        )
    return torch.device(
        "cuda" if name == "auto" and torch.cuda.is_available() else name if name != "auto" else "cpu"
    )


class Trainer(UpdateStep, Evaluation, Asks, Checkpoints):
    """``Trainer(config).learn()``: Stable-Baselines3's shape, for a return-conditioned sequence policy.

    ``env``: an env id (default ``config.env_id``), a callable returning a ``gym.Env``, or a Gymnasium
    ``VectorEnv`` (see `lightup.training.envs.EnvSource`; ``eval_env`` makes the evaluation envs of one
    that has no ``env_fns``). ``policy``: a `SequencePolicy`, a factory ``(obs_dim, act_dim, discrete) ->
    SequencePolicy``, or None for ``config.policy`` (``dt``, ``mlp`` or a factory's ``module:attr``). The
    optimiser and the gradient clipping act on that policy's parameters.
    """

    def __init__(
        self,
        config: TrainConfig,
        env: str | EnvFactory | gym.vector.VectorEnv | None = None,
        policy: SequencePolicy | PolicyFactory | None = None,
        eval_env: EnvFactory | None = None,
    ):
        config.validate()
        self.options = parse_options(list(config.env_options))
        self.env_source = EnvSource(
            env, config.env_id, self.options, eval_env, config.obs_adapters, config.max_episode_steps
        )
        probe = self.env_source.probe()
        if self.env_source.given or isinstance(env, str):
            config = dataclasses.replace(config, env_id=env if isinstance(env, str) else env_name(probe))
        config = self.env_source.fit_n_envs(config)
        self.n_actions, self.discrete = check_spaces(probe, config.env_id)
        config = dataclasses.replace(config, obs_adapters=adapters_of(probe))
        self.threshold = reward_threshold(probe)
        max_return = getattr(probe.unwrapped, "max_return", None)
        obs_dim = int(np.prod(probe.observation_space.shape))
        # What one step back adds to the value's row: its observation, its action (one-hot when discrete)
        # and a flag (lightup.training.advantage.history_inputs).
        step_width = obs_dim + self.n_actions + 1
        uniform = functools.cache(lambda: random_returns(probe, config.seed))  # played once, if asked for
        config = with_env_defaults(
            config,
            max_return,
            lambda: random_return_scale(probe, config.seed, uniform()),
            not self.discrete,
            step_width=step_width,
            held_lead=lambda scale: held_actions_lead(probe, config.seed, scale, uniform()),
            finite_observations=finite_observations(probe),
        )
        config.validate()  # the values the recipe filled in, against the ones given
        self.config = config
        probe.close()
        if not self.discrete and config.advantage_baseline == "policy":
            raise LightupError(f"{config.env_id} has continuous actions: use --advantage-baseline value")

        torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.device = resolve_device(config.device)
        dt = dict(
            context_len=config.context_len,
            n_layer=config.n_layer,
            n_head=config.n_head,
            n_embd=config.n_embd,
            dropout=config.dropout,
            layout=config.layout,
            timestep_embedding=config.timestep_embedding,
            max_episode_len=1024,
        )
        built = resolve_policy(
            policy, config.policy, obs_dim, self.n_actions, config.env_id, discrete=self.discrete, **dt
        )
        self.policy = built.to(self.device)
        if policy is not None and not is_factory_spec(config.policy):
            # the config names the model trained, so that a resume asks for it again (see `load`)
            self.config = dataclasses.replace(config, policy=spec_of(policy))
        self._parameters = list(self.policy.parameters())  # listed once: walking the modules costs per update
        # The recipe's kernel: fused (one kernel a step for all tensors) or foreach (one call a step per
        # operation); the same algorithm, rounded differently (benchmarks/results/wall_time.md). A user's
        # model with parameters the fused kernel refuses (complex ones) steps with foreach.
        kernel = {config.optimizer_kernel: True}
        real = all(p.is_floating_point() for p in self._parameters)
        self.optimizer = torch.optim.AdamW(
            self._parameters, lr=config.lr, weight_decay=config.weight_decay, **(kernel if real else {})
        )
        self.averaged: torch.optim.swa_utils.AveragedModel | None = None  # made at the first update (ema)
        self.log_alpha = torch.tensor(math.log(config.init_alpha), device=self.device, requires_grad=True)
        self.alpha_optimizer = torch.optim.Adam([self.log_alpha], lr=config.alpha_lr)
        # Advantage weighting: a value of the state, fit to discounted returns (made after the policy, so
        # runs without it draw the same initial weights).
        self.value_net: torch.nn.Module | None = None
        if config.advantage_beta > 0:
            n_out = 1 + self.n_actions if config.advantage_baseline == "policy" else 1
            n_in = obs_dim + config.value_history * step_width  # the observation, then the steps before it
            if config.value_select:
                pair = ValuePair(n_in, obs_dim, n_out, config.value_hidden, best=bool(config.value_best))
                self.value_net = pair.to(self.device)
            else:
                self.value_net = build_value_net(n_in, n_out, config.value_hidden).to(self.device)
            self.value_optimizer = torch.optim.Adam(self.value_net.parameters(), lr=config.lr, **kernel)
        value_gamma = config.advantage_gamma if self.value_net is not None else None
        one_hot = self.n_actions if self.discrete else None
        self.buffer = EpisodeBuffer(
            config.buffer_capacity,
            config.buffer_kind,
            value_gamma,
            max_steps=step_cap(config.buffer_steps, obs_dim),
            value_inputs=partial(history_inputs, history=config.value_history, n_actions=one_hot),
        )
        self.steps = self.rounds = self.updates = self.episodes = 0
        self.solved_at: int | None = None
        self.last_eval: float | None = None
        self.run_dir: Path | None = None
        self.saved_at: int | None = None
        """The env step of the checkpoint in the run folder: the last one saved, or the one loaded; where a
        resumed run goes on from."""
        self.stop_training = False
        """Set by a callback to stop training after the round."""
        self._stop_requested, self._stop_signal = False, None
        self.interrupted_by: int | None = None
        """The signal (SIGINT, SIGTERM) that stopped the last `learn` before its budget, if one did."""
        self.episode_window = EpisodeWindow()
        """The last 100 finished rollout episodes, whose means are logged as ``rollout/ep_*`` (as SB3)."""
        self.logged_alarms: set[str] = set()
        """The alarms the run folder's metrics already hold (a resumed run's), so none is logged twice."""
        self._rollout_state: dict[str, np.ndarray] | None = None  # a stopped run's, from its checkpoint

    # --- the loop ---

    @property
    def eval_envs(self) -> gym.vector.VectorEnv:
        """One env per evaluation episode, made on first use and kept (``close()`` frees them)."""
        if getattr(self, "_eval_envs", None) is None:
            self._eval_envs = self.env_source.eval_envs(self.config.eval_episodes)
        return self._eval_envs

    def close(self) -> None:
        if getattr(self, "_eval_envs", None) is not None:
            self._eval_envs.close()
            self._eval_envs = None

    def _round_seed(self) -> int:
        return self.config.seed * 100_003 + self.rounds * 1_009

    def learn(self, total_steps: int | None = None, callbacks: Sequence[Callback] | None = None) -> Trainer:
        """Train until ``total_steps`` env steps (default ``config.total_steps``) or until a callback stops
        it. ``callbacks`` (see `lightup.training.callbacks`): default `default_callbacks` of the config
        (progress bar, stop at the threshold, checkpoints); a list given replaces them. The run folder is
        locked meanwhile (`hold_run`): a second process is refused."""
        with self.holding_run():
            return self._learn(total_steps, callbacks)

    def _learn(self, total_steps: int | None, callbacks: Sequence[Callback] | None) -> Trainer:
        c = self.config
        total = total_steps if total_steps is not None else c.total_steps
        callbacks = default_callbacks(c) if callbacks is None else list(callbacks)
        # Starting again in a folder: no leftovers of a stop, no metrics past the step resumed from.
        resuming = (self.run_dir / "metrics.jsonl").exists()
        logged = recovery.prepare_folder(self.run_dir, self.steps, (CHECKPOINT, "config.json"))
        self.logged_alarms |= logged.alarms
        self.last_eval = self.last_eval if self.last_eval is not None else logged.last_eval
        purge = self.steps + 1 if resuming else None
        try:
            self.logger = RunLogger(
                self.run_dir,
                c.tensorboard,
                purge,
                dataclasses.asdict(c),
                track=c.track,
                project=c.wandb_project,
            )
        except LightupError:  # a new run that cannot log (W&B refused) leaves no folder behind
            self.undo_open()
            raise
        self.started()
        envs = self.env_source.rollout_envs(c.n_envs)
        # overlap: the rollout plays a copy of the policy in a worker thread during the updates
        played = RolloutAhead.policy_copy(self.policy) if c.overlap else self.policy
        rollout = Rollout(envs, played, c.env_id, c.return_scale, c.gamma, self.device)
        rollout.on_env_error = self._env_error
        rollout.explore_chance = self._explore_chance
        ahead = RolloutAhead(rollout) if c.overlap else None
        command = self._rollout_command()
        self._start_rollout(rollout, command)
        self._stop_requested, self._stop_signal, self.interrupted_by = False, None, None
        old_handlers = self._old_handlers = {}  # filled one by one: a signal may come in between
        for s in (signal.SIGINT, signal.SIGTERM):
            old_handlers[s] = signal.signal(s, self._request_stop)
        next_eval = (self.steps // c.eval_every + 1) * c.eval_every
        self.stop_training = False
        # time/fps as SB3's: env steps over wall time since this learn() began (a resumed run: its own)
        start_time, start_steps = time.perf_counter(), self.steps
        try:
            for callback in callbacks:
                callback.on_start(self, total)
            collected = None  # with overlap: the round collected during the last updates
            while self.steps < total and not self._stop_requested:
                t0 = time.perf_counter()
                if collected is not None:
                    (stats, finished, t_rollout), collected = collected, None
                else:
                    finished: list[Episode] = []
                    self.policy.eval()
                    stats = rollout.collect(
                        self._round_steps(total),
                        c.temperature,
                        on_episode=lambda i, ep, kept=finished: kept.append(ep),
                        n_greedy=c.greedy_envs,
                    )
                    t_rollout = time.perf_counter() - t0
                self._add_round(stats, finished)
                if ahead is not None and self.steps < total:
                    ahead.start(self._round_steps(total), c.temperature, c.greedy_envs)
                t_updates = time.perf_counter()
                train_metrics = self._update() if len(self.buffer) else {}
                if ahead is not None and ahead.pending:  # the worker idles from here to the next round
                    collected = ahead.result()
                t_updates = time.perf_counter() - t_updates
                self.rounds += 1
                fps = (self.steps - start_steps) / max(time.perf_counter() - start_time, 1e-9)
                metrics = {
                    "time/fps": fps,
                    "time/rollout_s": t_rollout,
                    "time/update_s": t_updates,
                    **train_metrics,
                }
                for ep in finished:
                    self.episode_window.add(ep.ret, ep.length, ep.commanded)
                metrics.update(self.episode_window.metrics())  # SB3's means over the last 100 episodes
                if stats.steps:
                    metrics["rollout/entropy"] = stats.entropy * c.n_envs / stats.steps
                    metrics["rollout/explored"] = stats.explored / stats.steps
                    if self.discrete:
                        metrics["rollout/max_prob"] = stats.max_prob * c.n_envs / stats.steps
                metrics["rollout/buffer_best_return"] = (
                    float(self.buffer.returns().max()) if len(self.buffer) else 0.0
                )
                if self.steps >= next_eval or self.steps >= total:
                    metrics.update(self.evaluate())
                    next_eval = (self.steps // c.eval_every + 1) * c.eval_every
                self.logger.log(self.steps, metrics)
                # every hook runs (no short cut), then any False stops training after the round
                answers = (
                    [cb.on_eval(self, metrics) for cb in callbacks] if "eval/mean_reward" in metrics else []
                )
                answers += [cb.on_round(self, metrics) for cb in callbacks]
                if self.stop_training or any(a is False for a in answers):
                    self._stop_requested = False  # a callback's stop ends the run as its budget would
                    break
                if collected is not None and self._stop_requested:
                    # the envs stand where the round ahead left them: its episodes join the state saved
                    self._add_round(*collected[:2])
                    collected = None
                    continue
                rebuild = rollout.refresh
                if self.saved_at == self.steps and self.steps < total:
                    # a checkpoint (a callback's) was saved after this round; a resumed run starts from here:
                    # draw no random numbers before (with overlap, the round ahead is kept all the same)
                    rebuild = lambda: rollout.start(self._round_seed(), command)  # noqa: E731
                if ahead is not None:
                    ahead.take_weights(self.policy, rebuild)
                else:
                    rebuild()
            if self._stop_requested and self.steps < total:
                self.interrupted_by = self._stop_signal
                state = rollout.state() if self.saved_at != self.steps else None
                if state is not None:  # else the last checkpoint, where the envs were re-seeded, stays
                    self.save_checkpoint(rollout_state=state)
            else:
                for callback in callbacks:
                    callback.on_end(self)
        finally:
            for s, h in old_handlers.items():
                signal.signal(s, h)
            for callback in callbacks:
                callback.close()
            self.logger.close()
            if ahead is not None:
                ahead.close()
            self.env_source.close_rollout_envs(envs)
        return self

    def _round_steps(self, total: int) -> int:
        """Steps per env of the next round: the last one is cut to the steps left, so a run ends at its
        budget (less than n_envs past it)."""
        return min(self.config.rollout_steps, -(-(total - self.steps) // self.config.n_envs))

    def _add_round(self, stats, finished: list[Episode]) -> None:
        self._score_values(finished)  # before they are stored: episodes no value has trained on
        for ep in finished:
            self.buffer.add(ep)
        self.steps += stats.steps
        self.episodes += len(finished)

    def _start_rollout(self, rollout: Rollout, command: Callable[[], float]) -> None:
        """Start the rollout on the round's seeds, or where a checkpoint written at a stop left it."""
        state, self._rollout_state = self._rollout_state, None
        if state is not None and not rollout.restore(state, command):
            print(
                f"note: the envs of {self.config.env_id} did not come back to where the run stopped from "
                "their seeds and actions; their episodes under way start again (not bit for bit)",
                file=sys.stderr,
            )
            state = None
        if state is None:
            rollout.start(self._round_seed(), command)

    def _env_error(self, err: Exception, in_a_row: int) -> None:
        """An env raised during a rollout: log the traceback in the run folder; stop if it keeps failing."""
        log = recovery.log_env_error(self.run_dir, self.steps, err, f"failure {in_a_row} in a row")
        if in_a_row >= self.config.max_env_errors:  # no checkpoint here: it would not resume exactly
            raise LightupError(
                f"env {self.config.env_id} raised {in_a_row} times in a row (last: {error_line(err)}); "
                f"tracebacks in {log}; " + recovery.resume_hint(self.run_dir, self.saved_at)
            )

    def _request_stop(self, signum, frame) -> None:
        """The first SIGINT or SIGTERM ends the run after its round (with a checkpoint there); a second one
        acts as it would without lightup and stops it at once (it then resumes from its last checkpoint)."""
        self._stop_requested, self._stop_signal = True, signum
        if self._old_handlers.get(signum) is not None:
            signal.signal(signum, self._old_handlers[signum])
