"""`Agent`: a trained policy alone, playing N envs with explicit state; `play_episodes`: the one loop that
plays whole episodes, for evaluation, the viz tools, the bench and the doctor.

An agent file (``policy.safetensors``, written beside each checkpoint) holds the weights, the model's config
and what the agent needs to be commanded: the return scale, gamma, the evaluation command and the env it
was trained on (its id and options: whatever adapts the env's observations is made from those). It is read
as data only: a file never names code that gets imported (a user's model is rebuilt by the caller's own
factory or instance).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lightup.checkpoint import check_parameters, load_tensors, save_tensors, with_prefix
from lightup.envs.env_errors import call_env
from lightup.envs.time_limit import DEFAULT_MAX_EPISODE_STEPS
from lightup.errors import LightupError
from lightup.models import MODELS, SequencePolicy, greedy_action, load_policy
from lightup.models.factory import PolicyFactory, call_factory
from lightup.ranges import RANGES
from lightup.training.envs import check_finite
from lightup.training.returns import next_return_to_go

AGENT_FILE = "policy.safetensors"
POLICY_FORMAT = "lightup-policy/1"
EVAL_SEED = 1_000_000  # evaluation episodes use fixed seeds, never those of training


class Agent:
    """A return-conditioned policy and the state of the N episodes it plays.

    ``agent.reset(n)``, then once per env step ``agent.act(observations, rewards, episode_starts)``: the
    rewards the previous actions earned (None on the first call) and True where an episode begins. Each
    env's return-to-go starts at ``command`` (default: the evaluation command it was saved with) and is
    decremented by its rewards (divided by gamma below 1), exactly as training rollouts feed the policy.
    """

    def __init__(
        self,
        policy: SequencePolicy,
        return_scale: float,
        gamma: float = 1.0,
        command: float = 0.0,
        env_id: str | None = None,
        env_options: tuple[str, ...] = (),
        factory: str | None = None,
        max_episode_steps: int = DEFAULT_MAX_EPISODE_STEPS,
    ):
        self.policy = policy.eval()
        self.max_episode_steps = int(max_episode_steps)
        self.return_scale, self.gamma, self.command = float(return_scale), float(gamma), float(command)
        self.env_id, self.env_options, self.factory = env_id, tuple(env_options), factory
        self.device = next(policy.parameters()).device
        self.last_params: torch.Tensor | None = None
        """(n, P): the action-distribution parameters of the last `act` (the viz tools show them)."""
        self.n = 0

    # --- playing ---

    @property
    def returns_to_go(self) -> np.ndarray:
        """(n,) float64: each env's return-to-go at its last `act` (unscaled)."""
        return self._rtg

    def reset(self, n: int) -> None:
        """Begin ``n`` fresh episodes."""
        self.n = n
        self.policy.begin(n)
        self._rtg, self._t = np.zeros(n), np.zeros(n, np.int64)
        p = self.policy
        self._prev = np.full(n, p.start_action) if p.discrete else np.zeros((n, p.act_dim), np.float32)

    @torch.inference_mode()
    def act(
        self,
        observations: np.ndarray,
        rewards: np.ndarray | None = None,
        episode_starts: np.ndarray | None = None,
        command: float | np.ndarray | None = None,
        deterministic: bool = True,
        generator: torch.Generator | None = None,
    ) -> np.ndarray:
        """Actions (N,) for the observations (N, ...) of N envs stepped in lockstep. ``deterministic``: the
        most likely action; else a draw from the policy's distribution (with ``generator`` if given)."""
        obs = np.asarray(observations, dtype=np.float32).reshape(len(observations), -1)
        n, p = len(obs), self.policy
        start = np.ones(n, bool) if episode_starts is None else np.asarray(episode_starts, bool)
        if n != self.n:
            self.reset(n)
            start = np.ones(n, bool)
        target = self.command if command is None else command
        rewards = np.zeros(n) if rewards is None else np.asarray(rewards, np.float64)
        rtg = next_return_to_go(self._rtg, rewards, self.gamma)
        self._rtg = np.where(start, target, rtg)
        self._t = np.where(start, 0, self._t + 1)
        first = start if p.discrete else start[:, None]
        self._prev = np.where(first, p.start_action if p.discrete else 0.0, self._prev)
        p.reset(torch.as_tensor(start, device=self.device))
        params = p.push(
            torch.as_tensor(self._rtg / self.return_scale, dtype=torch.float32, device=self.device),
            torch.as_tensor(obs, device=self.device),
            torch.as_tensor(self._prev, device=self.device),
            torch.as_tensor(self._t, device=self.device),
        )
        self.last_params = params
        if deterministic:
            actions = greedy_action(params, p.discrete)
        elif p.discrete:
            probs = torch.softmax(params.float(), dim=-1)
            actions = torch.multinomial(probs, 1, generator=generator)[:, 0]
        else:
            actions = p.distribution(params).sample()
        self._prev = actions.cpu().numpy()
        return self._prev.copy()

    # --- files ---

    def meta(self) -> dict[str, Any]:
        kind = type(self.policy).__name__
        config = self.policy.config.to_dict() if kind in MODELS else None
        return {
            "format": POLICY_FORMAT,
            "kind": kind,
            "config": config,
            "agent": {
                "return_scale": self.return_scale,
                "gamma": self.gamma,
                "command": self.command,
                "obs_dim": int(self.policy.obs_dim),
                "act_dim": int(self.policy.act_dim),
                "discrete": bool(self.policy.discrete),
                "env_id": self.env_id,
                "env_options": list(self.env_options),
                "factory": self.factory,
                "max_episode_steps": self.max_episode_steps,
            },
        }

    def save(self, path: str | Path) -> Path:
        """The agent file: the weights and `meta`, in one atomic write."""
        tensors = {f"model.{k}": v for k, v in self.policy.state_dict().items()}
        save_tensors(path, tensors, self.meta())
        return Path(path)

    @classmethod
    def load(cls, path: str | Path, policy: SequencePolicy | PolicyFactory | None = None) -> Agent:
        """An agent from a run folder (its ``policy.safetensors``, else its checkpoint) or an agent file.

        A lightup model is rebuilt from the file's config; a user's model (``policy`` in the file is not one
        of lightup's) needs ``policy``: an instance or a factory of the same architecture."""
        path = Path(path)
        if path.is_dir():
            if not (path / AGENT_FILE).is_file():
                from lightup.training.trainer import Trainer

                trainer = Trainer.load(path, policy=policy)  # a run written before agent files existed
                agent = trainer.agent()
                trainer.close()
                return agent
            path = path / AGENT_FILE
        tensors, meta = load_tensors(path)
        info = _agent_info(meta, path)
        if meta.get("kind") in MODELS and policy is None:
            built = load_policy(path)
        elif policy is None:
            spec = info["factory"]
            raise LightupError(
                f"{str(path)!r} holds a user's model ({meta.get('kind')!r}"
                + (f", factory {spec!r}" if spec else "")
                + "): pass it again, Agent.load(path, policy=factory) (a name in a file is never imported)"
            )
        else:
            built = _user_policy(policy, info, path)
            state = with_prefix(tensors, "model.")
            mine = {k: tuple(v.shape) for k, v in built.state_dict().items()}
            if mine != {k: tuple(v.shape) for k, v in state.items()}:
                raise LightupError(
                    f"{str(path)!r} does not fit the given policy (its tensors' names or shapes differ): "
                    "pass "
                    "the factory the run was trained with"
                )
            check_parameters(built, state, f"{str(path)!r} ", "model.")
            built.load_state_dict(state, strict=True)
        return cls(
            built,
            info["return_scale"],
            info["gamma"],
            info["command"],
            info["env_id"],
            tuple(info["env_options"]),
            info["factory"],
            info["max_episode_steps"],
        )

    def make_env(self, render_mode: str | None = None) -> gym.Env:
        """One env of the kind the agent was trained on (a registered id, with its options), cut where the
        run cut episodes of an env with no time limit of its own."""
        from lightup.envs import make_env, parse_options

        if self.env_id is None:
            raise LightupError("this agent does not know its env (it was trained on one given in Python)")
        options = parse_options(list(self.env_options))
        cut = self.max_episode_steps
        return make_env(self.env_id, render_mode=render_mode, max_episode_steps=cut, **options)


def _user_policy(policy: SequencePolicy | PolicyFactory, info: dict, path: Path) -> SequencePolicy:
    if isinstance(policy, SequencePolicy):
        return copy.deepcopy(policy)
    return call_factory(
        policy, info["obs_dim"], info["act_dim"], info["discrete"], info["factory"] or "policy"
    )


def _agent_info(meta: dict, path: Path) -> dict:
    """The agent part of a file's metadata, checked field by field (plain JSON values only)."""
    info = meta.get("agent")
    if meta.get("format") != POLICY_FORMAT or not isinstance(info, dict):
        raise LightupError(f"{str(path)!r} is not a lightup agent file (no agent in its metadata)")

    def number(name: str, ok: Callable[[float], bool]) -> float:
        value = info.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise LightupError(f"{str(path)!r}: agent {name} {value!r} is not a number; use a lightup file")
        if not ok(value):
            raise LightupError(f"{str(path)!r}: agent {name} {value!r} is out of range; use a lightup file")
        return float(value)

    out = {
        "return_scale": number("return_scale", lambda v: v > 0),
        "gamma": number("gamma", lambda v: 0 < v <= 1),
        "command": number("command", lambda v: True),
        "obs_dim": int(number("obs_dim", lambda v: v == int(v) and 1 <= v <= 1 << 16)),
        "act_dim": int(number("act_dim", lambda v: v == int(v) and 1 <= v <= 1 << 16)),
        "discrete": bool(info.get("discrete", True)),
        # a file without the field: the default cut
        "max_episode_steps": int(
            number("max_episode_steps", RANGES["max_episode_steps"].holds)
            if "max_episode_steps" in info
            else DEFAULT_MAX_EPISODE_STEPS
        ),
    }
    for name in ("env_id", "factory"):
        value = info.get(name)
        if value is not None and not isinstance(value, str):
            raise LightupError(f"{str(path)!r}: agent {name} {value!r} is not a string; use a lightup file")
        out[name] = value
    options = info.get("env_options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise LightupError(f"{str(path)!r}: agent env_options are not a list of strings; use a lightup file")
    out["env_options"] = options
    return out


# --- the episode loop ---


def play_episodes(
    agent,
    envs: gym.vector.VectorEnv | gym.Env,
    command: float | None = None,
    seed: int | None = EVAL_SEED,
    deterministic: bool = True,
    generator: torch.Generator | None = None,
    max_steps: int | None = None,
    before_step: Callable[[np.ndarray, np.ndarray], None] | None = None,
    after_step: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None] | None = None,
) -> list[float]:
    """Play one episode in each env (a vector env resets its envs with seeds ``seed + i``; a single env
    plays one episode from ``seed``); returns their returns, in env order.

    ``agent``: an `Agent`, a `SequencePolicy` (played by an `Agent` at ``command``, return scale 1), or any
    object with ``reset(n)`` and ``act(observations, rewards, episode_starts, command=, deterministic=,
    generator=)``. A vector env must reset in the step that ends an episode (``SAME_STEP``). The hooks
    see each step: ``before_step(observations, actions)`` before the envs step (the single-env viewers
    read the env's state there), ``after_step(observations, rewards, terminated, truncated)`` after.
    ``max_steps`` cuts each episode short (a single env only)."""
    if isinstance(agent, SequencePolicy):
        agent = Agent(agent, 1.0, command=0.0 if command is None else command)
    single = not isinstance(envs, gym.vector.VectorEnv)
    n = 1 if single else envs.num_envs
    name = _name(envs)
    if single:
        obs, _ = call_env(name, envs.reset, seed=seed)
        obs = np.asarray(obs)[None]
    else:
        obs, _ = call_env(name, envs.reset, seed=None if seed is None else [seed + i for i in range(n)])
    check_finite("observation", np.asarray(obs, dtype=np.float64), name)
    agent.reset(n)
    rewards_so_far: list[list[float]] = [[] for _ in range(n)]
    returns: dict[int, float] = {}
    starts, rewards, t = np.ones(n, bool), None, 0
    while len(returns) < n:
        actions = agent.act(
            obs, rewards, starts, command=command, deterministic=deterministic, generator=generator
        )
        if before_step is not None:
            before_step(obs, actions)
        if single:
            o, r, term, trunc, _ = call_env(
                name, envs.step, actions[0].item() if actions.ndim == 1 else actions[0]
            )
            obs, rewards = np.asarray(o)[None], np.array([r], np.float64)
            terminated, truncated = np.array([term]), np.array([trunc])
            t += 1
            if max_steps is not None and t >= max_steps and not (term or trunc):
                truncated = np.array([True])
        else:
            obs, rewards, terminated, truncated, _ = call_env(name, envs.step, actions)
        check_finite("reward", np.asarray(rewards, dtype=np.float64), name)
        check_finite("observation", np.asarray(obs, dtype=np.float64), name)
        if after_step is not None:
            after_step(obs, rewards, terminated, truncated)
        starts = np.logical_or(terminated, truncated)
        for i in range(n):
            rewards_so_far[i].append(float(rewards[i]))
            if starts[i]:
                # summed as a stored episode sums its float32 rewards (`Episode.ret`)
                returns.setdefault(i, float(np.asarray(rewards_so_far[i], np.float32).sum()))
                rewards_so_far[i] = []
    return [returns[i] for i in range(n)]


def _name(envs) -> str:
    """The env's id, as errors name it (a SyncVectorEnv's: its first env's), else its class's name."""
    spec = envs.spec if not isinstance(envs, gym.vector.VectorEnv) else getattr(envs, "spec", None)
    if spec is None and getattr(envs, "envs", None):
        spec = getattr(envs.envs[0], "spec", None)
    return (
        spec.id if spec is not None else type(envs.unwrapped if hasattr(envs, "unwrapped") else envs).__name__
    )
