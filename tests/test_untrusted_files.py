"""Untrusted files: no loader runs code from a file it is handed.

Every place lightup reads a user-supplied file (a policy checkpoint, a run folder's checkpoint,
config.json and metrics.jsonl, a bench results folder) is handed hostile files in place of each file it
reads, through the command line where there is a command and through the Python API: a pickle whose
``__reduce__`` would create a marker file, a ``torch.save`` zip and a NumPy object array (pickles again)
under the checkpoint's name, a real safetensors file whose metadata carries pickle-style tags or names an
importable module, and JSON carrying ``py/object`` / ``__reduce__`` tags and import paths. The marker file
must never appear, and each loader either refuses in one line (exit code 2 from the command) or reads the
file as plain data. A static test then checks the package source for the calls that could run a file.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import pickle
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import lightup
from lightup import cli
from lightup.checkpoint import load_tensors
from lightup.errors import LightupError

# A module that creates the marker when imported: what an import path planted in a file would run.
EVIL = "lightup_untrusted_payload"
MARKER = "pwned"


class _Payload:
    """Unpickling this runs code: it creates the marker file."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def _json_payload() -> dict:
    """Tags that pickle-style JSON decoders (jsonpickle, yaml-ish loaders) turn into imports and calls."""
    return {
        "py/object": f"{EVIL}.Evil",
        "py/reduce": [{"py/function": f"{EVIL}.run"}, {"py/tuple": [MARKER]}],
        "__reduce__": [f"{EVIL}.run", [MARKER]],
        "__class__": f"{EVIL}.Evil",
        "!!python/object/apply:os.system": ["touch " + MARKER],
    }


# Hostile contents, by name: each takes (the real file it replaces, the marker path) and returns bytes.
def _pickle(real: Path, marker: Path) -> bytes:
    return pickle.dumps({"model": _Payload(marker)})


def _torch_zip(real: Path, marker: Path) -> bytes:
    tmp = real.with_name(real.name + ".pt")
    torch.save({"model": _Payload(marker)}, tmp)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _numpy_pickle(real: Path, marker: Path) -> bytes:
    tmp = real.with_name(real.name + ".npy")
    np.save(tmp, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _safetensors_with(real: Path, change: Callable[[dict], dict | list]) -> bytes:
    """A real safetensors file (the real one's tensors) whose lightup metadata is ``change(meta)``."""
    tensors, meta = load_tensors(real)
    tmp = real.with_name(real.name + ".tmp")
    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        str(tmp),
        metadata={"lightup": json.dumps(change(meta))},
    )
    data = tmp.read_bytes()
    tmp.unlink()
    return data


def _metadata_import_path(real: Path, marker: Path) -> bytes:
    """Metadata that names a module: the env id of a run (gymnasium would import "module:Env" ids), the
    model kind of a policy."""

    def change(meta: dict) -> dict:
        if "kind" in meta:
            return dict(meta, kind=f"{EVIL}:Evil")
        return dict(meta, config=dict(meta["config"], env_id=f"{EVIL}:Evil-v0"))

    return _safetensors_with(real, change)


def _metadata_pickle_tags(real: Path, marker: Path) -> bytes:
    def change(meta: dict) -> dict:
        out = {k: (dict(v, **_json_payload()) if isinstance(v, dict) else v) for k, v in meta.items()}
        return dict(out, **_json_payload())

    return _safetensors_with(real, change)


def _metadata_not_an_object(real: Path, marker: Path) -> bytes:
    return _safetensors_with(real, lambda meta: [_json_payload(), f"{EVIL}:Evil"])


def _json_tags(real: Path, marker: Path) -> bytes:
    """config.json / runs.jsonl: one object with the tags and import paths; metrics.jsonl: such records
    (with a step, as the logger writes) among lines that are not records at all."""
    if real.suffix == ".jsonl":
        records = [
            {"step": 1, **_json_payload(), "train/loss": _json_payload(), "alarm/x": _json_payload()},
            {"step": 2, "env_id": f"{EVIL}:Evil-v0", "eval/mean_reward": [f"{EVIL}.run"]},
        ]
        lines = [json.dumps(r) for r in records] + ['["__reduce__"]', '"py/object"', "7", '{"step": "x"}']
        return ("\n".join(lines) + "\n").encode()
    config = json.loads(real.read_text()) if real.exists() else {}
    return json.dumps(
        dict(config, **_json_payload(), env_id=f"{EVIL}:Evil-v0", policy=f"{EVIL}:make")
    ).encode()


BINARY = {"pickle": _pickle, "torch-zip": _torch_zip, "numpy-object-array": _numpy_pickle}
CHECKPOINT_PAYLOADS = {
    **BINARY,
    "metadata-import-path": _metadata_import_path,
    "metadata-pickle-tags": _metadata_pickle_tags,
    "metadata-not-an-object": _metadata_not_an_object,
}
TEXT_PAYLOADS = {"pickle": _pickle, "json-tags": _json_tags}
FILE_PAYLOADS = {
    "policy.safetensors": CHECKPOINT_PAYLOADS,
    "checkpoint.safetensors": CHECKPOINT_PAYLOADS,
    "config.json": TEXT_PAYLOADS,
    "metrics.jsonl": TEXT_PAYLOADS,
    "runs.jsonl": TEXT_PAYLOADS,
}


@dataclasses.dataclass(frozen=True)
class Loader:
    """One way in: ``call(run_dir, policy_file, tmp_dir)`` runs it (a command returns its exit code)."""

    name: str
    reads: tuple[str, ...]
    """The files it reads (where in ``run_dir`` the payloads go; policy.safetensors is ``policy_file``)."""
    call: Callable[[Path, Path, Path], int | None]
    command: bool
    handles_text: bool = True
    """Whether a hostile config.json / metrics.jsonl is read as data (True) or refused (False)."""


def _api_report(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.viz.report import ReportOptions, write_report

    write_report(run, options=ReportOptions(follow=False, episode=False), out=tmp / "report.html")


def _api_inspect(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.viz.inspector import inspect_run

    inspect_run(run, max_steps=3)


def _api_watch(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.viz.watch import watch

    watch(run, tmp / "episodes.gif", episodes=1, max_steps=3)


def _api_check_run(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.doctor.alarms import check_run

    check_run(run)


def _api_load_weights(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.models import load_policy, load_weights

    load_weights(load_policy(tmp / "good.safetensors"), policy)  # a model of the right kind and config


def _api_trainer_load(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.training.trainer import Trainer

    Trainer.load(run).close()


def _api_load_policy(run: Path, policy: Path, tmp: Path) -> None:
    from lightup.models import load_policy

    load_policy(policy)


def _api_agent_load_file(run: Path, policy: Path, tmp: Path) -> None:
    from lightup import Agent

    Agent.load(policy)


def _api_agent_load_run(run: Path, policy: Path, tmp: Path) -> None:
    from lightup import Agent

    (run / "policy.safetensors").unlink()  # a run folder without its agent file: read from the checkpoint
    Agent.load(run)


def _bench(run: Path, policy: Path, tmp: Path) -> int:
    # the bench's results folder is `run`: bench refuses one that holds results, and never reads them back
    argv = ["bench", "--envs", "lightup/PressButton-v0", "--agents", "dt-stacked", "--seeds", "1"]
    return cli.main([*argv, "--budget", "64", "--quiet", "--out", str(run)])


CKPT, CONFIG, METRICS = "checkpoint.safetensors", "config.json", "metrics.jsonl"
LOADERS = [
    Loader("load_policy", ("policy.safetensors",), _api_load_policy, command=False),
    Loader("load_weights", ("policy.safetensors",), _api_load_weights, command=False),
    Loader("Trainer.load", (CKPT,), _api_trainer_load, command=False),
    Loader("Agent.load", ("policy.safetensors",), _api_agent_load_file, command=False),
    Loader("Agent.load of a run", (CKPT,), _api_agent_load_run, command=False),
    Loader(
        "lightup train --resume",
        (CKPT, CONFIG, METRICS),
        lambda run, policy, tmp: cli.main(["train", "--resume", str(run)]),
        command=True,
    ),
    Loader("write_report", (CKPT, CONFIG, METRICS), _api_report, command=False),
    Loader(
        "lightup report",
        (CKPT, CONFIG, METRICS),
        lambda run, policy, tmp: cli.main(["report", str(run), "--no-follow", "--out", str(tmp / "r.html")]),
        command=True,
    ),
    Loader("inspect_run", (CKPT,), _api_inspect, command=False),
    Loader(
        "lightup inspect",
        (CKPT,),
        lambda run, policy, tmp: cli.main(["inspect", str(run), "--max-steps", "3"]),
        command=True,
    ),
    Loader("watch", (CKPT,), _api_watch, command=False),
    Loader(
        "lightup watch",
        (CKPT,),
        lambda run, policy, tmp: cli.main(
            ["watch", str(run), "--out", str(tmp / "w.gif"), "--max-steps", "3"]
        ),
        command=True,
    ),
    Loader("check_run", (CONFIG, METRICS), _api_check_run, command=False),
    Loader(
        "lightup doctor --run",
        (CONFIG, METRICS),
        lambda run, policy, tmp: cli.main(["doctor", "--run", str(run)]),
        command=True,
    ),
    Loader("lightup bench --out", ("runs.jsonl",), _bench, command=True, handles_text=False),
]
CASES = [
    pytest.param(loader, file, payload, id=f"{loader.name}|{file}|{payload}")
    for loader in LOADERS
    for file in loader.reads
    for payload in FILE_PAYLOADS[file]
]


@pytest.fixture(scope="module")
def base_run(tmp_path_factory) -> Path:
    """A real, tiny run folder (checkpoint, config.json, metrics.jsonl) and a policy file beside it."""
    from tiny import tiny_config

    from lightup.models import save_policy
    from lightup.training.trainer import Trainer

    root = tmp_path_factory.mktemp("untrusted")
    config = tiny_config(root / "run", context_len=4, total_steps=64, eval_every=64)
    trainer = Trainer(config).learn()
    save_policy(trainer.policy, root / "policy.safetensors")
    trainer.close()
    return root


@pytest.fixture
def planted(base_run, tmp_path, monkeypatch):
    """A fresh copy of the run and the policy (and of the policy as good.safetensors), the module that
    creates the marker importable: (run folder, policy file, marker path)."""
    run = tmp_path / "run"
    shutil.copytree(base_run / "run", run)
    policy = tmp_path / "policy.safetensors"
    shutil.copy(base_run / "policy.safetensors", policy)
    shutil.copy(base_run / "policy.safetensors", tmp_path / "good.safetensors")
    marker = tmp_path / MARKER
    site = tmp_path / "site"
    site.mkdir()
    (site / f"{EVIL}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\n\nclass Evil:\n    pass\n\n\ndef run(*args):\n    pass\n\n\n"
        "def make(*args):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, EVIL, raising=False)
    importlib.invalidate_caches()
    monkeypatch.chdir(tmp_path)  # payloads that name a relative MARKER would land here too
    return run, policy, marker


def test_the_payloads_are_live(planted):
    """The hostile files do run code when loaded the unsafe way, so the test below proves something."""
    run, policy, marker = planted
    real = run / CKPT
    unsafe = [
        lambda: pickle.loads(_pickle(real, marker)),
        lambda: torch.load(_write(real, _torch_zip(real, marker)), weights_only=False),
        lambda: np.load(_write(real, _numpy_pickle(real, marker)), allow_pickle=True),
        lambda: importlib.import_module(EVIL),
    ]
    for load in unsafe:
        marker.unlink(missing_ok=True)
        sys.modules.pop(EVIL, None)
        load()
        assert marker.exists()


def _write(real: Path, data: bytes) -> Path:
    path = real.with_name("live.bin")
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("loader, file, payload", CASES)
def test_no_loader_runs_a_hostile_file(planted, loader, file, payload, capsys):
    run, policy, marker = planted
    target = policy if file == "policy.safetensors" else run / file
    if file == "runs.jsonl":  # a bench results folder: the run folder stands in for it
        (run / file).write_text("")
    target.write_bytes(FILE_PAYLOADS[file][payload](target, marker))
    capsys.readouterr()

    error = None
    if loader.command:
        code = loader.call(run, policy, policy.parent)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        if code == 2:
            lines = err.splitlines()
            assert len(lines) == 1 and lines[0].startswith("error: "), err
            error = lines[0]
        else:
            assert code in (0, 1), (code, err)  # 1: `doctor --run` found alarms
            assert "warning:" not in err, err  # e.g. `train --resume` could not write its report
    else:
        try:
            loader.call(run, policy, policy.parent)
        except LightupError as err:
            error = str(err)
            assert "\n" not in error

    assert not marker.exists(), f"{loader.name} ran code from a hostile {file} ({payload})"
    refused = file.endswith(".safetensors") or not loader.handles_text
    if refused:
        assert error is not None, f"{loader.name} accepted a hostile {file} ({payload})"
        assert str(target.parent) in error or EVIL in error, error  # it names the file (or the import path)
    else:
        assert error is None, f"{loader.name} should read a hostile {file} as data, not fail: {error}"


# --- the static half: no call in the package source that could run a file -------------------------------

# Calls that unpickle, run code or import by a name; `torch.load` and `numpy.load` only with the safe flag.
FORBIDDEN = {
    *(f"{m}.{f}" for m in ("pickle", "_pickle", "cPickle", "dill", "cloudpickle") for f in ("load", "loads")),
    "pickle.Unpickler",
    "joblib.load",
    "marshal.load",
    "marshal.loads",
    "shelve.open",
    "pandas.read_pickle",
    "jsonpickle.decode",
    *(
        f"yaml.{f}"
        for f in ("load", "load_all", "unsafe_load", "unsafe_load_all", "full_load", "full_load_all")
    ),
    "torch.jit.load",
    "torch.package.PackageImporter",
    "eval",
    "exec",
    "compile",
    "builtins.eval",
    "builtins.exec",
    "__import__",
    "importlib.import_module",
    "importlib.__import__",
    "runpy.run_path",
    "runpy.run_module",
    "pydoc.locate",
    "gymnasium.envs.registration.load_env_creator",
}
SAFE_ONLY_WITH = {"torch.load": ("weights_only", True), "numpy.load": ("allow_pickle", False)}

# (file, enclosing function, call) -> why it cannot run anything from a file. Each must still be found.
ALLOWED = {
    # The module name comes from the fixed COMMANDS table (`lightup train` -> lightup.training.cli), and a
    # command name not in the table is refused first: never a name from a file or free user input.
    ("lightup/cli.py", "_attr", "importlib.import_module"),
    # By design: `lightup doctor --policy mypkg.models:make_policy` (and `lightup train --policy ...`)
    # imports the user's own module by the import path they typed on the command line (as `python -m`
    # would); never a name read from a file (a resumed run's factory must be typed again).
    ("lightup/models/factory.py", "load_factory", "importlib.import_module"),
    # The entry point of an env already in gymnasium's registry (make_env refuses an unregistered id, such
    # as a "module:Env" path from a checkpoint, before this), i.e. installed code, never a file's string.
    ("lightup/envs/__init__.py", "_option_names", "gymnasium.envs.registration.load_env_creator"),
    # The module of a "module:EnvId" id, as gymnasium.make imports it: typed by the user. An id read from a
    # file (a run's config or checkpoint, a bench's config.json) passes check_env_module_trusted first, which
    # refuses a module not already imported unless the user lists it in LIGHTUP_ENV_MODULES.
    ("lightup/envs/__init__.py", "make_env", "importlib.import_module"),
    # An installed package named by the fixed REGISTERING_PACKAGES table (minigrid for a MiniGrid id),
    # never a name from the id itself or from a file.
    ("lightup/envs/__init__.py", "import_registering_package", "importlib.import_module"),
}


def unsafe_calls(source: str, filename: str = "<string>") -> list[tuple[str, int, str]]:
    """(enclosing function, line, dotted call) for every forbidden call in ``source``, import aliases
    resolved (``import numpy as np`` makes ``np.load`` numpy.load; ``from pickle import loads`` too)."""
    tree = ast.parse(source, filename)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"

    def dotted(expr: ast.expr) -> str | None:
        if isinstance(expr, ast.Name):
            return aliases.get(expr.id, expr.id)
        if isinstance(expr, ast.Attribute):
            base = dotted(expr.value)
            return f"{base}.{expr.attr}" if base else None
        return None

    found = []

    def visit(node: ast.AST, function: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, child.name)
                continue
            if isinstance(child, ast.Call):
                name = dotted(child.func)
                if name in FORBIDDEN:
                    found.append((function, child.lineno, name))
                elif name in SAFE_ONLY_WITH:
                    flag, safe = SAFE_ONLY_WITH[name]
                    kw = {k.arg: k.value for k in child.keywords}
                    if not (isinstance(kw.get(flag), ast.Constant) and kw[flag].value is safe):
                        found.append((function, child.lineno, name))
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_the_static_check_finds_what_it_looks_for():
    bad = """
import pickle, yaml
import numpy as np
import torch as t
from pickle import loads as unpickle
from importlib import import_module

def f(path):
    pickle.load(open(path, "rb")); unpickle(b""); yaml.load(""); eval("1"); exec("1")
    t.load(path); t.load(path, weights_only=False); np.load(path); np.load(path, allow_pickle=True)
    import_module("x"); __import__("x")
"""
    names = [name for _, _, name in unsafe_calls(bad)]
    assert names == [
        "pickle.load",
        "pickle.loads",
        "yaml.load",
        "eval",
        "exec",
        "torch.load",
        "torch.load",
        "numpy.load",
        "numpy.load",
        "importlib.import_module",
        "__import__",
    ]
    good = """
import numpy as np, torch, yaml, json
def f(model, path):
    model.eval(); torch.load(path, weights_only=True); np.load(path, allow_pickle=False)
    yaml.safe_load(""); json.loads("{}"); re.compile("x")
"""
    assert unsafe_calls(good) == []


def test_the_package_has_no_call_that_could_run_a_file():
    package = Path(lightup.__file__).parent
    root = package.parent
    found, allowed_seen = [], set()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        for function, line, name in unsafe_calls(path.read_text(encoding="utf-8"), rel):
            if (rel, function, name) in ALLOWED:
                allowed_seen.add((rel, function, name))
            else:
                found.append(f"{rel}:{line} ({function}): {name}")
    assert not found, "calls that could run code from a file:\n" + "\n".join(found)
    assert allowed_seen == ALLOWED, f"stale ALLOWED entries: {sorted(ALLOWED - allowed_seen)}"
