"""Mutation testing of the doctor: does `lightup doctor --static-only` catch automatically generated bugs?

Mutants of lightup/models/decision_transformer.py and lightup/training/returns.py come from their syntax
trees, one change each, inside function bodies (not in config validation or error messages): operator swaps
(+ -, * /, // *, < <=, == !=, and or), off-by-one integers (indices, slices, sizes), dropped terms (a + b
-> a or b), swapped arguments (the first two of a call), inserted ``.detach()`` on a call's result, removed
negations, flipped booleans. Each mutant runs in its own forked process, which drops the lightup modules it
inherited and loads the mutated module from a temporary copy by an import hook (the real file is never
written):

1. equivalence: the mutant's outputs on fixed random inputs (forward padded and not, past K, rollouts with
   staggered resets, gradients, both layouts, discrete and continuous; every function of returns.py) are
   compared with the original's; identical ones (within 1e-6) are equivalent and excluded;
2. the static checks on the subjects `lightup doctor --static-only` examines (our Decision Transformer in
   both layouts, at one layer and at two), stopping at the first failure: a failing check (or a crash the
   doctor reports) kills the mutant.

Usage: python benchmarks/mutation.py [--sample 120] [--seed 0] [--out benchmarks/results/mutation.md]
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS = {
    "lightup.models.decision_transformer": ROOT / "lightup/models/decision_transformer.py",
    "lightup.training.returns": ROOT / "lightup/training/returns.py",
}
SKIP_FUNCTIONS = {"__post_init__", "to_dict"}  # config validation and serialisation: not the model
BINOPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
    ast.Pow: ast.Mult,
}
COMPARES = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass
class Mutant:
    module: str
    line: int
    kind: str
    change: str
    source: str
    continuous: bool = False
    """The change sits in a continuous-action branch (the ``else`` of ``if self.discrete``)."""


# Why a survivor survives, by the original line it changes: written after reading each survivor of a run.
# A survivor no entry covers is reported as "not explained yet".
REASONS = (
    (
        'if name.endswith("c_proj.weight") or name.endswith("mlp.2.weight")',
        "the init scale of the residual projections: a healthy model at another init, which the checks "
        "rightly pass (no contract is broken)",
    ),
    (
        "self.embed_action = nn.Embedding(config.act_dim + 1, d)",
        "one more action embedding row than the start token needs: never indexed, so harmless",
    ),
    (
        "math.sqrt(2 * config.n_layer)",
        "the init scale of the residual projections: a healthy model at another init, which the checks "
        "rightly pass (no contract is broken)",
    ),
    (
        "return r + s + a + time",
        "the sign or presence of one embedding's term in the stacked sum: a learned linear embedding of "
        "either sign is the same model family, which the checks rightly pass",
    ),
    (
        "torch.stack([a + time, r + time, s + time]",
        "the timestep dropped from (or subtracted in) one interleaved token: it still reaches every step "
        "through the other "
        "tokens, so the contract holds (a design variant the paper does not use, not a broken model)",
    ),
)
CONTINUOUS = (
    "continuous-action branch, seen only by `continuous_actions` on the factory's continuous twin, "
    "which does not fail this change"
)


def _continuous_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes in the ``else`` of an ``if self.discrete``."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "self.discrete":
            for stmt in node.orelse:
                out |= {id(n) for n in ast.walk(stmt)}
    return out


def why(mutant: Mutant, report: dict) -> str:
    if mutant.continuous:
        return CONTINUOUS
    line = TARGETS[mutant.module].read_text().splitlines()[mutant.line - 1]
    for text, reason in REASONS:
        if text in line:
            return reason
    if report.get("crash"):
        return f"a crash the checks did not meet: {report['crash']}"
    return "not explained yet"


def _parents(tree: ast.AST) -> dict[int, tuple[ast.AST, str, int | None]]:
    out = {}
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if isinstance(value, list):
                for j, item in enumerate(value):
                    if isinstance(item, ast.AST):
                        out[id(item)] = (parent, name, j)
            elif isinstance(value, ast.AST):
                out[id(value)] = (parent, name, None)
    return out


def _sites(tree: ast.AST) -> list[ast.AST]:
    """Nodes inside mutable function bodies, in a fixed order, skipping asserts, raises and annotations."""
    found: list[ast.AST] = []

    def visit(node: ast.AST, inside: bool) -> None:
        if isinstance(node, ast.FunctionDef):
            if node.name in SKIP_FUNCTIONS:
                return
            for stmt in node.body:
                visit(stmt, True)
            return
        if isinstance(node, ast.Assert | ast.Raise) or (isinstance(node, ast.AnnAssign) and not inside):
            return
        if inside:
            found.append(node)
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns", "decorator_list"):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    visit(child, inside)

    visit(tree, False)
    return found


def _options(node: ast.AST) -> list[tuple[str, str]]:
    """(kind, option) pairs of the mutations this node admits."""
    out = []
    if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
        out.append(("operator swap", "binop"))
        if isinstance(node.op, ast.Add | ast.Sub | ast.Mult):
            out += [("dropped term", "left"), ("dropped term", "right")]
    if isinstance(node, ast.Compare) and type(node.ops[0]) in COMPARES:
        out.append(("operator swap", "compare"))
    if isinstance(node, ast.BoolOp):
        out.append(("operator swap", "boolop"))
    if isinstance(node, ast.Constant) and type(node.value) is int:
        out += [("off by one", "+1"), ("off by one", "-1")]
    if isinstance(node, ast.Constant) and type(node.value) is bool:
        out.append(("flipped boolean", "not"))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.Not):
        out.append(("removed negation", "operand"))
    if (
        isinstance(node, ast.Call)
        and len(node.args) >= 2
        and not any(isinstance(a, ast.Starred) for a in node.args[:2])
    ):
        out.append(("swapped arguments", "swap"))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute | ast.Name):
        name = ast.unparse(node.func)
        if name.startswith(("self.", "F.", "torch.", "block")) and not name.startswith("torch.arange"):
            out.append(("inserted detach", "detach"))
    return out


def _apply(node: ast.AST, option: str) -> ast.AST:
    """The replacement of ``node`` (mutated in place where that is enough)."""
    if option == "binop":
        node.op = BINOPS[type(node.op)]()
    elif option == "compare":
        node.ops[0] = COMPARES[type(node.ops[0])]()
    elif option == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif option in ("+1", "-1"):
        node.value = node.value + int(option)
    elif option == "not":
        node.value = not node.value
    elif option == "left":
        return node.left
    elif option == "right":
        return node.right
    elif option == "operand":
        return node.operand
    elif option == "swap":
        node.args[0], node.args[1] = node.args[1], node.args[0]
    elif option == "detach":
        return ast.Call(ast.Attribute(node, "detach", ast.Load()), [], [])
    return node


def generate(module: str, path: Path) -> list[Mutant]:
    text = path.read_text()
    tree = ast.parse(text)
    mutants = []
    for index, node in enumerate(_sites(tree)):
        for kind, option in _options(node):
            fresh = ast.parse(text)
            target = _sites(fresh)[index]
            continuous = id(target) in _continuous_nodes(fresh)
            before = ast.unparse(target)
            parents = _parents(fresh)
            new = _apply(copy.deepcopy(target) if option in ("left", "right", "operand") else target, option)
            if new is not target:
                parent, field, j = parents[id(target)]
                if j is None:
                    setattr(parent, field, new)
                else:
                    getattr(parent, field)[j] = new
            try:
                source = ast.unparse(ast.fix_missing_locations(fresh))
                compile(source, str(path), "exec")
            except (SyntaxError, ValueError):
                continue
            after = ast.unparse(new)
            change = f"{before} -> {after}"[:140]
            mutants.append(Mutant(module, target.lineno, kind, change, source, continuous))
    return mutants


# --- the worker: one mutant, in its own process ---


def _install(module: str, path: str) -> None:
    """Load ``module`` from ``path`` whenever it is imported (before anything imports the real one)."""
    import importlib.abc
    import importlib.util

    class Finder(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, target_path=None, target=None):
            return importlib.util.spec_from_file_location(fullname, path) if fullname == module else None

    sys.meta_path.insert(0, Finder())


def fingerprint(module: str) -> list:
    """Outputs of the target module on fixed random inputs: what an equivalent mutant reproduces."""
    import numpy as np
    import torch

    out: list = []
    if module.endswith("returns"):
        from lightup.training import returns as R

        rng = np.random.default_rng(0)
        rewards = rng.normal(size=7)
        for gamma in (1.0, 0.9):
            out.append(R.returns_to_go(rewards, gamma))
            out.append(R.commanded_returns_to_go(rewards, 5.0, gamma))
            out.append(np.asarray(R.next_return_to_go(rewards, rewards[::-1].copy(), gamma)))
            ts = np.arange(7)[None, :].repeat(2, 0)
            out.append(
                R.at_commands(
                    rewards[None].repeat(2, 0), ts, np.array([1.0, 2.0]), np.array([3.0, -1.0]), gamma
                )
            )
        lengths, starts = np.array([3, 4]), np.array([0, 3])
        out.append(
            R.lambda_returns(rewards, rng.normal(size=7), starts, lengths, np.array([0.0, 1.5]), 0.9, 0.8)
        )
        return [np.asarray(x, dtype=np.float64) for x in out]
    from lightup.doctor.check_base import inputs, random_batch
    from lightup.models import DecisionTransformer, DTConfig

    for layout, discrete in (("stacked", True), ("interleaved", True), ("interleaved", False)):
        torch.manual_seed(0)
        cfg = DTConfig(3, 4, discrete, context_len=4, n_layer=2, n_head=2, n_embd=16, layout=layout)
        model = DecisionTransformer(cfg)
        for t, pad in ((4, False), (4, True), (7, True)):
            batch = inputs(random_batch(model, 4, t, seed=t + pad, pad=pad))
            if not discrete:
                start = batch["timesteps"] == 0
                batch["prev_actions"] = torch.randn(4, t, 4, generator=torch.Generator().manual_seed(1))
                batch["prev_actions"][start] = 0.0
            real = batch["mask"][..., None]  # outputs at padded steps are never read (the contract)
            model.eval()
            with torch.no_grad():
                out.append((model(**batch) * real).numpy().copy())
            model.train()
            model.zero_grad()
            params = model(**batch) * real
            (params * torch.linspace(-1, 1, params.numel()).view_as(params)).sum().backward()
            out += [p.grad.numpy().copy() for p in model.parameters() if p.grad is not None]
        model.eval()
        with torch.no_grad():
            model.begin(2)
            g = torch.Generator().manual_seed(5)
            for j in range(9):
                if j in (3, 6):
                    model.reset(torch.tensor([j == 3, j == 6]))
                ts = torch.tensor([j if j < 3 else j - 3, j if j < 6 else j - 6])
                prev = torch.randint(0, 4, (2,), generator=g) if discrete else torch.randn(2, 4, generator=g)
                if discrete:
                    prev = torch.where(ts == 0, 4, prev)
                rtg, states = torch.randn(2, generator=g), torch.randn(2, 3, generator=g)
                out.append(model.push(rtg, states, prev, ts).numpy().copy())
    return out


def worker(module: str, path: str, baseline: str, result: str) -> None:
    _install(module, path)
    import numpy as np
    import torch

    torch.set_num_threads(1)
    report: dict = {"equivalent": False, "killed_by": None, "crash": None}
    try:
        prints = fingerprint(module)
    except Exception as err:
        prints, report["crash"] = (
            None,
            f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
        )
    if baseline == "-":
        import pickle

        Path(result).with_suffix(".pkl").write_bytes(pickle.dumps(prints))
    elif prints is not None:
        import pickle

        base = pickle.loads(Path(baseline).read_bytes())  # our own file, written by the baseline run
        same = len(base) == len(prints) and all(
            a.shape == b.shape and np.allclose(a, b, rtol=1e-6, atol=1e-7, equal_nan=True)
            for a, b in zip(base, prints, strict=True)
        )
        report["equivalent"] = bool(same)
    if not report["equivalent"] and baseline != "-":
        from lightup.doctor.checks import STATIC_CHECKS
        from lightup.doctor.cli import DoctorConfig, subjects

        for subject in subjects(DoctorConfig()):  # what `lightup doctor --static-only` examines
            for check in STATIC_CHECKS:
                r = check(subject)
                if not r.passed:
                    report["killed_by"] = f"{r.name} ({subject.name}): {r.detail[:160]}"
                    break
            if report["killed_by"]:
                break
    Path(result).write_text(json.dumps(report))


def _child(module: str, path: str, baseline: str, result: str) -> None:
    """In a forked process: forget every lightup module the parent imported (third-party ones such as torch
    stay loaded, which makes a mutant cheap), then run the worker on the mutated copy."""
    for name in [n for n in sys.modules if n == "lightup" or n.startswith("lightup.")]:
        del sys.modules[name]
    worker(module, path, baseline, result)


def run_one(mutant: Mutant | None, module: str, tmp: Path, baseline: str, timeout: int = 300) -> dict:
    src = tmp / "mutant.py"
    src.write_text(mutant.source if mutant else TARGETS[module].read_text())
    result = tmp / "result.json"
    result.unlink(missing_ok=True)
    t0 = time.perf_counter()
    proc = multiprocessing.get_context("fork").Process(
        target=_child, args=(module, str(src), baseline, str(result))
    )
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        return {"equivalent": False, "killed_by": None, "crash": "timed out", "seconds": timeout}
    if proc.exitcode != 0 or not result.exists():
        return {
            "equivalent": False,
            "killed_by": None,
            "crash": f"worker exit {proc.exitcode}",
            "seconds": 0.0,
        }
    report = json.loads(result.read_text())
    report["seconds"] = time.perf_counter() - t0
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=120, help="mutants to run (a seeded sample of all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/mutation.md"))
    args = parser.parse_args()
    import torch

    import lightup.doctor.checks  # noqa: F401  (its third-party imports stay loaded in every fork)

    torch.set_num_threads(1)
    everything = [m for module, path in TARGETS.items() for m in generate(module, path)]
    chosen = sorted(
        random.Random(args.seed).sample(everything, min(args.sample, len(everything))),
        key=lambda m: (m.module, m.line),
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = {}
        for module in TARGETS:
            folder = Path(tmp) / module
            folder.mkdir()
            report = run_one(None, module, folder, "-")
            assert report["crash"] is None, f"the unmutated {module} failed its fingerprint: {report}"
            base[module] = str((folder / "result.json").with_suffix(".pkl"))
            report = run_one(None, module, folder, base[module])
            assert report["equivalent"], f"the unmutated {module} is not equivalent to itself: {report}"
        from lightup.doctor.checks import run_static
        from lightup.doctor.cli import DoctorConfig, subjects

        unmutated = [r for s in subjects(DoctorConfig()) for r in run_static(s)]
        assert all(r.passed for r in unmutated), "the unmutated modules fail a static check: fix that first"
        t0 = time.perf_counter()
        for i, mutant in enumerate(chosen):
            report = run_one(mutant, mutant.module, Path(tmp) / mutant.module, base[mutant.module])
            rows.append((mutant, report))
            state = "equivalent" if report["equivalent"] else "killed" if report["killed_by"] else "SURVIVED"
            print(
                f"[{i + 1}/{len(chosen)}] {state:10s} {mutant.module}:{mutant.line} {mutant.change}",
                flush=True,
            )
    write(args, everything, rows, time.perf_counter() - t0)


def ladder_line(live: list, survivors: list) -> str:
    """The kill rate of the static checks plus the ladder (benchmarks/mutation_ladder.py), if it ran."""
    climbed = [r for _, r in survivors if "ladder_killed_by" in r]
    if not climbed:
        return "- static checks plus the ladder: not measured"
    by_ladder = sum(bool(r["ladder_killed_by"]) for r in climbed)
    killed = len(live) - len(survivors) + by_ladder
    seeds = climbed[0].get("seeds", 3)
    return (
        f"- **static checks plus the ladder: {killed} of {len(live)} killed "
        f"({killed / max(len(live), 1):.1%})**"
        f"; the default ladder (`benchmarks/mutation_ladder.py --seeds {seeds}`: {seeds} seed(s) a rung "
        "where the rung sets no seed count of its own, our DT in both layouts; every result in "
        "mutation_ladder.jsonl) "
        f"climbed by {len(climbed)} of the {len(survivors)} static survivors killed {by_ladder}"
        + (
            " (each survivor climbed every rung on both layouts and passed: they are models of the healthy "
            "family, as their reasons below say, and a pass is the right verdict for them)"
            if by_ladder == 0 and len(climbed) == len(survivors)
            else ""
        )
    )


def write(args, everything: list[Mutant], rows: list, seconds: float) -> None:
    equivalent = [(m, r) for m, r in rows if r["equivalent"]]
    live = [(m, r) for m, r in rows if not r["equivalent"]]
    killed = [(m, r) for m, r in live if r["killed_by"]]
    survivors = [(m, r) for m, r in live if not r["killed_by"]]
    rate = len(killed) / max(len(live), 1)
    in_scope = [(m, r) for m, r in live if not m.continuous]
    scope_killed = sum(bool(r["killed_by"]) for _, r in in_scope)
    kinds: dict[str, list[int]] = {}
    for m, r in live:
        kinds.setdefault(m.kind, [0, 0])
        kinds[m.kind][0] += 1
        kinds[m.kind][1] += bool(r["killed_by"])
    per_module = {}
    for module in TARGETS:
        n = sum(1 for m in everything if m.module == module)
        mine = [(m, r) for m, r in live if m.module == module]
        per_module[module] = (n, len(mine), sum(bool(r["killed_by"]) for _, r in mine))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT)
    lines = [
        "# Mutation testing of the doctor: the static checks, then the ladder on their survivors",
        "",
        "Command: `nice -n 10 .venv/bin/python benchmarks/mutation.py "
        f"--sample {args.sample} --seed {args.seed}` at commit "
        f"{getattr(args, 'static_commit', None) or commit.stdout.strip() or '?'} "
        f"({seconds / 60:.1f} min for the mutants on a shared 2-core CPU). Generated by the script, the "
        "survivors' reasons from its REASONS table.",
        "",
        f"- mutants generated: {len(everything)} "
        f"({', '.join(f'{k.rsplit(chr(46), 1)[1]}.py {v[0]}' for k, v in per_module.items())})",
        f"- sampled and run: {len(rows)} (seed {args.seed})",
        "- equivalent (identical outputs, gradients and rollouts on fixed random inputs), excluded: "
        f"{len(equivalent)}",
        f"- non-equivalent: {len(live)}; killed by the static checks: {len(killed)}; "
        f"survived: {len(survivors)}",
        f"- **kill rate of the static checks: {rate:.1%}** (target 95%)",
        "- of the non-equivalent mutants outside the continuous-action branch (which only one check, on "
        f"a factory's continuous twin, examines): {len(in_scope)}, killed {scope_killed} "
        f"({scope_killed / max(len(in_scope), 1):.1%})",
        ladder_line(live, survivors),
        "",
        "| module | generated | non-equivalent run | killed |",
        "|---|---|---|---|",
        *[f"| {k} | {n} | {live_n} | {k_n} |" for k, (n, live_n, k_n) in per_module.items()],
        "",
        "| mutation kind | non-equivalent | killed |",
        "|---|---|---|",
        *[f"| {k} | {n} | {kk} |" for k, (n, kk) in sorted(kinds.items())],
        "",
        "## Survivors",
        "",
        "| module:line | kind | change | why it survives the static checks | the ladder |",
        "|---|---|---|---|---|",
    ]
    for m, r in survivors:
        change = m.change.replace("|", "\\|")
        note = why(m, r)
        climbed = "not run"
        if "ladder_killed_by" in r:
            climbed = f"killed: {r['ladder_killed_by']}" if r["ladder_killed_by"] else "passed every rung"
        climbed = climbed.replace("|", "\\|")
        lines.append(
            f"| {m.module.rsplit('.', 1)[1]}:{m.line} | {m.kind} | `{change}` | {note} | {climbed} |"
        )
    lines += [
        "",
        "## Killed (first failing check)",
        "",
        "| module:line | change | killed by |",
        "|---|---|---|",
    ]
    for m, r in killed:
        change = m.change.replace("|", "\\|")
        by = r["killed_by"].split(":")[0]
        lines.append(f"| {m.module.rsplit('.', 1)[1]}:{m.line} | `{change}` | {by} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    raw = Path(args.out).with_suffix(".jsonl")
    raw.write_text(
        "".join(
            json.dumps({"module": m.module, "line": m.line, "kind": m.kind, "change": m.change, **r}) + "\n"
            for m, r in rows
        )
    )
    print(f"kill rate {rate:.1%} of {len(live)} non-equivalent mutants; wrote {args.out}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
