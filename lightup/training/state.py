"""A trainer's whole state in one checkpoint file: weights, optimisers, replay, counters and random states.

Read back only as data (`lightup.checkpoint`): no name in a checkpoint is ever imported or called. A run
whose config names a user's policy factory (``module:attr``) resumes only when the factory is given again.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
import torch

from lightup.checkpoint import (
    flatten_optimizer,
    load_tensors,
    save_tensors,
    unflatten_optimizer,
    with_prefix,
)
from lightup.envs import check_env_module_trusted, env_module, import_registering_package
from lightup.errors import LightupError
from lightup.models.factory import is_factory_spec
from lightup.training.commands import CommandConfig
from lightup.training.config import TrainConfig
from lightup.training.replay import Episode, EpisodeBuffer
from lightup.training.state_checks import check_log_alpha, load_optimizer, load_weights

if TYPE_CHECKING:
    from lightup.training.trainer import Trainer

CHECKPOINT = "checkpoint.safetensors"
RUN_FORMAT = "lightup-run/1"


def save_state(trainer: Trainer, path: Path, rollout_state: dict[str, np.ndarray] | None = None) -> None:
    """Write the trainer's whole state to ``path``; ``rollout_state``: the rollout's at a stop (see
    `lightup.training.rollout.Rollout.state`)."""
    tensors = {f"model.{k}": v for k, v in trainer.policy.state_dict().items()}
    tensors.update({f"rollout.{k}": torch.from_numpy(v) for k, v in (rollout_state or {}).items()})
    opt_tensors, opt_rest = flatten_optimizer(trainer.optimizer.state_dict())
    alpha_tensors, alpha_rest = flatten_optimizer(trainer.alpha_optimizer.state_dict())
    tensors.update(opt_tensors)
    tensors.update({f"alpha.{k}": v for k, v in alpha_tensors.items()})
    if trainer.averaged is not None:
        tensors.update({f"averaged.{k}": v for k, v in trainer.averaged.state_dict().items()})
    if trainer.value_net is not None:
        tensors.update({f"value.{k}": v for k, v in trainer.value_net.state_dict().items()})
        value_tensors, value_rest = flatten_optimizer(trainer.value_optimizer.state_dict())
        tensors.update({f"value_opt.{k}": v for k, v in value_tensors.items()})
    tensors["log_alpha"] = trainer.log_alpha.detach()
    tensors["rng.torch"] = torch.get_rng_state()
    tensors.update(buffer_tensors(trainer.buffer))
    tensors["log.episode_window"] = torch.from_numpy(trainer.episode_window.state())
    meta = {
        "format": RUN_FORMAT,
        "config": dataclasses.asdict(trainer.config),
        "counters": {
            "steps": trainer.steps,
            "rounds": trainer.rounds,
            "updates": trainer.updates,
            "episodes": trainer.episodes,
            "solved_at": trainer.solved_at,
        },
        "buffer_commanded": [e.commanded for e in trainer.buffer.episodes],
        "optimizer": opt_rest,
        "alpha_optimizer": alpha_rest,
        "value_optimizer": value_rest if trainer.value_net is not None else None,
        "rng_numpy": trainer.rng.bit_generator.state,
    }
    save_tensors(path, tensors, meta)


def read_checkpoint(run_dir: Path) -> tuple[dict[str, torch.Tensor], dict, TrainConfig]:
    """A run folder's checkpoint: (tensors, metadata, its config checked and pointed at ``run_dir``)."""
    if not run_dir.is_dir():
        what = "is a file, not a run folder" if run_dir.exists() else "not found"
        raise LightupError(f"run folder {str(run_dir)!r} {what}; pass a folder made by `lightup train`")
    path = run_dir / CHECKPOINT
    tensors, meta = load_tensors(path)
    if meta.get("format") != RUN_FORMAT:
        raise LightupError(f"{str(path)!r} is not a lightup training checkpoint")
    # The metadata is JSON from a file, so it may be anything: whatever does not fit what `save_state`
    # writes is a one-line error (it is only ever read as data: no name in it is imported or called).
    try:
        config = config_from_dict(meta["config"])
        config.validate(where=f"{str(path)!r}: ")  # the file's numbers in their ranges, before any allocation
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise unreadable(path, err) from None
    return tensors, meta, dataclasses.replace(config, run_dir=str(run_dir))


def check_resumable(run_dir: Path, config: TrainConfig, env: object, policy_given: bool) -> None:
    """Names read from a run's files are never imported: a user's policy factory, or an env id that is not
    registered (a ``module:EnvId`` path, or an env given in Python), must be given again (``env``, None if
    not); an id given again must be the run's own."""
    env_given = env is not None
    if isinstance(env, str) and env != config.env_id:
        raise LightupError(
            f"{str(run_dir)!r} trained on {config.env_id!r}, not {env!r}: a resumed run keeps its env"
        )
    if not policy_given and is_factory_spec(config.policy):
        raise LightupError(
            f"{str(run_dir)!r} trained the user's policy {config.policy!r}, which is never imported from "
            f"a file: resume with --policy {config.policy} (Trainer.load(run, policy=factory) in Python)"
        )
    if not env_given and env_module(config.env_id) is not None:
        check_env_module_trusted(config.env_id)  # imported already, or listed in LIGHTUP_ENV_MODULES
    elif not env_given:
        import_registering_package(config.env_id)  # a known package's envs (MiniGrid's)
        if config.env_id not in gym.registry:
            raise LightupError(
                f"{str(run_dir)!r} trained on {config.env_id!r}, not a registered env id (a module named "
                "in a file is never imported): pass the env again, Trainer.load(run, env=...) or lightup "
                "train ID --resume RUN"
            )


def unreadable(path: Path, err: Exception) -> LightupError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return LightupError(
        f"{str(path)!r} holds a training state this version cannot read ({type(err).__name__}: {reason}); "
        "use a checkpoint written by lightup"
    )


def restore_state(trainer: Trainer, tensors: dict[str, torch.Tensor], meta: dict, where: str = "") -> None:
    """Load a checkpoint's weights, optimizers, replay and random states into a fresh trainer; a part that
    does not fit is a one-line error after ``where`` (the file)."""
    load_weights(trainer.policy, with_prefix(tensors, "model."), "model.", where)
    averaged = with_prefix(tensors, "averaged.")
    if trainer.config.ema > 0 and meta["counters"]["updates"] > 0:
        trainer._average()  # made as at the first update, then overwritten
        load_weights(trainer.averaged, averaged, "averaged.", where)
    elif averaged:
        raise LightupError(
            f"{where or 'checkpoint '}holds averaged weights but its config has ema 0 (an altered file); "
            "use a checkpoint written by lightup"
        )
    load_optimizer(trainer.optimizer, unflatten_optimizer(tensors, meta["optimizer"]), "optim.", where)
    alpha = with_prefix(tensors, "alpha.")
    load_optimizer(
        trainer.alpha_optimizer, unflatten_optimizer(alpha, meta["alpha_optimizer"]), "alpha.optim.", where
    )
    value = with_prefix(tensors, "value.")
    if trainer.value_net is not None:
        load_weights(trainer.value_net, value, "value.", where)
        value_opt = with_prefix(tensors, "value_opt.")
        state = unflatten_optimizer(value_opt, meta["value_optimizer"])
        load_optimizer(trainer.value_optimizer, state, "value_opt.optim.", where)
    elif value:
        raise LightupError(
            f"{where or 'checkpoint '}holds a value network but its config has advantage_beta 0 (an altered "
            "file); use a checkpoint written by lightup"
        )
    check_log_alpha(tensors["log_alpha"], where)
    with torch.no_grad():
        trainer.log_alpha.copy_(tensors["log_alpha"])
    torch.set_rng_state(tensors["rng.torch"])
    trainer.rng.bit_generator.state = meta["rng_numpy"]
    for ep in buffer_episodes(tensors, meta["buffer_commanded"], trainer.config.gamma):
        trainer.buffer.add(ep)
    if "log.episode_window" in tensors:  # a checkpoint written before the window was saved starts it empty
        trainer.episode_window.restore(tensors["log.episode_window"].numpy())
    counters = meta["counters"]
    trainer.steps, trainer.rounds = counters["steps"], counters["rounds"]
    trainer.updates, trainer.episodes = counters["updates"], counters["episodes"]
    trainer.solved_at = counters["solved_at"]


def config_from_dict(d: dict) -> TrainConfig:
    d = dict(d)
    # Written before the policy baseline existed: such runs used the value baseline, whatever the family.
    d.setdefault("advantage_baseline", "value")
    # Written before the value network's width was a field: it was 128 everywhere.
    d.setdefault("value_hidden", 128)
    # Written before the value net saw past steps: it saw the observation alone.
    d.setdefault("value_history", 0)
    # Written before the value was chosen from two: it was the one.
    d.setdefault("value_select", False)
    # Written before the best action's value: none.
    d.setdefault("value_best", False)
    # Written before the optimizers' kernel was a field: foreach, whose rounding a resume keeps.
    d.setdefault("optimizer_kernel", "foreach")
    # Written before exploration: none.
    d.setdefault("explore_share", 0.0)
    d["command"] = CommandConfig(**d["command"])
    d["env_options"] = tuple(d["env_options"])
    # Written before observations were adapted: such runs took Box observations only, which need none.
    adapters = d.get("obs_adapters", ())
    d["obs_adapters"] = None if adapters is None else tuple(adapters)
    return TrainConfig(**d)


def buffer_tensors(buffer: EpisodeBuffer) -> dict[str, torch.Tensor]:
    if not buffer.episodes:
        return {}
    eps = buffer.episodes
    return {
        "buffer.observations": torch.from_numpy(np.concatenate([e.observations for e in eps])),
        "buffer.actions": torch.from_numpy(np.concatenate([e.actions for e in eps])),
        "buffer.rewards": torch.from_numpy(np.concatenate([e.rewards for e in eps])),
        "buffer.lengths": torch.tensor([e.length for e in eps]),
        "buffer.terminated": torch.tensor([e.terminated for e in eps]),
        "buffer.explored": torch.tensor([e.explored for e in eps]),
    }


def buffer_episodes(tensors: dict, commanded: list[float], gamma: float) -> list[Episode]:
    if "buffer.lengths" not in tensors:
        return []
    ends = np.cumsum(tensors["buffer.lengths"].numpy())
    # written before episodes were marked as explored: none counts as one
    explored = tensors.get("buffer.explored", torch.zeros(len(ends), dtype=torch.bool))
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
                explored=bool(explored[i]),
            )
        )
    return out
