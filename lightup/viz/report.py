"""``lightup report RUN_DIR``: one self-contained HTML page per run (images inline, no network needed).

Plots come from the run's ``metrics.jsonl``, and its alarms are explained in the doctor's words
(`lightup.doctor.alarms`, as ``lightup doctor --run`` gives them); with a checkpoint the page adds the
return-following curve, one greedy episode step by step, its attention map (Decision Transformer) and, for
envs that draw pictures, a GIF of it. A part the env cannot give (a video of an env without ``rgb_array``
rendering) is left out with a line that says why; the rest of the page is written all the same. The page
is written atomically to ``RUN_DIR/report.html``.
"""

from __future__ import annotations

import base64
import copy
import datetime
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lightup.checkpoint import atomic_write
from lightup.errors import LightupError
from lightup.outputs import REPORT_SIGNATURE as SIGNATURE
from lightup.outputs import check_file, check_run_folder, starts_with
from lightup.ranges import check_config
from lightup.viz.args import ReportArgs


@dataclass
class ReportOptions:
    follow: bool = True
    """Draw the return-following curve (needs a checkpoint)."""
    commands: int = 7
    """Commands in the return-following sweep."""
    episodes_per_command: int = 3
    low: float | None = None
    """Lowest command of the sweep (default: the lowest return in the replay buffer)."""
    high: float | None = None
    """Highest command of the sweep (default: the highest return in the replay buffer)."""
    episode: bool = True
    """Show one greedy episode: its steps, its attention map, its video."""
    video: bool = True
    max_episode_steps: int = 150
    """The shown episode is cut after this many steps (keeps the page small and quick to make)."""

    def validate(self) -> None:
        """Every count and command in its range (lightup.ranges), and --low not above --high."""
        check_config(self)
        if self.low is not None and self.high is not None and self.low > self.high:
            raise LightupError(f"--low ({self.low:g}) must not be above --high ({self.high:g})")


@dataclass
class Section:
    title: str
    body: str
    images: list[str] = field(default_factory=list)


def img_tag(data: bytes, name: str, alt: str, mime: str = "image/png") -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><img id="{html.escape(name)}" class="plot" alt="{html.escape(alt)}" '
        f'src="data:{mime};base64,{b64}"><figcaption>{html.escape(alt)}</figcaption></figure>'
    )


def _read_config(path: Path) -> tuple[dict, str]:
    """A run's config.json as (dict, what to say when it is empty). A file that is not a JSON object
    (binary, corrupt or hostile) is only reported as unreadable: a config is shown, never interpreted."""
    if not path.is_file():
        return {}, "no config.json"
    from lightup.jsonfile import JsonLimitError, read_json

    try:
        config = read_json(path)
    except JsonLimitError:
        raise
    except LightupError:
        config = None
    if not isinstance(config, dict):
        return {}, "config.json is not a readable JSON object: not shown"
    return config, "config.json is empty"


def _config_table(config: dict) -> str:
    def flat(d: dict, prefix: str = ""):
        for k, v in d.items():
            if isinstance(v, dict):
                yield from flat(v, f"{prefix}{k}.")
            else:
                yield f"{prefix}{k}", v

    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(json.dumps(v))}</td></tr>" for k, v in flat(config)
    )
    return f'<table class="config">{rows}</table>'


def _episode_table(record, limit: int = 40) -> str:
    from lightup.viz.inspector import rows

    view = "action probabilities" if record.discrete else "greedy action"
    head = f"<tr><th>t</th><th>observation</th><th>return-to-go</th><th>{view}</th>"
    head += "<th>action</th><th>reward</th><th></th></tr>"
    body = []
    for r in rows(record)[:limit]:
        probs = " ".join(f"{p:.2f}" for p in r["probs"])
        cells = [r["t"], r["observation"], f"{r['return_to_go']:g}", probs, r["action"], f"{r['reward']:g}"]
        body.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in [*cells, r["end"]]) + "</tr>")
    more = len(record.steps) - limit
    note = f"<p>… {more} more steps (see <code>lightup inspect</code>)</p>" if more > 0 else ""
    return f'<table class="episode">{head}{"".join(body)}</table>{note}'


def _sweep_range(buffer_returns: np.ndarray, records: list[dict], opts: ReportOptions) -> tuple[float, float]:
    if len(buffer_returns):
        low, high = float(buffer_returns.min()), float(buffer_returns.max())
    else:
        from lightup.viz.plots import series

        _, seen = series(records, "rollout/ep_rew_mean")
        seen = seen[np.isfinite(seen)]
        low, high = (float(seen.min()), float(seen.max())) if len(seen) else (0.0, 1.0)
    low, high = (low if opts.low is None else opts.low), (high if opts.high is None else opts.high)
    if low > high:  # one end given, beyond the other end seen in the run
        raise LightupError(
            f"the sweep's lowest command {low:g} is above its highest {high:g}: give --low and --high both"
        )
    return low, high


def _policy_sections(trainer, records: list[dict], opts: ReportOptions) -> list[Section]:
    """Sections that need the policy: return following, one episode, its attention map and video."""
    from lightup.models import DecisionTransformer
    from lightup.viz.episode import make_run_env, play_episode
    from lightup.viz.plots import png_bytes

    policy = copy.deepcopy(trainer.eval_policy).cpu()  # never disturb the trainer's own caches or device
    config, sections = trainer.config, []
    if opts.follow:
        from lightup.viz.follow import command_sweep, plot_return_following, return_following

        low, high = _sweep_range(trainer.buffer.start_returns(), records, opts)
        rows = return_following(
            policy,
            config.env_id,
            command_sweep(low, high, opts.commands),
            config.return_scale,
            env_options=trainer.options,
            episodes=opts.episodes_per_command,
            gamma=config.gamma,
            max_episode_steps=config.max_episode_steps,
        )
        fig = plot_return_following(
            rows, f"Return following ({opts.episodes_per_command} greedy episodes each)"
        )
        table = "".join(
            f"<tr><td>{r['command']:g}</td><td>{r['mean']:.3g}</td><td>{r['std']:.3g}</td></tr>" for r in rows
        )
        body = (
            "<p>Does asking for more give more? Each command is played greedily; on the diagonal the policy "
            "gets what it is asked for.</p>"
            + img_tag(png_bytes(fig), "return_following", "achieved against commanded return")
            + '<table class="numbers"><tr><th>command</th><th>achieved mean</th><th>std</th></tr>'
            + f"{table}</table>"
        )
        sections.append(Section("Return following", body))
    if not opts.episode:
        return sections
    no_video = _why_no_video(trainer) if opts.video else None
    rgb = opts.video and no_video is None
    env = make_run_env(trainer, render_mode="rgb_array" if rgb else None)
    try:
        command = float(trainer.eval_target())
        record = play_episode(
            policy,
            env,
            command,
            config.return_scale,
            seed=0,
            render=rgb,
            max_steps=opts.max_episode_steps,
            gamma=config.gamma,
        )
    finally:
        env.close()
    cut = " (cut short here)" if record.steps[-1].truncated else ""
    body = (
        f"<p>Greedy, commanded {command:g}, seed 0: return {record.ret:g} "
        f"in {len(record.steps)} steps{cut}.</p>" + _episode_table(record)
    )
    if isinstance(policy, DecisionTransformer):
        from lightup.viz.attention import attention_maps, plot_attention

        maps, _ = attention_maps(policy, **record.policy_inputs())
        fig = plot_attention(maps, "Attention over this episode")
        body += img_tag(png_bytes(fig), "attention", "which earlier steps each step attends to")
    if rgb and record.frames:
        from lightup.viz.watch import label_frames, write_video

        frames = [f[::2, ::2] for f in label_frames(record, 1)]  # half size keeps the page small
        tmp = Path(trainer.run_dir) / ".report-episode.gif"
        try:
            write_video(frames, tmp, fps=30)
            body += img_tag(tmp.read_bytes(), "video", "the episode, rendered", mime="image/gif")
        finally:
            tmp.unlink(missing_ok=True)
    if no_video is not None:
        body += f"<p>No video of the episode: {html.escape(no_video)}.</p>"
    sections.append(Section("One episode", body))
    return sections


def _why_no_video(trainer) -> str | None:
    """Why the episode cannot be shown as a video (None: it can): imageio missing, or the env draws no
    frames (`why_no_frames`)."""
    from lightup.viz.episode import why_no_frames

    try:
        import imageio  # noqa: F401
    except ImportError:
        return 'writing it needs imageio: pip install -e ".[video]"'
    return why_no_frames(trainer)


def _alarms_section(run_dir: Path, records: list[dict]) -> Section | None:
    """The run's alarms in the doctor's words: each one the trainer raised (``alarm/NAME``) as the doctor saw
    it then, over the records before it, then any other the doctor finds over the whole run (as ``lightup
    doctor --run``); below them, the values logged that are not numbers (NaN, infinities, notes)."""
    from lightup.doctor.alarms import Alarm, check_records, run_context
    from lightup.viz.plots import alarms as non_numbers

    ctx = run_context(run_dir)
    found: dict[str, Alarm] = {}
    for i, record in enumerate(records):
        for name in [k.removeprefix("alarm/") for k in record if k.startswith("alarm/")]:
            if name not in found:
                then = [a for a in check_records(records[:i], ctx)[0] if a.name == name]
                unseen = "raised while training; not found again over the records before it", "", ""
                found[name] = then[0] if then else Alarm(name, *unseen, step=record["step"])
    for alarm in check_records(records, ctx)[0]:
        found.setdefault(alarm.name, alarm)
    logged = [(s, k, v) for s, k, v in non_numbers(records) if not k.startswith("alarm/")]
    if not (found or logged):
        return None
    body = ""
    if found:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(c))}</td>"
                for c in ("" if a.step is None else a.step, a.name, a.message, a.meaning, a.where)
            )
            + "</tr>"
            for a in sorted(found.values(), key=lambda a: a.step if a.step is not None else -1)
        )
        body += (
            "<p>What looks wrong in this run, in the words of <code>lightup doctor --run</code>.</p>"
            '<table class="alarms"><tr><th>step</th><th>alarm</th><th>what was seen</th>'
            f"<th>what it usually means</th><th>where to look</th></tr>{rows}</table>"
        )
    if logged:
        items = "".join(
            f"<tr><td>{s}</td><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
            for s, k, v in logged[:200]
        )
        body += (
            "<p>Values logged that are not numbers (NaN, infinities, notes):</p>"
            f'<table class="values"><tr><th>step</th><th>tag</th><th>value</th></tr>{items}</table>'
        )
    return Section("Alarms", body)


def build_report(run_dir: str | Path, trainer=None, options: ReportOptions | None = None) -> str:
    """The report's HTML as a string."""
    from lightup.training.logger import read_metrics
    from lightup.training.state import CHECKPOINT
    from lightup.viz.plots import metric_figures, png_bytes

    opts = options or ReportOptions()
    opts.validate()
    run_dir = check_run_folder(run_dir)
    if not (run_dir / "metrics.jsonl").is_file():
        raise LightupError(
            f"{str(run_dir)!r} has no metrics.jsonl: pass a run folder made by `lightup train`"
        )
    records = read_metrics(run_dir)
    config, config_note = _read_config(run_dir / "config.json")
    has_checkpoint = (run_dir / CHECKPOINT).is_file()
    if trainer is None and has_checkpoint:
        from lightup.viz.episode import load_trainer

        trainer = load_trainer(run_dir)
    threshold = trainer.threshold if trainer is not None else None

    sections = [Section("Config", _config_table(config) if config else f"<p>{config_note}</p>")]
    figures = metric_figures(records, threshold)
    plots = "".join(img_tag(png_bytes(fig), name, title) for name, (title, fig) in figures.items())
    sections.append(Section("Training", plots or "<p>nothing logged yet</p>"))
    alarm_section = _alarms_section(run_dir, records)
    if alarm_section is not None:
        sections.append(alarm_section)
    if trainer is not None:
        sections += _policy_sections(trainer, records, opts)
    else:
        sections.append(
            Section("Policy", f"<p>no {CHECKPOINT} yet: no return-following curve or episode.</p>")
        )

    last = records[-1] if records else {}
    summary = (
        f"env {html.escape(str(config.get('env_id', '?')))}, {last.get('step', 0)} env steps, "
        f"{len(records)} log records"
    )
    if threshold is not None:
        summary += f", reward threshold {threshold:g}"
    now = datetime.datetime.now().isoformat(timespec="seconds")
    toc = "".join(f'<li><a href="#s{i}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections))
    body = "".join(
        f'<section id="s{i}"><h2>{html.escape(s.title)}</h2>{s.body}</section>'
        for i, s in enumerate(sections)
    )
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>lightup report: {html.escape(run_dir.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; }}
figure {{ display: inline-block; margin: 0.5em; vertical-align: top; }}
figcaption {{ font-size: 0.85em; color: #555; text-align: center; }}
img.plot {{ max-width: 100%; border: 1px solid #ddd; }}
table {{ border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }}
th, td {{ border: 1px solid #ddd; padding: 2px 6px; text-align: left; }}
table.config th {{ background: #f5f5f5; }}
</style></head>
<body>
<h1>lightup report: {html.escape(run_dir.name)}</h1>
<p>{summary}. Made {now} from <code>{html.escape(str(run_dir))}</code>.</p>
<ul>{toc}</ul>
{body}
</body></html>
"""


def write_report(
    run_dir: str | Path, trainer=None, options: ReportOptions | None = None, out=None, force: bool = False
) -> Path:
    """Build the report and write it atomically (default ``RUN_DIR/report.html``); returns its path. An
    existing file at ``out`` is replaced only if it is an earlier report, or with ``force``."""
    path = Path(out) if out is not None else Path(run_dir) / "report.html"
    check_run_folder(run_dir)  # a file given as RUN_DIR is named as such, not as a bad --out
    check_file(path, "--out", force, own=starts_with(SIGNATURE), reads=run_dir)  # before any work
    text = build_report(run_dir, trainer, options)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def run(args: ReportArgs) -> int:
    """`lightup report`: write the page and say where."""
    opts = ReportOptions(
        follow=args.follow,
        commands=args.commands,
        episodes_per_command=args.episodes_per_command,
        low=args.low,
        high=args.high,
        video=args.video,
    )
    opts.validate()
    print(f"wrote {write_report(args.run_dir, options=opts, out=args.out, force=args.force)}")
    return 0
