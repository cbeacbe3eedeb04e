"""Config files of `lightup train`: ``--config run.yaml`` (YAML, TOML, or a run's config.json) and
``--print-config``, which writes the resolved config in a form ``--config`` reads back.

A file is data: YAML is read with ``yaml.safe_load`` (no tags that build objects), with its size, nesting
and aliases capped before it is parsed; a key that is not a field of `TrainConfig` is refused by name, with
the closest field suggested. What a parser would spend time or memory on without bound is refused before it
parses: a TOML dotted key of many parts (tomllib's cost grows with the square of their number), a YAML
number thousands of characters long (a base-60 ``1:2:3...`` costs quadratic time too); an integer longer
than any setting takes is refused after (one of 4300+ digits cannot even be printed).
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import re
import typing
from pathlib import Path
from typing import Any

from lightup.errors import LightupError
from lightup.jsonfile import MAX_DEPTH, loads
from lightup.training.commands import CommandConfig
from lightup.training.config import TrainConfig

MAX_BYTES = 1 << 20  # a config is a few kB; a bigger file was not meant as one
FORMATS = ("yaml", "toml")
MAX_INT_DIGITS = 100  # the widest integer setting is a seed (10 digits)
MAX_NUMBER_CHARS = 1000  # a YAML number written longer than this is refused before it is converted
LONG_INTEGER = (
    f"{{what}} holds an integer of more than {MAX_INT_DIGITS} digits; give each setting a value in its range"
)


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
        fields = loads(data, what, MAX_BYTES, unique_keys=True)
    elif suffix == ".toml":
        fields = _toml(text, what)
    else:
        fields = _yaml(text, what)
    _check_integers(fields, what)
    return fields


def _toml(text: str, what: str) -> Any:
    """``text`` by ``tomllib.loads``, after `_check_toml_keys`."""
    import tomllib

    _check_toml_keys(text, what)
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError) as err:  # TOMLDecodeError is a ValueError, as is a long int's
        _refuse_long_integer(err, what)
        raise LightupError(f"{what} is not valid TOML ({str(err).splitlines()[0]})") from None


# One part of a TOML key: bare, "basic" or 'literal'.
_PART = r"""[A-Za-z0-9_-]+|"(?:[^"\\\n]|\\.)*"|'[^'\n]*'"""
# Dotted keys and table headers; strings (multi-line ones before the one-line ones they start as) and
# comments are matched whole, so that no dot in them counts. A float (1.5e-3) reads as a key of two parts.
_TOML_TOKENS = re.compile(
    rf"(?P<key>(?:{_PART})(?:[ \t]*\.[ \t]*(?:{_PART}))+)"
    r'|"""(?:[^\\]|\\.)*?"""'
    r"|'''.*?'''"
    rf"|{_PART}|#[^\n]*",
    re.DOTALL,
)


def _check_toml_keys(text: str, what: str) -> None:
    """Refuse a dotted key or table header of more than `MAX_DEPTH` parts, in one linear scan of ``text``:
    tomllib spends time and memory quadratic in their number (20,000 parts: 1.8 GB and 6 s)."""
    for match in _TOML_TOKENS.finditer(text):
        key = match.group("key")
        # a dot in a quoted part only adds to the count of dots: parts are counted only past the cap
        if key is not None and key.count(".") >= MAX_DEPTH and len(re.findall(_PART, key)) > MAX_DEPTH:
            raise LightupError(
                f"{what} holds a key of more than the {MAX_DEPTH} dotted parts allowed ({key[:30]}...)"
            )


def _check_integers(fields: Any, what: str) -> None:
    """Refuse an integer of more than `MAX_INT_DIGITS` digits anywhere in ``fields``, walked without
    recursion: a YAML or TOML 0xFFF... of any length parses, and then fails where it is printed."""
    items, limit = [fields], 10**MAX_INT_DIGITS
    while items:
        item = items.pop()
        if isinstance(item, dict):
            items.extend(item.keys())  # YAML's keys may be numbers too
            items.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            items.extend(item)
        elif isinstance(item, int) and abs(item) >= limit:
            raise LightupError(LONG_INTEGER.format(what=what))


def _refuse_long_integer(err: ValueError, what: str) -> None:
    """A parser's ValueError for an integer of 4300+ digits (Python's cap on reading one) as the one-line
    error of any integer past `MAX_INT_DIGITS`; any other ValueError is left to the caller."""
    if "integer string conversion" in str(err):
        raise LightupError(LONG_INTEGER.format(what=what)) from None


def _yaml(text: str, what: str) -> Any:
    """``text`` by ``yaml.safe_load``, after a scan of its events that refuses aliases (a config needs none,
    and a few can expand into gigabytes), nesting past `MAX_DEPTH` and numbers past `MAX_NUMBER_CHARS`."""
    import yaml

    resolver = yaml.resolver.Resolver()  # SafeLoader's implicit tags (YAML 1.1)
    numbers = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
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
            elif isinstance(event, yaml.ScalarEvent) and len(event.value) > MAX_NUMBER_CHARS:
                tag = event.tag  # as the composer resolves it: an explicit !!int, else by the value's form
                if tag in (None, "!"):
                    tag = resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
                if tag in numbers:
                    raise LightupError(
                        f"{what} holds a number written in {len(event.value):,} characters; give each "
                        "setting a value in its range"
                    )
        _check_unique_keys(yaml.compose(text, Loader=yaml.SafeLoader), what)
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        reason = " ".join(str(err).split())
        raise LightupError(f"{what} is not valid YAML ({reason[:200]})") from None
    except ValueError as err:  # a value the constructor cannot build: 2020-13-45, an int of 4300+ digits
        _refuse_long_integer(err, what)
        raise LightupError(f"{what} holds a value YAML cannot read ({str(err).splitlines()[0]})") from None


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
