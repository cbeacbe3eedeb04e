"""`lightup bench`: agents x envs x seeds, run locally or on Ray, written to a results folder.

lightup bench --envs CartPole-v1 lightup/PressButton-v0 --agents dt-stacked sb3-ppo --seeds 10
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from datetime import date
from pathlib import Path

from lightup.args import parse_config
from lightup.bench.config import BenchConfig, split_env
from lightup.bench.execute import run_local, run_ray
from lightup.bench.report import NOTES, write_report
from lightup.bench.runs import Job, random_return
from lightup.bench.stats import task_name, task_of
from lightup.bench.stopping import interrupted_line, sigterm_stops
from lightup.bench.suites import SUITES
from lightup.bench.validate import check_outputs, check_row, check_types, read_summary
from lightup.checkpoint import atomic_write
from lightup.errors import EnvRaised, LightupError, error_line
from lightup.jsonfile import JsonSyntaxError, line_record, read_json, read_lines
from lightup.outputs import check_folder, folder_kind, mark, refuse_kind


def run_bench(config: BenchConfig, command: str | None = None) -> Path:
    """Run every job (with ``resume``, every job the folder lacks), streaming rows to runs.jsonl, then write
    the summary and statistics (with ``resume``, the summary's notes from `NOTES` on are kept)."""
    config.validate()
    out = config.out_dir
    check_folder(out, "--out")  # before any run
    refuse_kind(out, "bench", "--out")
    if out.is_dir() and folder_kind(out) is None and any(out.iterdir()):
        raise LightupError(
            f"--out {str(out)!r} holds files that are not a lightup bench's results; pick an empty or a new "
            "--out"
        )
    kept, notes = [], ""
    if (out / "runs.jsonl").exists():
        if not config.resume:
            raise LightupError(
                f"{str(out)!r} already holds bench results; remove it, pick another --out, or add --resume "
                "to run only the runs it lacks"
            )
        kept = _finished_rows(out, config)
        summary = out / "summary.md"  # its notes, written by hand after the earlier part, are kept
        notes = _notes(read_summary(summary)) if summary.is_file() else ""
    if out.is_dir():  # a folder named stats.json would fail the write only after every run
        check_outputs(out)
    elif config.resume:
        raise LightupError(
            f"--resume: {str(out)!r} holds no runs.jsonl; drop --resume to start a bench there"
        )
    out.mkdir(parents=True, exist_ok=True)
    mark(out, "bench")
    text = json.dumps(dataclasses.asdict(config), indent=2) + "\n"
    atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    done = {_job_key(row) for row in kept}
    jobs = [job for job in config.jobs() if _job_key(dataclasses.asdict(job)) not in done]
    log = (lambda *a: None) if config.quiet else (lambda *a: print(*a, flush=True))
    pool = min(config.n_workers, max(len(jobs), 1))
    where = f"Ray ({config.ray})" if config.ray else f"a local pool of {pool}"
    resumed = f" Resumed: {len(jobs)} runs here, {len(kept)} kept from before (their own times)." * bool(kept)
    log(f"bench: {len(jobs)} runs on {where} -> {out}{resumed}")
    results = run_ray(jobs, config.ray) if config.ray and jobs else run_local(jobs, config.n_workers)
    rows, start = list(kept), time.perf_counter()
    # closing: a stop while a row is written ends the runs under way at once, not when the
    # generator is collected
    with open(out / "runs.jsonl", "a" if kept else "w", encoding="utf-8") as f, contextlib.closing(results):
        for row in results:
            rows.append(row)
            f.write(json.dumps(row) + "\n")
            f.flush()
            solved = f"solved at {row['solved_at']}" if row["solved_at"] is not None else "not solved"
            log(
                f"[{len(rows) - len(kept)}/{len(jobs)}] {task_name(row)} {row['agent']} seed {row['seed']}: "
                f"{solved}, final {row['final_eval']}, {row['wall_s']:.1f}s"
            )
    elapsed = time.perf_counter() - start
    header = [
        f"# Bench: {', '.join(_tasks(config))}",
        "",
        f"`{command or 'lightup bench ' + shlex.join(_flags(config))}` on {date.today()}, "
        f"{platform.machine()} with {os.cpu_count()} cores, {where}, one torch thread per run; "
        f"{elapsed:.0f} s in all. Wall times on a shared machine are noisy.{resumed}",
        "",
    ]
    text = _render(out, config, rows, header, notes)
    log("")
    log(text)
    return out


def _tasks(config: BenchConfig) -> list[str]:
    return [task_of(*split_env(spec)) for spec in config.envs]


JOB_FIELDS = tuple(f.name for f in dataclasses.fields(Job))


# Fields added to Job later, with the value every row written before them ran with.
_LATER_JOB_FIELDS = {"solved_at_return": None}


def _job_key(row: dict) -> str:
    """What a run was asked to do (its `Job`), comparable between a row read back and a new job."""
    later = {k: v for k, v in _LATER_JOB_FIELDS.items() if k not in row}
    return json.dumps([{**later, **row}[name] for name in JOB_FIELDS])


def _thousands(value) -> str:
    """An int with thousands separators; anything else (a row edited by hand) as it is."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def _read_rows(
    lines: list[str], path: Path, what: str, todo: str, row_todo: str
) -> tuple[list[dict], list[str]]:
    """The rows of runs.jsonl ``lines`` (read from ``path``) and their `_job_key`s; anything else, or a row
    whose result fields are not what the report reads (a row edited by hand), is a one-line error."""
    try:
        rows = [line_record(line, what) for line in lines]
        keys = [_job_key(row) for row in rows]
    except JsonSyntaxError as err:
        raise LightupError(f"{what} (JSONDecodeError: {err.reason}); {todo}") from None
    except (TypeError, KeyError) as err:
        raise LightupError(f"{what} ({error_line(err)}); {todo}") from None
    for number, row in enumerate(rows, 1):
        check_row(row, path, number, row_todo)
    return rows, keys


def load_config(path: Path) -> BenchConfig:
    """A results folder's config.json as the BenchConfig it was written from (JSON lists back to tuples)."""
    fields = read_json(path)
    if not isinstance(fields, dict):
        raise TypeError(f"{str(path)!r} is not a JSON object")
    config = BenchConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()})
    check_types(config, f"{str(path)!r}: ")  # before its envs or suite are looked at
    return config


def _finished_rows(out: Path, config: BenchConfig) -> list[dict]:
    """The rows of ``out``/runs.jsonl, each one of ``config``'s jobs. A last line cut short (the bench was
    killed while writing it) is dropped from the file."""
    path = out / "runs.jsonl"
    lines = [line for _, line in read_lines(path)]
    cut = bool(lines) and not lines[-1].endswith("\n")
    if cut:
        lines.pop()
    rows, keys = _read_rows(
        lines,
        path,
        f"{str(path)!r} is not a lightup bench's runs.jsonl",
        "use another --out",
        "fix that row, or remove it to run that run again",
    )
    wanted = {_job_key(dataclasses.asdict(job)) for job in config.jobs()}
    strays = [row for row, key in zip(rows, keys, strict=True) if key not in wanted]
    if strays:
        r = strays[0]
        try:
            task = task_name(r)
        except TypeError:  # a row edited by hand: its env as it was written
            task = str(r["env_id"])
        raise LightupError(
            f"--resume: {str(out)!r} holds {len(strays)} runs these flags do not name (e.g. {r['agent']} on "
            f"{task}, seed {r['seed']}, budget {_thousands(r['budget'])}); resume with the flags it ran with"
        )
    _check_settings(out, rows)
    if cut:  # only once the rest is known to be this bench's runs: a refused folder is left as it was
        atomic_write(path, lambda tmp: Path(tmp).write_text("".join(lines), encoding="utf-8"))
    return rows


def _settings_now(row: dict):
    """What this code would run ``row``'s job with, in the form the row records it: the trainer's recipe
    digest, or an SB3 peer's hyperparameters (the zoo's, or SB3's defaults)."""
    from lightup.bench.runs import SB3_AGENTS, TRAINER_AGENTS

    if row["agent"] in TRAINER_AGENTS:
        from lightup.training.recipe import recipe_digest

        return "recipe", recipe_digest()
    if row["agent"] in SB3_AGENTS:
        from lightup.bench.zoo import as_recorded, hyperparameters

        record = as_recorded(*hyperparameters(SB3_AGENTS[row["agent"]], row["env_id"]))
        return "hyperparameters", json.loads(json.dumps(record))  # as read back from runs.jsonl
    return None, None


def _check_settings(out: Path, rows: list[dict]) -> None:
    """Every kept row ran with the settings this code would run its job with: a bench resumed after its
    defaults changed would mix two recipes under one name. Rows that record no settings (from a lightup
    that did not record them) are kept as they are."""
    settings, stale = {}, []  # one lookup per (agent, env), not per row
    for row in rows:
        job = (row["agent"], row["env_id"])
        if job not in settings:
            settings[job] = _settings_now(row)
        key, now = settings[job]
        if key is not None and key in row and row[key] != now:
            stale.append((row, key))
    if stale:
        row, key = stale[0]
        others = sum(1 for r, _ in stale if r["agent"] == row["agent"])
        differ = "recipe differs" if key == "recipe" else f"{key} differ"
        raise LightupError(
            f"--resume: {str(out)!r} holds {others} runs of {row['agent']} whose {differ} from this code's "
            f"(e.g. on {task_name(row)}, seed {row['seed']}); finish the bench with the code it started "
            "with, or start a new --out"
        )


def _render(out: Path, config: BenchConfig, rows: list[dict], header: list[str], notes: str = "") -> str:
    """Write the folder's report from its rows: ``header`` (the run's command, machine and time), what was
    run, the tables, statistics and plots, then ``notes``."""
    tasks = _tasks(config)
    rows = sorted(rows, key=lambda r: (tasks.index(task_name(r)), config.agents.index(r["agent"]), r["seed"]))
    try:
        random_returns = {
            task: random_return(*split_env(spec), config.eval_episodes)
            for task, spec in zip(tasks, config.envs, strict=True)
        }
    except EnvRaised as err:  # after the runs: they are kept, only the report is left to write
        raise EnvRaised(
            f"{err}, in the random play that scores the report; the runs are kept in "
            f"{str(out / 'runs.jsonl')!r}: fix the env, then run the bench again with --resume (it runs "
            "nothing more and writes the report)"
        ) from err.__cause__
    budgets = ", ".join(
        f"{t} {config.budget_of(e)[0]:,} (eval every {config.budget_of(e)[1]:,})"
        for t, e in zip(tasks, config.envs, strict=True)
    )
    seeds = ", ".join(f"{a} {n}" for a, n in config.seeds_by_agent().items())
    header = [
        *header,
        f"Seeds per env: {seeds}. Budget in env steps: {budgets}. Every agent is evaluated "
        f"the same way: greedy, {config.eval_episodes} episodes on fixed seeds (the trainer's), every "
        "eval_every env steps and at the budget; a run stops at the first evaluation whose mean reaches the "
        "env's reward threshold." + _suite_note(config),
    ]
    return write_report(out, rows, header, random_returns, config.bootstrap_reps, notes)


def _suite_note(config: BenchConfig) -> str:
    """The header's sentence on a suite's own evaluation episodes and thresholds ("" without a suite)."""
    if not config.suite:
        return ""
    own = [
        f"{e.spec} {max(config.eval_episodes, e.eval_episodes or 0)} episodes"
        + (f", threshold {e.threshold}" if e.threshold is not None else "")
        for e in SUITES[config.suite]
        if e.eval_episodes or e.threshold is not None
    ]
    return f" Suite {config.suite} (lightup/bench/suites.py), where it sets its own: {'; '.join(own)}."


def rerender(folder: Path) -> Path:
    """Write a finished results folder's report again from its runs.jsonl and config.json (the report's code
    changed, the runs did not): summary.md's first lines (the run's command, machine and time) and its notes
    from `NOTES` on are kept; everything between is computed afresh."""
    refuse_kind(folder, "bench", "--report")
    paths = {name: folder / name for name in ("runs.jsonl", "config.json", "summary.md")}
    for name, path in paths.items():
        if not path.is_file():
            raise LightupError(
                f"{str(folder)!r} has no {name}: --report needs the folder of a finished lightup bench run"
            )
    what = f"{str(folder)!r} does not hold lightup bench results"
    try:
        config = load_config(paths["config.json"])
        lines = [line.rstrip("\n") for _, line in read_lines(paths["runs.jsonl"])]
    except JsonSyntaxError as err:
        raise LightupError(f"{what} (JSONDecodeError: {err.reason}); rerun the bench") from None
    except TypeError as err:
        raise LightupError(f"{what} ({error_line(err)}); rerun the bench") from None
    rows, keys = _read_rows(
        lines,
        paths["runs.jsonl"],
        what,
        "rerun the bench",
        "fix that row, or remove it and finish the bench with --resume",
    )
    found = set(keys)
    from lightup.envs import check_env_module_trusted

    for spec in config.envs:  # a module:EnvId read from the file is imported only when the user trusts it
        if isinstance(spec, str):  # anything else is refused by validate
            check_env_module_trusted(split_env(spec)[0])
    config.validate()
    expected = {_job_key(dataclasses.asdict(job)) for job in config.jobs()}
    if found != expected:
        raise LightupError(
            f"{str(paths['runs.jsonl'])!r} holds {len(found & expected)} of the {len(expected)} runs its "
            "config.json names (an interrupted bench?); finish it with --resume"
        )
    check_outputs(folder)
    summary = read_summary(paths["summary.md"])  # edited by hand, maybe
    head, _, _ = summary.partition("\nSeeds per env: ")
    _render(folder, config, rows, head.rstrip("\n").split("\n") + [""], _notes(summary))
    return folder


def _notes(summary: str) -> str:
    """A results folder's notes: the text of its summary.md from `NOTES` on ("" when it has none)."""
    at = summary.find(NOTES)
    return summary[at:] if at >= 0 else ""


def _flags(config: BenchConfig) -> list[str]:
    flags = ["--envs", *config.envs, "--agents", *config.agents, "--seeds", str(config.seeds)]
    if config.agent_seeds:
        flags += ["--agent-seeds", *config.agent_seeds]
    for name in ("budget", "eval_every", "out", "ray"):
        value = getattr(config, name)
        if value is not None:
            flags += [f"--{name.replace('_', '-')}", str(value)]
    return flags


def _from_shell() -> bool:
    """Whether this process is the `lightup bench` command (its argv then is the command the summary
    names), rather than a call from Python."""
    return len(sys.argv) > 1 and sys.argv[1] == "bench"


def main(argv: list[str]) -> int:
    return run(parse_config(BenchConfig, argv, "bench"))


def run(config: BenchConfig) -> int:
    """`lightup bench` with its parsed flags: 0 done, 130 stopped by Ctrl-C, 143 by SIGTERM (one line says
    how to go on)."""
    config = config.with_suite()
    if config.report is not None:
        try:
            out = rerender(Path(config.report))
        except KeyboardInterrupt:  # each file is written whole or not at all: the folder is old or new
            print(
                f"SIGINT: --report stopped; run it again to write {config.report!r}'s report", file=sys.stderr
            )
            return 130
        print(f"results: {out}", file=sys.stderr if config.quiet else sys.stdout)
        return 0
    args = [a for a in sys.argv[2:] if a != "--debug"] if _from_shell() else None
    with sigterm_stops() as stopped_by:
        try:
            out = run_bench(config, "lightup bench " + shlex.join(args) if args is not None else None)
        except KeyboardInterrupt:  # as `lightup train`: one line on where it stopped and how to go on
            print(interrupted_line(config, args, stopped_by[0]), file=sys.stderr)
            return 128 + stopped_by[0]
    print(f"results: {out}", file=sys.stderr if config.quiet else sys.stdout)
    return 0
