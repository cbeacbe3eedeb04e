"""Return-conditioned sequence models: the contract, the Decision Transformer, the reference MLP, and
their checkpoints (safetensors weights plus the JSON config, see `lightup.checkpoint`)."""

from __future__ import annotations

from pathlib import Path

import torch

from lightup.checkpoint import check_parameters, load_tensors, save_tensors, with_prefix
from lightup.errors import LightupError
from lightup.models.decision_transformer import DecisionTransformer, DTConfig
from lightup.models.mlp import MLPConfig, ReturnConditionedMLP
from lightup.models.policy import SequencePolicy, action_distribution, greedy_action

MODELS = {
    "DecisionTransformer": (DecisionTransformer, DTConfig),
    "ReturnConditionedMLP": (ReturnConditionedMLP, MLPConfig),
}
FORMAT = "lightup-policy/1"

__all__ = [
    "DTConfig",
    "DecisionTransformer",
    "MLPConfig",
    "ReturnConditionedMLP",
    "SequencePolicy",
    "action_distribution",
    "greedy_action",
    "load_policy",
    "load_weights",
    "policy_meta",
    "save_policy",
]


def policy_meta(policy: SequencePolicy) -> dict:
    kind = type(policy).__name__
    if kind not in MODELS:
        raise LightupError(f"cannot save a {kind}: only {', '.join(MODELS)} have a checkpoint format")
    return {"format": FORMAT, "kind": kind, "config": policy.config.to_dict()}


def save_policy(policy: SequencePolicy, path: str | Path) -> None:
    """Weights as safetensors, the model kind and config as JSON metadata, in one atomic write."""
    save_tensors(path, {f"model.{k}": v for k, v in policy.state_dict().items()}, policy_meta(policy))


def _config_of(meta: dict, path: str | Path) -> dict:
    """The model config in a checkpoint's metadata: plain JSON values, passed as keyword arguments."""
    config = meta.get("config")
    if not isinstance(config, dict):
        raise LightupError(
            f"{str(path)!r} has no model config in its metadata; use a checkpoint written by lightup"
        )
    return config


def load_policy(path: str | Path) -> SequencePolicy:
    """Build the model a checkpoint describes and load its weights. Never runs code from the file."""
    tensors, meta = load_tensors(path)
    if meta.get("format") != FORMAT or meta.get("kind") not in MODELS:
        raise LightupError(f"{str(path)!r} holds no lightup policy (format {meta.get('format')!r})")
    cls, config_cls = MODELS[meta["kind"]]
    state = with_prefix(tensors, "model.")
    try:
        config = config_cls(**_config_of(meta, path))
        _check_size(config, state, path)  # before any model is built, even on the meta device
        # First on the meta device (no memory): a config that does not fit the file's tensors stops here,
        # before a crafted config (a width of 10**9, say) could allocate anything.
        with torch.device("meta"):
            shapes = {k: tuple(v.shape) for k, v in cls(config).state_dict().items()}
    except (TypeError, ValueError, RuntimeError) as err:
        raise LightupError(f"{str(path)!r} has a config this version cannot read: {err}") from None
    wrong = sorted(k for k in shapes.keys() | state.keys() if shapes.get(k) != _shape(state.get(k)))
    if wrong:
        raise LightupError(
            f"{str(path)!r} does not fit the model it describes ({len(wrong)} tensors missing, unexpected or "
            f"of another shape, first {wrong[0]!r}); use a checkpoint written by lightup"
        )
    policy = cls(config)
    _load_state(policy, state, path)
    return policy


# Sizes that allocate when the model runs, not when it is built: capped at what training accepts.
MAX_SIZES = {"context_len": 4096, "max_episode_len": 1_000_000, "obs_dim": 1 << 16, "act_dim": 1 << 16}


def _check_size(config, state: dict, path: str | Path) -> None:
    """The file's model config is no bigger than its tensors: its layers number no more than the tensors,
    and its parameters (at least ``layers * width**2``) no more than the numbers the tensors hold; sizes
    used at run time (``context_len``: a 1e12 context allocates 256 TB at the first act) within
    `MAX_SIZES`. Else a one-line error: building 1e5 layers, even on the meta device, takes minutes."""
    for name, cap in MAX_SIZES.items():
        value = getattr(config, name, None)
        if isinstance(value, int) and value > cap:
            raise LightupError(
                f"{str(path)!r} has a model config with {name} {value:,}, more than the {cap:,} allowed; use "
                "a checkpoint written by lightup"
            )
    layers = getattr(config, "n_layer", None) or getattr(config, "n_hidden_layers", None)
    width = getattr(config, "n_embd", None) or getattr(config, "hidden", None)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (layers, width)):
        return  # not numbers: the model's own config check says so
    implied = layers * width * width if hasattr(config, "n_layer") else (layers - 1) * width * width + width
    held = sum(v.numel() for v in state.values())
    if layers > len(state) or implied > held:
        raise LightupError(
            f"{str(path)!r} does not fit the model it describes: {layers:,} layers of width {width:,} are "
            f"more than the {held:,} numbers its {len(state)} tensors hold (an altered file); use a "
            "checkpoint written by lightup"
        )


def _shape(tensor) -> tuple | None:
    return None if tensor is None else tuple(tensor.shape)


def load_weights(policy: SequencePolicy, path: str | Path) -> None:
    """Load a checkpoint's weights into ``policy``; a different kind or config is a one-line error."""
    tensors, meta = load_tensors(path)
    mine = policy_meta(policy)
    if meta.get("kind") != mine["kind"]:
        raise LightupError(f"{str(path)!r} holds a {meta.get('kind')}, not a {mine['kind']}")
    theirs = _config_of(meta, path)
    diff = [
        f"{k}: file {theirs.get(k)!r} vs model {v!r}" for k, v in mine["config"].items() if theirs.get(k) != v
    ]
    unknown = [k for k in theirs if k not in mine["config"]]
    if unknown:
        diff.append(f"fields this model does not have: {', '.join(map(repr, unknown[:5]))}")
    if diff:
        raise LightupError(f"{str(path)!r} was saved from another model config ({'; '.join(diff)})")
    _load_state(policy, with_prefix(tensors, "model."), path)


def _load_state(policy: SequencePolicy, state: dict, path: str | Path) -> None:
    check_parameters(policy, state, f"{str(path)!r} ", "model.")
    try:
        policy.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise LightupError(f"{str(path)!r} does not fit the model it describes ({first})") from None
