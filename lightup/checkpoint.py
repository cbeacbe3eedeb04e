"""Checkpoint files: safetensors tensors plus JSON metadata, written atomically, never unpickled.

One file holds everything: tensors by name, and a JSON document in the safetensors header metadata.
Reading a file only parses that header and raw tensor bytes, so a file can never run code (the reason
safetensors exists). Writes go to a temporary file in the same folder, are fsynced, then renamed over the
target, so a crash mid-write leaves the previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from lightup.errors import LightupError
from lightup.jsonfile import MiB, loads

META_KEY = "lightup"
MAX_META_BYTES = 64 * MiB  # the replay's commands and the optimizers' settings: under 1 MiB as written
TEMP_SUFFIX = ".tmp"
MAX_TENSORS = 65_536  # a run's checkpoint holds a few hundred (weights, optimizer moments, replay)
MAX_HEADER_BYTES = MAX_META_BYTES + MAX_TENSORS * 256  # the metadata plus each tensor's name, type, place


def atomic_write(path: str | Path, write: Any) -> None:
    """Call ``write(tmp_path)`` and rename the result over ``path``; on any failure ``path`` is untouched.

    The temporary file is ``.{name}.{random}.tmp`` beside ``path``; one left by a kill mid-write is removed
    by `remove_stale_temps` when its folder's run starts again."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(folder: str | Path, names: tuple[str, ...]) -> list[Path]:
    """Delete the temporary files that `atomic_write` left in ``folder`` for the files ``names`` when a kill
    stopped it mid-write (one process at a time writes in a run folder, `lightup.training.recovery.RunLock`:
    none is in use); returns them."""
    stale = [
        p
        for name in names
        for p in Path(folder).glob(f".{glob_escape(name)}.*{TEMP_SUFFIX}")
        if p.is_file() and not p.is_symlink()
    ]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def save_tensors(path: str | Path, tensors: dict[str, Tensor], meta: dict[str, Any]) -> None:
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    header = {META_KEY: json.dumps(meta)}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))


def load_tensors(path: str | Path) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Read a lightup checkpoint; a missing, corrupt or foreign file gives a one-line LightupError."""
    path = Path(path)
    if not path.is_file():
        raise LightupError(f"checkpoint {str(path)!r} not found; pass the path of a .safetensors file")
    check_header(path)  # before safetensors parses it all: a header of a million tensors takes GBs
    try:
        tensors = load_file(str(path))
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise LightupError(
            f"{str(path)!r} is not a readable lightup checkpoint ({reason}); it may be truncated or of "
            "another format: use a checkpoint written by lightup"
        ) from None
    if META_KEY not in header:
        raise LightupError(f"{str(path)!r} is a safetensors file but not a lightup checkpoint (no metadata)")
    meta = loads(header[META_KEY], f"the metadata of {str(path)!r}", MAX_META_BYTES)
    if not isinstance(meta, dict):
        raise LightupError(
            f"{str(path)!r} has lightup metadata that is not a JSON object; use another checkpoint"
        )
    return tensors, meta


def check_header(path: Path) -> bytes:
    """The raw JSON header of the safetensors file ``path``, read only if its declared size and its number
    of tensors are within what lightup writes (`MAX_HEADER_BYTES`, `MAX_TENSORS`): else a one-line error.
    A file too short to hold a header is left to safetensors' own error."""
    try:
        with open(path, "rb") as f:
            size_bytes = f.read(8)
            if len(size_bytes) < 8:
                return b""
            size = int.from_bytes(size_bytes, "little")
            if size > MAX_HEADER_BYTES:
                raise LightupError(
                    f"{str(path)!r} declares a header of {size:,} bytes, more than the "
                    f"{MAX_HEADER_BYTES:,} a lightup checkpoint has (an altered or foreign file); use a "
                    "checkpoint written by lightup"
                )
            header = f.read(size)
    except OSError as err:
        raise LightupError(f"cannot read {str(path)!r} ({err.strerror or type(err).__name__})") from None
    count = header.count(b'"data_offsets"')  # one per tensor; counted in C, before any parsing
    if count > MAX_TENSORS:
        raise LightupError(
            f"{str(path)!r} declares {count:,} tensors, more than the {MAX_TENSORS:,} a lightup checkpoint "
            "has (an altered or foreign file); use a checkpoint written by lightup"
        )
    return header


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The lightup metadata of a safetensors file, read from its header alone (capped as in
    `check_header`); {} for a file without it. A file that is not safetensors is a one-line error."""
    path = Path(path)
    header = check_header(path)
    try:
        doc = loads(header, f"the header of {str(path)!r}", MAX_HEADER_BYTES)
        meta = doc.get("__metadata__", {}).get(META_KEY)
        meta = loads(meta, f"the metadata of {str(path)!r}", MAX_META_BYTES) if meta is not None else {}
    except (AttributeError, TypeError):
        meta = None
    if not isinstance(meta, dict):
        raise LightupError(f"{str(path)!r} is not a lightup file (its header is not safetensors')")
    return meta


def check_parameters(module: nn.Module, state: dict[str, Tensor], where: str, prefix: str = "") -> None:
    """The weights ``state`` holds for ``module``'s parameters are of a floating type where the parameter
    is, and finite: else a one-line LightupError naming the first (``where``: what holds them, as the start
    of the message; ``prefix``: the weights' names' in the file). torch's
    ``load_state_dict`` would cast integers silently and take NaN, and the model would then act on garbage.
    Buffers are not checked (a running statistic may hold NaN until it is first measured)."""
    for name, param in module.named_parameters():
        value = state.get(name)
        if value is None:
            continue  # missing weights: the caller's shape check names them
        if param.is_floating_point() and not value.is_floating_point():
            raise LightupError(
                f"{where}holds the weight {prefix + name!r} as {value.dtype} where the model has "
                "floating-point weights (an altered file); use a checkpoint written by lightup"
            )
        if value.is_floating_point() and not bool(value.isfinite().all()):
            raise LightupError(
                f"{where}holds non-finite values (NaN or infinity) in the weight {prefix + name!r}: a "
                "corrupt file or a run that diverged; use an earlier checkpoint"
            )


def with_prefix(tensors: dict[str, Tensor], prefix: str) -> dict[str, Tensor]:
    """The tensors whose names start with ``prefix``, by their names without it (a part of a checkpoint
    saved as ``{prefix}{name}``)."""
    return {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}


def flatten_optimizer(state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """An optimizer state_dict -> (tensors by name, JSON-able rest); `unflatten_optimizer` inverts it."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, state in state_dict["state"].items():
        for key, value in state.items():
            if isinstance(value, Tensor):
                tensors[f"optim.{idx}.{key}"] = value
            else:
                scalars.setdefault(str(idx), {})[key] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, idx, key = name.split(".", 2)
            state.setdefault(int(idx), {})[key] = value
    for idx, values in rest["scalars"].items():
        state.setdefault(int(idx), {}).update(values)
    groups = [dict(g, betas=tuple(g["betas"])) if "betas" in g else g for g in rest["param_groups"]]
    return {"state": state, "param_groups": groups}
