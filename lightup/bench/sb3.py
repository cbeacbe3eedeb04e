"""Stable-Baselines3 PPO, DQN, SAC and TD3 as bench peers, with the zoo's hyperparameters and our evaluation.

Imported only by the runs that need it: Stable-Baselines3 is the ``bench`` extra.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np
from stable_baselines3 import DQN, PPO, SAC, TD3
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

from lightup.bench.job import Job, weights_digest
from lightup.bench.zoo import as_recorded, hyperparameters
from lightup.envs import make_env, parse_options, reward_threshold
from lightup.envs.env_errors import NamedEnvErrors
from lightup.training.agent import EVAL_SEED, play_episodes


class _Greedy:
    """An SB3 model as an agent of `play_episodes`: its deterministic ``predict``, of the raw env's
    observations normalised by the model's ``VecNormalize`` statistics where it trains on one (read, not
    updated: evaluation does not step the training envs)."""

    def __init__(self, model):
        self.model = model

    def reset(self, n: int) -> None:
        pass

    def act(self, observations, rewards, episode_starts, **_) -> np.ndarray:
        normalizer = self.model.get_vec_normalize_env()
        if normalizer is not None:
            observations = normalizer.normalize_obs(observations)
        return self.model.predict(observations, deterministic=True)[0]


def greedy_returns(model, envs: gym.vector.VectorEnv) -> list[float]:
    """One greedy episode per env, reset with the trainer's evaluation seeds ``EVAL_SEED + i``."""
    return play_episodes(_Greedy(model), envs, seed=EVAL_SEED)


class GreedyEvalCallback(BaseCallback):
    """Greedy evaluation every ``eval_every`` env steps and at the budget; stops training at the threshold
    (or at the budget, which PPO would otherwise overshoot by up to one rollout)."""

    def __init__(self, envs: gym.vector.VectorEnv, job: Job, threshold: float | None, start: float):
        super().__init__()
        self.envs, self.job, self.threshold, self.start = envs, job, threshold, start
        self.next_eval = job.eval_every
        self.curve: list[list[float]] = []
        self.solved_at: int | None = None
        self.wall_to_solve: float | None = None

    def _on_step(self) -> bool:
        steps = self.num_timesteps
        if steps < self.next_eval and steps < self.job.budget:
            return True
        mean = float(np.mean(greedy_returns(self.model, self.envs)))
        self.curve.append([steps, mean])
        self.next_eval = (steps // self.job.eval_every + 1) * self.job.eval_every
        if self.threshold is not None and mean >= self.threshold:
            self.solved_at, self.wall_to_solve = steps, time.perf_counter() - self.start
            return False
        return steps < self.job.budget


def _linear(initial: float, budget: int, horizon: int):
    """The zoo's ``lin_`` schedule over ``horizon`` env steps, in SB3's progress_remaining terms."""

    def schedule(progress_remaining: float) -> float:
        return initial * max(1.0 - (1.0 - progress_remaining) * budget / horizon, 0.0)

    return schedule


def build_model(algo: str, job: Job, env) -> tuple[object, dict]:
    """The SB3 model with the zoo's values for this env (see ``lightup.bench.zoo``)."""
    params, from_zoo = hyperparameters(algo, job.env_id)
    record = as_recorded(params, from_zoo)
    params.pop("n_envs")
    zoo_steps = params.pop("zoo_steps")
    # Schedules follow the zoo in env steps; a budget beyond the zoo's stretches them, as `rl_zoo3 -n` does.
    horizon = max(job.budget, zoo_steps)
    for key in ("learning_rate", "clip_range"):
        if isinstance(params.get(key), str):
            params[key] = _linear(float(params[key].removeprefix("lin_")), job.budget, horizon)
    if "exploration_fraction" in params:
        params["exploration_fraction"] = min(params["exploration_fraction"] * horizon / job.budget, 1.0)
    policy_kwargs = {"net_arch": params.pop("net_arch")} if "net_arch" in params else None
    policy_kwargs = params.pop("policy_kwargs", policy_kwargs)
    params.pop("zoo_normalize", None)  # the env is wrapped by `run_sb3`
    if "noise_type" in params:
        params["action_noise"] = _action_noise(params.pop("noise_type"), params.pop("noise_std"), env)
    cls = {"ppo": PPO, "dqn": DQN, "sac": SAC, "td3": TD3}[algo]
    model = cls("MlpPolicy", env, seed=job.seed, device="cpu", policy_kwargs=policy_kwargs, **params)
    return model, record


def _action_noise(kind: str, std: float, env):
    """The zoo's ``noise_type`` and ``noise_std`` as an SB3 action noise over the env's action dimensions."""
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    dims = env.action_space.shape[0]
    cls = {"normal": NormalActionNoise, "ornstein-uhlenbeck": OrnsteinUhlenbeckActionNoise}[kind]
    return cls(mean=np.zeros(dims), sigma=std * np.ones(dims))


def run_sb3(job: Job, algo: str) -> dict:
    start = time.perf_counter()
    options = parse_options(list(job.env_options))
    params, _ = hyperparameters(algo, job.env_id)
    # the env's own errors in SB3's loop: one line naming it (`NamedEnvErrors`), not a traceback
    env = make_vec_env(
        lambda: NamedEnvErrors(make_env(job.env_id, **options), job.env_id),
        n_envs=params["n_envs"],
        seed=job.seed,
    )
    if params.get("zoo_normalize"):
        env = VecNormalize(env, gamma=params.get("gamma", 0.99))
    eval_envs = gym.vector.SyncVectorEnv(
        [lambda: make_env(job.env_id, **options) for _ in range(job.eval_episodes)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    threshold = job.solved_at_return
    if threshold is None:
        threshold = reward_threshold(eval_envs.envs[0])
    model, record = build_model(algo, job, env)
    callback = GreedyEvalCallback(eval_envs, job, threshold, start)
    try:
        model.learn(total_timesteps=job.budget, callback=callback)
    finally:
        env.close()
        eval_envs.close()
    wall = time.perf_counter() - start
    return {
        "threshold": threshold,
        "solved_at": callback.solved_at,
        "wall_s_to_solve": callback.wall_to_solve,
        "steps": int(model.num_timesteps),
        "wall_s": wall,
        "curve": callback.curve,
        "weights_sha256": weights_digest(model.policy),
        "hyperparameters": record,
    }
