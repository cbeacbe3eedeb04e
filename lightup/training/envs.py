"""The trainer's envs: from an id, a callable returning a `gym.Env`, or a Gymnasium `VectorEnv`.

Rollouts play N envs in lockstep that reset in the step that ends an episode (Gymnasium's ``SAME_STEP``
autoreset); evaluation plays fresh single envs, one per episode, on fixed seeds. What an env is and what it
returns are checked here: its spaces once (`check_spaces`), its observations and rewards at every step
(`check_finite`, `check_rewards`, `check_shape`), each failure a one-line error naming the env.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np

from lightup.envs import make_env
from lightup.envs.adapters import action_space_problem, adapt, needs_rescale
from lightup.envs.time_limit import DEFAULT_MAX_EPISODE_STEPS, time_limited
from lightup.errors import LightupError
from lightup.ranges import HUGE

if TYPE_CHECKING:
    from lightup.training.config import TrainConfig

EnvFactory = Callable[[], gym.Env]


class CheckedObservations(gym.ObservationWrapper):
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


def vector_env(make: EnvFactory, n: int) -> gym.vector.VectorEnv:
    """``n`` copies of an env in lockstep, as every rollout here plays them: reset in the step that ends an
    episode, and each observation checked against its env's observation space."""
    return gym.vector.SyncVectorEnv(
        [lambda: CheckedObservations(make()) for _ in range(n)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )


def make_vector_env(
    env_id: str, options: dict, n: int, max_episode_steps: int | None = DEFAULT_MAX_EPISODE_STEPS
) -> gym.vector.VectorEnv:
    """`vector_env` of a registered id with its options."""
    return vector_env(lambda: make_env(env_id, max_episode_steps=max_episode_steps, **options), n)


def _adapted(env, adapters: tuple[str, ...] | None):
    """A user's env with its observations adapted to flat vectors; anything that is not a gym.Env is left
    for `EnvSource.probe` to refuse in one line."""
    return adapt(env, adapters)[0] if isinstance(env, gym.Env) else env


MAX_ACTIONS = 65_536
"""The most discrete actions (or action dimensions) a policy is built for: its head has one output per
action and its input an embedding row per action (a Discrete(10**9) space would ask for 128 GB)."""
MAX_OBS_VALUES = 1 << 20
"""The most values an observation may hold: the policy reads it as one flat vector (a 210 x 160 x 3 frame
is 100,800), and every stored step keeps a copy."""


def check_spaces(probe: gym.Env, env_id: str) -> tuple[int, bool]:
    """The spaces the trainer plays: Discrete or bounded 1-D Box actions, flat (Box) observations, each of
    a size a policy can be built for. Returns the number of actions (discrete) or of action dimensions
    (continuous), and whether they are discrete."""
    space = probe.action_space
    problem = action_space_problem(space)
    if problem is not None:
        raise LightupError(f"{env_id} has {problem}")
    if not isinstance(probe.observation_space, gym.spaces.Box):
        raise LightupError(f"{env_id} has a non-Box observation space; wrap it to give flat vectors")
    discrete = isinstance(space, gym.spaces.Discrete)
    n = int(space.n if discrete else space.shape[0])
    if n > MAX_ACTIONS:
        kind = "actions" if discrete else "action dimensions"
        raise LightupError(
            f"{env_id} has {n:,} {kind}, more than the {MAX_ACTIONS:,} a policy is built for; wrap it to "
            "give fewer"
        )
    values = int(np.prod(probe.observation_space.shape, dtype=np.float64))
    if values > MAX_OBS_VALUES:
        raise LightupError(
            f"{env_id} gives observations of {values:,} values, more than the {MAX_OBS_VALUES:,} a policy "
            "reads; wrap it to give fewer (a feature extractor, or gymnasium.wrappers.ResizeObservation)"
        )
    return n, discrete


# --- what an env returns, checked at every step a rollout plays ---


def check_finite(name: str, values: np.ndarray, env_id: str) -> None:
    if not np.all(np.isfinite(values)):
        bad = np.argwhere(~np.isfinite(values))[0]
        raise LightupError(
            f"env {env_id} returned a non-finite {name} ({values[tuple(bad)]} at index "
            f"{tuple(bad.tolist())}); fix the env or wrap it"
        )


def check_rewards(rewards: np.ndarray, env_id: str) -> None:
    """Finite, and within `HUGE` (returns-to-go and commands are kept within it; a reward of 1e308 is finite
    but its return is not)."""
    check_finite("reward", rewards, env_id)
    if np.any(np.abs(rewards) > HUGE):
        bad = int(np.argmax(np.abs(rewards)))
        raise LightupError(
            f"env {env_id} returned a reward of {rewards[bad]:g}, beyond the +-{HUGE:g} lightup learns from; "
            "scale its rewards down (gymnasium.wrappers.TransformReward)"
        )


def check_shape(obs: np.ndarray, n: int, obs_dim: int, env_id: str) -> None:
    """The policy reads ``obs_dim`` values per observation (each env's own shape is checked where the envs
    are made, by `vector_env`)."""
    if obs.size != n * obs_dim:
        raise LightupError(
            f"env {env_id} gives observations of shape {obs.shape[1:]}, but the policy reads {obs_dim} "
            "values; build the policy for this env's observation space"
        )


def env_name(env: gym.Env) -> str:
    """An env's id if it is registered, else its class name (for run folders and messages)."""
    return env.spec.id if env.spec is not None else type(env.unwrapped).__name__


class EnvSource:
    """Where a trainer's envs come from.

    - ``env`` None or an id (``module:EnvId`` too): made by `lightup.envs.make_env` with ``options``;
    - a callable returning a ``gym.Env``: called once per env;
    - a ``gym.vector.VectorEnv`` (SAME_STEP autoreset): rollouts play it as it is; evaluation makes single
      envs with ``eval_env``, else with the vector env's own ``env_fns`` (Sync and Async vector envs).

    Every env made here that declares no time limit is cut at ``max_episode_steps`` (`time_limited`); the
    rollouts of a given vector env play it as it is.
    """

    def __init__(
        self,
        env: str | EnvFactory | gym.vector.VectorEnv | None,
        env_id: str,
        options: dict,
        eval_env: EnvFactory | None = None,
        adapters: tuple[str, ...] | None = None,
        max_episode_steps: int | None = None,
    ):
        self.vector: gym.vector.VectorEnv | None = None
        cap = max_episode_steps
        if env is None or isinstance(env, str):
            env_id = env_id if env is None else env
            self.make: EnvFactory = lambda: make_env(
                env_id, adapters=adapters, max_episode_steps=cap, **options
            )
        elif isinstance(env, gym.vector.VectorEnv):
            mode = env.metadata.get("autoreset_mode")
            if mode is not None and mode != gym.vector.AutoresetMode.SAME_STEP:
                raise LightupError(
                    f"the vector env resets with {mode}; the trainer plays envs that reset in the step that "
                    "ends an episode: make it with autoreset_mode=gym.vector.AutoresetMode.SAME_STEP"
                )
            fns = getattr(env, "env_fns", None)
            make = eval_env or (fns[0] if fns else None)
            if make is None:
                raise LightupError(
                    f"cannot make single evaluation envs from a {type(env).__name__}: pass eval_env=, a "
                    "callable returning one gym.Env"
                )
            if needs_rescale(env.single_action_space):  # played as given: its actions must be [-1, 1]
                raise LightupError(
                    f"the vector env's Box actions span {env.single_action_space.low.min():g} to "
                    f"{env.single_action_space.high.max():g}; the policy acts in [-1, 1]: wrap each env in "
                    "gymnasium.wrappers.RescaleAction(env, -1.0, 1.0)"
                )
            self.vector, self.make = env, lambda: time_limited(make(), cap)
        elif callable(env):
            self.make = lambda: time_limited(_adapted(env(), adapters), cap)  # adapted as an id's would be
        else:
            raise LightupError(
                f"env must be an env id, a callable returning a gym.Env or a gym.vector.VectorEnv, not a "
                f"{type(env).__name__}"
            )
        if eval_env is not None and self.vector is None:
            self.make_eval: EnvFactory = lambda: time_limited(eval_env(), cap)
        else:
            self.make_eval = self.make
        self.given = env is not None and not isinstance(env, str)
        """True when the env came from Python (a callable or a vector env), not from an id."""

    def fit_n_envs(self, config: TrainConfig) -> TrainConfig:
        """``config`` with ``n_envs`` that of the given vector env (a different one set is an error)."""
        vector = self.vector
        if vector is None:
            return config
        if config.n_envs is not None and config.n_envs != vector.num_envs:
            raise LightupError(
                f"--n-envs is {config.n_envs} but the vector env holds {vector.num_envs} envs; leave "
                "n_envs unset or make them agree"
            )
        return dataclasses.replace(config, n_envs=vector.num_envs)

    def probe(self) -> gym.Env:
        """One env, to read its spaces and threshold (the caller closes it)."""
        env = self.make()
        if not isinstance(env, gym.Env):
            raise LightupError(f"the env callable returned a {type(env).__name__}, not a gym.Env")
        return env

    def rollout_envs(self, n: int) -> gym.vector.VectorEnv:
        """The envs rollouts play: the given vector env, or ``n`` fresh ones."""
        return self.vector if self.vector is not None else vector_env(self.make, n)

    def eval_envs(self, n: int) -> gym.vector.VectorEnv:
        return vector_env(self.make_eval, n)

    def close_rollout_envs(self, envs: gym.vector.VectorEnv) -> None:
        """Close envs made here; a vector env the caller gave stays open (it is theirs)."""
        if envs is not self.vector:
            envs.close()
