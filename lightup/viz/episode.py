"""One episode of a policy, step by step: what it saw, what it was asked for, what it thought, what it did.

`play_episode` is the single-env rollout behind the inspector, the attention map and the video. It feeds the
policy exactly as training rollouts do (`lightup.training.rollout.Rollout`): the return-to-go starts at the
command, is decremented by each reward and divided by ``return_scale`` before the model sees it; the first
step's previous action is the start token.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy, greedy_action
from lightup.outputs import check_run_folder
from lightup.training.agent import Agent, play_episodes


@dataclass
class Step:
    """One row of the inspector's table."""

    t: int
    observation: np.ndarray
    description: str
    """The observation in words (lightup games) or as numbers."""
    return_to_go: float
    """The commanded return still to collect, unscaled."""
    probs: np.ndarray
    """(A,) action probabilities (discrete), or the greedy action, the squashed mean (continuous)."""
    action: int | list[float]
    """The action taken: an index, or a vector in [-1, 1] (continuous)."""
    reward: float
    terminated: bool = False
    truncated: bool = False


@dataclass
class EpisodeRecord:
    command: float
    return_scale: float
    steps: list[Step] = field(default_factory=list)
    frames: list[np.ndarray] = field(default_factory=list)
    """rgb frames (H, W, 3): the first after reset, then one after every step."""
    start_action: int = 0
    discrete: bool = True

    @property
    def ret(self) -> float:
        return float(sum(s.reward for s in self.steps))

    def policy_inputs(self) -> dict[str, torch.Tensor]:
        """The episode as the (1, T) inputs of ``SequencePolicy.forward``."""
        actions = [s.action for s in self.steps]
        if self.discrete:
            prev = torch.tensor([[self.start_action, *actions[:-1]]], dtype=torch.long)
        else:  # a zero vector at t = 0, where the model reads its start embedding instead
            dims = len(actions[0])
            prev = torch.tensor([[[0.0] * dims, *actions[:-1]]], dtype=torch.float32)
        return {
            "returns_to_go": torch.tensor([[s.return_to_go / self.return_scale for s in self.steps]]).float(),
            "states": torch.from_numpy(np.stack([s.observation for s in self.steps])[None]).float(),
            "prev_actions": prev,
            "timesteps": torch.arange(len(self.steps))[None],
            "mask": torch.ones(1, len(self.steps), dtype=torch.bool),
        }


def action_view(params: torch.Tensor, discrete: bool) -> np.ndarray:
    """What a table shows of the parameters (..., P): the action probabilities (discrete), or the greedy
    action (continuous: the squashed mean)."""
    if discrete:
        return torch.softmax(params.float(), dim=-1).cpu().numpy()
    return greedy_action(params.float(), False).cpu().numpy()


def action_value(action, discrete: bool) -> int | list[float]:
    """One action as plain values: an index, or the vector's numbers."""
    return int(action) if discrete else [float(x) for x in np.asarray(action).reshape(-1)]


def describe(env: gym.Env, obs: np.ndarray) -> str:
    """The game's words for an observation (as `lightup play` shows it), else the rounded numbers."""
    from lightup.envs.play import describe as play_describe

    return play_describe(env, obs)


def play_episode(
    policy: SequencePolicy,
    env: gym.Env,
    command: float,
    return_scale: float,
    seed: int | None = None,
    greedy: bool = True,
    render: bool = False,
    max_steps: int | None = None,
    gamma: float = 1.0,
) -> EpisodeRecord:
    """Play one episode of ``env`` with ``policy`` commanded to collect ``command``; ``max_steps`` cuts it
    short (the last step is then marked truncated). Sampling draws from a generator seeded with ``seed``."""
    generator = torch.Generator(device=next(policy.parameters()).device)
    generator.manual_seed(0 if seed is None else seed)
    agent = Agent(policy, return_scale, gamma, command)
    start = policy.start_action if policy.discrete else 0
    record = EpisodeRecord(command, return_scale, start_action=start, discrete=policy.discrete)
    seen: dict = {}

    def before_step(obs: np.ndarray, actions: np.ndarray) -> None:
        if render and not record.frames:
            record.frames.append(_frame(env))
        seen["obs"] = np.asarray(obs[0], dtype=np.float32).reshape(-1)
        seen["text"] = describe(env, obs[0])  # before stepping: the games describe their current state
        seen["rtg"] = float(agent.returns_to_go[0])
        seen["probs"] = action_view(agent.last_params[:1], policy.discrete)[0]
        seen["action"] = action_value(actions[0], policy.discrete)

    def after_step(obs, rewards, terminated, truncated) -> None:
        record.steps.append(
            Step(
                t=len(record.steps),
                observation=seen["obs"],
                description=seen["text"],
                return_to_go=seen["rtg"],
                probs=seen["probs"],
                action=seen["action"],
                reward=float(rewards[0]),
                terminated=bool(terminated[0]),
                truncated=bool(truncated[0]),
            )
        )
        if render:
            record.frames.append(_frame(env))

    play_episodes(
        agent,
        env,
        seed=seed,
        deterministic=greedy,
        generator=generator,
        max_steps=max_steps,
        before_step=before_step,
        after_step=after_step,
    )
    return record


def _frame(env: gym.Env) -> np.ndarray:
    frame = env.render()
    assert isinstance(frame, np.ndarray) and frame.ndim == 3, "render_mode='rgb_array' gives (H, W, 3)"
    return frame


# --- loading a run ---


def load_trainer(run_dir: str | Path):
    """A run folder's trainer, from its checkpoint; a missing folder or checkpoint is a one-line error."""
    from lightup.training.state import CHECKPOINT
    from lightup.training.trainer import Trainer

    run_dir = check_run_folder(run_dir)
    if not (run_dir / CHECKPOINT).is_file():
        raise LightupError(
            f"{str(run_dir)!r} has no {CHECKPOINT} yet: a run writes it at its first checkpoint and at its "
            "end; wait for it or pass another run folder"
        )
    return Trainer.load(run_dir)


def why_no_frames(trainer) -> str | None:
    """Why the run's env cannot be drawn as rgb frames (None: it can), asked before an episode is played: it
    must list ``rgb_array`` among its render modes and draw an (H, W, 3) image after a reset. Asking first
    keeps Gymnasium's warnings and the env's own errors (nested, many lines) off the user's terminal."""
    env_id = trainer.config.env_id
    env = make_run_env(trainer)
    modes = list(env.metadata.get("render_modes") or [])
    env.close()
    if "rgb_array" not in modes:
        return (
            f"{env_id} draws no rgb_array frames (its render modes: {', '.join(map(str, modes)) or 'none'})"
        )
    try:
        env = make_run_env(trainer, render_mode="rgb_array")
    except LightupError as err:
        return str(err)
    try:
        env.reset(seed=0)
        frame = env.render()
    except Exception as err:  # noqa: BLE001 (the env's own drawing code: any failure means no frames)
        reason = str(err).strip().splitlines()[0][:200] if str(err).strip() else ""
        return f"{env_id} failed to draw a frame ({type(err).__name__}{': ' + reason if reason else ''})"
    finally:
        env.close()
    if not (isinstance(frame, np.ndarray) and frame.ndim == 3):
        return f"{env_id} drew no (H, W, 3) image (got {type(frame).__name__})"
    return None


def make_run_env(trainer, render_mode: str | None = None) -> gym.Env:
    from lightup.envs import make_env

    if render_mode == "rgb_array":
        # drawn off-screen: without this SDL looks for a display (and complains on stderr)
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            # MuJoCo's envs take the first OpenGL backend that loads, GLFW, which cannot draw without a
            # display (and warns on stderr); EGL draws off-screen
            os.environ.setdefault("MUJOCO_GL", "egl")
    c = trainer.config
    return make_env(
        c.env_id, render_mode=render_mode, max_episode_steps=c.max_episode_steps, **trainer.options
    )


def default_command(trainer) -> float:
    """The command greedy evaluation uses (see ``TrainConfig.eval_command``)."""
    return float(trainer.eval_target())
