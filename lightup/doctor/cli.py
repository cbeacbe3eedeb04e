"""`lightup doctor`: static checks and the ladder on our Decision Transformer or a user's policy, or the
training alarms of a finished run (`lightup doctor --run RUN_DIR`)."""

from __future__ import annotations

import dataclasses
import html
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lightup.args import MaybeStr, Strings, parse_config
from lightup.errors import LightupError
from lightup.outputs import check_file, check_folder, folder_kind, refuse_kind, starts_with
from lightup.ranges import check_config


@dataclass
class DoctorConfig:
    policy: MaybeStr = None
    """Your model as module:factory, factory(obs_dim, act_dim, discrete) (default: our DT, each --layout)."""
    layout: tuple[Literal["stacked", "interleaved"], ...] = ("stacked", "interleaved")
    """Layouts of our Decision Transformer to examine (ignored with --policy)."""
    rungs: Strings = ()
    """Ladder rungs to climb (default: all but the long ones, cartpole and lunarlander)."""
    full: bool = False
    """Climb every rung, the long ones too, and go on after a failure."""
    seeds: int = 3
    """Seeds per rung; a rung passes on all of them."""
    static_only: bool = False
    """Run the static checks only (seconds)."""
    lr: float = 1e-3
    """Learning rate of the overfitting checks and of every rung (the trainer's --lr)."""
    out: MaybeStr = None
    """Folder for doctor.json, doctor.html and the rung runs (default: write no files)."""
    force: bool = False
    """Replace doctor.json and doctor.html in --out even if the doctor did not write them."""
    run: MaybeStr = None
    """Summarise the training alarms of a run folder made by `lightup train` instead (default: none)."""
    env: Strings = ()
    """Extra rungs on Gymnasium ids with a reward threshold, climbed last."""
    env_budget: int = 100_000
    """Env steps per seed on each --env rung."""
    agent: Strings = ()
    """Peers on the env rungs: sb3:PPO, sb3:DQN (pip install 'lightup[bench]')."""
    frozen: Strings = ()
    """Parameters of --policy frozen on purpose, by name or prefix; others fail."""
    threads: int = 1
    """torch threads (1 is fastest for these small models, and fair to other jobs)."""


def parse(argv: list[str]) -> DoctorConfig:
    return check(parse_config(DoctorConfig, argv, "doctor"))


def check(config: DoctorConfig) -> DoctorConfig:
    """``config`` if its flags are sound, checked before the first check runs; else a LightupError."""
    check_config(config)  # every count, budget and rate in its range (lightup.ranges)
    if config.policy is None and not config.layout:
        raise LightupError("--layout needs at least one of stacked, interleaved (or give --policy)")
    from lightup.doctor.rungs import RUNG_NAMES

    unknown = [r for r in config.rungs if r not in RUNG_NAMES]
    if unknown:
        raise LightupError(f"unknown rung {unknown[0]!r}; rungs: {', '.join(RUNG_NAMES)}")
    from lightup.doctor.ladder_peers import PEERS

    bad = [a for a in config.agent if a not in PEERS]
    if bad:
        raise LightupError(f"unknown agent {bad[0]!r}; choose from: {', '.join(PEERS)}")
    if config.out is not None:  # checked before the first check runs
        check_folder(config.out, "--out")
        kind = folder_kind(config.out)
        if kind is not None:
            raise LightupError(
                f"--out {config.out!r} is a {kind} folder; the doctor writes doctor.json, doctor.html and "
                "its rung runs into a folder of its own: pick another --out"
            )
        # an earlier doctor's report there is rewritten; a file of the same name that is not one, never
        out = Path(config.out)
        check_file(out / "doctor.json", "--out", config.force, own=starts_with(b'{\n  "config": {'))
        check_file(out / "doctor.html", "--out", config.force, own=starts_with(DOCTOR_HTML.encode()))
    if config.run is not None:
        refuse_kind(config.run, "run", "--run")
        ignored = [flag for flag, given in _examine_flags(config) if given]
        if ignored:
            raise LightupError(
                f"--run reads a run's training alarms and examines no model: {ignored[0]} has no effect "
                "with it; drop one of them"
            )
    if config.frozen and config.policy is None:
        raise LightupError("--frozen names parameters of your model: give it with --policy module:factory")
    from lightup.doctor.ladder import env_rung

    for env_id in config.env:  # fail now, not after the static checks
        env_rung(env_id, config.env_budget)
    return config


def _examine_flags(config: DoctorConfig) -> list[tuple[str, bool]]:
    """The flags of examining a model, and whether each was given (differs from its default)."""
    default = DoctorConfig()
    names = ("policy", "rungs", "full", "static_only", "out", "env", "agent", "frozen")
    return [("--" + n.replace("_", "-"), getattr(config, n) != getattr(default, n)) for n in names]


def subjects(config: DoctorConfig) -> list:
    from lightup.doctor.checks import Subject
    from lightup.doctor.subjects import DTFactory, check_factory, load_factory

    overrides = {"lr": config.lr}
    if config.policy is not None:
        factory = load_factory(config.policy)
        check_factory(factory, config.policy)
        name = config.policy.replace(":", ".")
        return [Subject(factory, name=name, lr=config.lr, train_overrides=overrides, frozen=config.frozen)]
    out = []
    for layout in config.layout:
        kw = dict(lr=config.lr, train_overrides=overrides, frozen=config.frozen)
        out.append(Subject(DTFactory(layout), name=f"dt-{layout}", **kw))
        # The ladder's size has one layer: a bug between layers (a cache's mask within a step, say) needs two.
        deeper = DTFactory(layout, n_layer=2)
        out.append(Subject(deeper, name=f"dt-{layout}-2-layers", ladder=False, **kw))
    return out


def main(argv: list[str]) -> int:
    return run(parse_config(DoctorConfig, argv, "doctor"))


def run(config: DoctorConfig) -> int:
    """`lightup doctor`: 1 when a check or a rung failed (or a run raised an alarm), else 0; an inconclusive
    check is reported and does not fail it."""
    config = check(config)
    if config.run is not None:
        return report_run(config.run)

    import torch

    from lightup.doctor.checks import run_static
    from lightup.doctor.ladder import climb, select

    torch.set_num_threads(config.threads)
    report: dict = {"config": dataclasses.asdict(config), "subjects": []}
    out = Path(config.out) if config.out else None
    ok = True
    for subject in subjects(config):
        t0 = time.perf_counter()
        static = run_static(subject)
        entry: dict = {"name": subject.name, "static": [r.to_dict() for r in static], "ladder": []}
        _print_table(f"{subject.name}: static checks", _static_rows(static))
        # A failed check fails the doctor; an inconclusive one (its value between those of healthy and
        # broken models) does not: it names the rung that settles it, which the ladder climbs.
        failed = [r.name for r in static if r.verdict == "fail"]
        unsure = [r.name for r in static if r.verdict == "inconclusive"]
        ok &= not failed
        if unsure:
            print(f"inconclusive, not failed: {', '.join(unsure)} (each names the rung that settles it)")
        if not config.static_only and subject.ladder:
            if failed:
                print("some static checks failed: the ladder climbs anyway, but fix those first")
            runs_dir = out / "runs" / f"{subject.name}__{int(time.time())}" if out else None
            rungs = select(tuple(config.rungs), config.full, config.env, config.env_budget)
            results = climb(subject, rungs, config.seeds, config.full, runs_dir, on_result=_progress)
            entry["ladder"] = [r.to_dict() for r in results]
            _print_table(f"{subject.name}: the ladder", _ladder_rows(results))
            ok &= all(r.status != "fail" for r in results)
        entry["seconds"] = time.perf_counter() - t0
        report["subjects"].append(entry)
    if not config.static_only:
        from lightup.doctor.ladder_peers import climb_peer

        for agent in config.agent:  # shown beside ours; a peer failing a rung does not fail the doctor
            t0 = time.perf_counter()
            rungs = select(tuple(config.rungs), config.full, config.env, config.env_budget)
            results = climb_peer(agent, rungs, config.seeds, on_result=_progress)
            _print_table(f"{agent} (peer): the ladder", _ladder_rows(results))
            report["peers"] = report.get("peers", []) + [
                {"name": agent, "ladder": [r.to_dict() for r in results], "seconds": time.perf_counter() - t0}
            ]
    report["passed"] = ok
    if out is not None:
        write_report(report, out)
        print(f"wrote {out / 'doctor.json'} and {out / 'doctor.html'}")
    return 0 if ok else 1


# --- output ---


def _progress(result) -> None:
    seeds = f"{result.seeds_passed}/{result.seeds_run} seeds" if result.status != "limit" else "1 seed"
    print(f"  {result.name}: {result.status} ({seeds}, {result.seconds:.1f}s)", flush=True)


def _static_rows(results) -> list[tuple[str, str, str, str, str]]:
    shown = {"pass": "pass", "fail": "FAIL", "inconclusive": "inconclusive", "skipped": "skipped"}
    rows = []
    for r in results:
        verdict = getattr(r, "verdict", "pass" if r.passed else "fail")
        margin = getattr(r, "margin", None)
        rows.append(
            (
                r.name,
                shown[verdict],
                "" if margin is None else f"{margin:.3g}x",
                f"{r.seconds:.1f}s",
                r.detail,
            )
        )
    return rows


def _ladder_rows(results) -> list[tuple[str, str, str, str, str]]:
    rows = []
    for r in results:
        seeds = f"{r.seeds_passed}/{r.seeds_run}" if r.seeds_run else ""
        status = {"fail": "FAIL", "limit": "known limit"}.get(r.status, r.status)
        text = r.diagnosis or r.detail
        if r.status in ("fail", "limit"):
            text = f"{r.detail}. {r.diagnosis}"
        if r.status == "limit":
            seeds = ""  # a known limit has no pass criterion
        rows.append((r.name, status, seeds, f"{r.seconds:.1f}s", text))
    return rows


HEADERS = ("rung / check", "result", "seeds passed / margin", "time", "diagnosis")


def _print_table(title: str, rows: list[tuple[str, str, str, str, str]], headers=HEADERS) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for name in headers:
        table.add_column(name, overflow="fold", no_wrap=name in ("result", "time"))
    style = {
        "pass": "green",
        "FAIL": "bold red",
        "known limit": "yellow",
        "inconclusive": "yellow",
        "ALARM": "bold red",
    }
    for row in rows:
        table.add_row(
            row[0], f"[{style.get(row[1], '')}]{row[1]}[/]" if row[1] in style else row[1], *row[2:]
        )
    Console().print(table)


def write_report(report: dict, out: Path) -> None:
    from lightup.checkpoint import atomic_write

    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, default=str)
    atomic_write(out / "doctor.json", lambda tmp: Path(tmp).write_text(text))
    page = to_html(report)
    atomic_write(out / "doctor.html", lambda tmp: Path(tmp).write_text(page))


DOCTOR_HTML = "<!doctype html><html><head><meta charset='utf-8'><title>lightup doctor</title>"


def to_html(report: dict) -> str:
    """A plain page: one table per subject for the static checks and one for the ladder."""
    esc = html.escape
    parts = [
        DOCTOR_HTML,
        "<style>body{font-family:sans-serif}td,th{border:1px solid #ccc;padding:4px;vertical-align:top}"
        "table{border-collapse:collapse;margin-bottom:1em}.fail{color:#b00;font-weight:bold}"
        ".pass{color:#070}</style></head><body><h1>lightup doctor</h1>",
        f"<p>overall: {'pass' if report.get('passed') else 'FAIL'}</p>",
    ]
    head = (
        "<tr><th>rung / check</th><th>result</th><th>seeds passed / margin</th><th>time</th>"
        "<th>diagnosis</th></tr>"
    )
    for subject in report["subjects"]:
        parts.append(f"<h2>{esc(subject['name'])}</h2>")
        for title, rows in (
            ("static checks", _static_rows([_obj(r) for r in subject["static"]])),
            ("the ladder", _ladder_rows([_obj(r) for r in subject["ladder"]])),
        ):
            if not rows:
                continue
            parts.append(f"<h3>{title}</h3><table>{head}")
            for row in rows:
                cls = "fail" if row[1] == "FAIL" else "pass" if row[1] == "pass" else ""
                cells = "".join(f"<td>{esc(c)}</td>" for c in row)
                parts.append(f"<tr class='{cls}'>{cells}</tr>")
            parts.append("</table>")
    for peer in report.get("peers", []):
        parts.append(f"<h2>{esc(peer['name'])} (peer)</h2><h3>the ladder</h3><table>{head}")
        for row in _ladder_rows([_obj(r) for r in peer["ladder"]]):
            cells = "".join(f"<td>{esc(c)}</td>" for c in row)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _obj(d: dict):
    return type("Row", (), d)


def report_run(run_dir: str) -> int:
    from lightup.doctor.alarms import check_run

    report = check_run(run_dir)
    rows = [
        (a.name, "ALARM", "", f"step {a.step}", f"{a.message}. {a.meaning}. Look at: {a.where}")
        for a in report.alarms
    ]
    if not rows:
        rows = [("all alarms", "quiet", "", "", f"{report.records} records, nothing alarming")]
    _print_table(f"alarms of {run_dir}", rows, ("alarm", "result", "", "at", "what it usually means"))
    if report.skipped:
        print("not checked: " + "; ".join(report.skipped), file=sys.stdout)
    return 1 if report.alarms else 0
