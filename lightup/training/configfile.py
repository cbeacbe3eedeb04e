"""Config files of `lightup train`: ``--config run.yaml`` (YAML, TOML, or a run's config.json) and
``--print-config``, which writes the resolved config in a form ``--config`` reads back.

A file is data: YAML is read with ``yaml.safe_load`` (no tags that build objects), with its size, nesting
and aliases capped before it is parsed; a key that is not a field of `TrainConfig` is refused by name, with
the closest field suggested.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import typing
from pathlib import Path
from typing import Any

from lightup.errors import LightupError
from lightup.jsonfile import MAX_DEPTH, loads
from lightup.training.commands import CommandConfig
from lightup.training.config import TrainConfig

MAX_BYTES = 1 << 20  # a config is a few kB; a bigger file was not meant as one
FORMATS = ("yaml", "toml")


def read_config_file(path: str | Path) -> TrainConfig:
    """The `TrainConfig` a YAML, TOML or JSON file holds (by its suffix; YAML for any other), checked
    field by field. Any fault is a one-line LightupError naming the file."""
    path = Path(path)
    where = f"{str(path)!r}: "
    fields = _parse(path)
    if not isinstance(fields, dict):
        raise LightupError(
            f"{where}a config file holds a mapping of field names to values, got {fields!r:.60}"
        )
    fields = {k: v for k, v in fields.items() if k != "command"} | {"command": fields.get("command", {})}
    if not isinstance(fields["command"], dict):
        raise LightupError(f"{where}command must be a mapping of its fields, got {fields['command']!r:.60}")
    _check_keys(fields, TrainConfig, "", where)
    _check_keys(fields["command"], CommandConfig, "command.", where)
    try:
        command = CommandConfig(**_typed(fields["command"], CommandConfig))
        config = TrainConfig(**(_typed(fields, TrainConfig) | {"command": command}))
    except (TypeError, ValueError) as err:
        raise LightupError(f"{where}{str(err).splitlines()[0]}") from None
    config.validate(where=where)
    if config.run_dir is not None and Path(config.run_dir).resolve() == path.parent.resolve():
        # a run's own config.json, read to run it again: the new run gets a folder of its own
        config = dataclasses.replace(config, run_dir=None)
    return config


def _parse(path: Path) -> Any:
    what = repr(str(path))
    if path.exists() and not path.is_file():  # a FIFO or a device would block or never end
        raise LightupError(f"--config {what} is not a regular file")
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise LightupError(
                f"--config {what} holds {size:,} bytes, more than the {MAX_BYTES:,} of a config"
            )
        data = path.read_bytes()
    except OSError as err:
        raise LightupError(f"cannot read --config {what} ({err.strerror or type(err).__name__})") from None
    text = data.decode("utf-8", errors="replace")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return loads(data, what, MAX_BYTES, unique_keys=True)
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError) as err:
            raise LightupError(f"{what} is not valid TOML ({str(err).splitlines()[0]})") from None
    return _yaml(text, what)


def _yaml(text: str, what: str) -> Any:
    """``text`` by ``yaml.safe_load``, after a scan of its events that refuses aliases (a config needs none,
    and a few can expand into gigabytes) and nesting past `MAX_DEPTH`."""
    import yaml

    try:
        level = 0
        for event in yaml.parse(text, Loader=yaml.SafeLoader):  # a stream of events, no recursion
            if isinstance(event, yaml.AliasEvent):
                raise LightupError(f"{what} uses a YAML alias (*name); write the value out")
            if isinstance(event, yaml.CollectionStartEvent):
                level += 1
                if level > MAX_DEPTH:
                    raise LightupError(f"{what} nests deeper than the {MAX_DEPTH} levels allowed")
            elif isinstance(event, yaml.CollectionEndEvent):
                level -= 1
        _check_unique_keys(yaml.compose(text, Loader=yaml.SafeLoader), what)
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        reason = " ".join(str(err).split())
        raise LightupError(f"{what} is not valid YAML ({reason[:200]})") from None


def _check_unique_keys(root: Any, what: str) -> None:
    """A key given twice in one mapping is refused, as a flag given twice is: YAML would keep the last
    without a word. ``root``: the file's node tree (nesting already capped), walked without recursion."""
    import yaml

    nodes = [root] if root is not None else []
    while nodes:
        node = nodes.pop()
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key, value in node.value:
                name = (key.tag, key.value) if isinstance(key, yaml.ScalarNode) else None
                if name in seen:
                    raise LightupError(f"{what} gives the key {key.value!r} twice; give it once")
                seen.add(name)
                nodes.append(value)
        elif isinstance(node, yaml.SequenceNode):
            nodes.extend(node.value)


def _check_keys(fields: dict, cls: type, prefix: str, where: str) -> None:
    names = [f.name for f in dataclasses.fields(cls)]
    for key in fields:
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {prefix}{close[0]}?" if close else "; the fields are those of --help"
            raise LightupError(f"{where}unknown key {prefix}{key!r}{hint}")


def _typed(fields: dict, cls: type) -> dict:
    """``fields`` with lists as tuples and numbers as floats where ``cls`` wants a float ("1e-3", which
    YAML reads as a string, too); anything else is left for `TrainConfig.validate` to judge."""
    hints = typing.get_type_hints(cls, include_extras=True)
    out = {}
    for key, value in fields.items():
        wants_float = float in typing.get_args(_plain(hints[key])) or _plain(hints[key]) is float
        if isinstance(value, list):
            value = tuple(value)
        elif wants_float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif wants_float and isinstance(value, str):
            with contextlib.suppress(ValueError):  # not a number: validate names the field
                value = float(value)
        out[key] = value
    return out


def _plain(hint: Any) -> Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint


def dump_config(config: TrainConfig, fmt: str = "yaml") -> str:
    """``config`` as a YAML or TOML file that `read_config_file` reads back to the same config."""
    fields = _plain_data(dataclasses.asdict(config))
    head = "# lightup train --config FILE reads this back; flags given beside it win.\n"
    if fmt == "toml":
        try:
            import tomli_w
        except ImportError:
            raise LightupError("--config-format toml needs tomli-w: pip install tomli-w") from None
        # TOML has no null: a field left out is None (its default)
        return head + "# A field left out is None.\n" + tomli_w.dumps(_without_none(fields))
    import yaml

    return head + yaml.safe_dump(fields, sort_keys=False, allow_unicode=True)


def _plain_data(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_data(v) for v in value]
    return value


def _without_none(fields: dict) -> dict:
    return {k: _without_none(v) if isinstance(v, dict) else v for k, v in fields.items() if v is not None}
