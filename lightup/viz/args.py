"""The flags of `lightup report`, `lightup inspect` and `lightup watch`, apart from the code that does the
work (which imports torch), so that `lightup --help` stays cheap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import tyro

from lightup.args import MaybeFloat, MaybeInt, MaybeStr

RunDir = Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="RUN_DIR")]


@dataclass
class ReportArgs:
    run_dir: RunDir
    """A run folder made by `lightup train`."""
    out: MaybeStr = None
    """Where to write the page; an earlier report there is replaced (default: RUN_DIR/report.html)."""
    force: bool = False
    """Overwrite --out even if it is not a report."""
    commands: int = 7
    """Commands in the return-following sweep."""
    episodes_per_command: int = 3
    """Episodes played at each command of the sweep."""
    low: MaybeFloat = None
    """Lowest command of the sweep (default: the lowest return seen)."""
    high: MaybeFloat = None
    """Highest command of the sweep (default: the highest return seen)."""
    follow: bool = True
    """Draw the return-following curve (needs a checkpoint)."""
    video: bool = True
    """Embed a GIF of one episode (for an env that renders)."""


@dataclass
class InspectArgs:
    run_dir: RunDir
    """A run folder made by `lightup train`."""
    command: MaybeFloat = None
    """Return to command (default: evaluation's)."""
    seed: int = 0
    """Seed of the env (and of sampling)."""
    sample: bool = False
    """Sample actions instead of playing the most likely one."""
    episode: MaybeInt = None
    """Replay this episode of the replay buffer instead of playing one (default: play one)."""
    max_steps: MaybeInt = None
    """Stop after this many steps (default: the end of the episode)."""


@dataclass
class WatchArgs:
    run_dir: RunDir
    """A run folder made by `lightup train`."""
    episodes: int = 1
    """Episodes to render, on seeds --seed, --seed + 1, ..."""
    out: MaybeStr = None
    """A .gif or .mp4 file (default: RUN_DIR/episodes.gif)."""
    command: MaybeFloat = None
    """Return to command (default: evaluation's)."""
    seed: int = 0
    """Seed of the first episode."""
    max_steps: MaybeInt = None
    """Cut each episode after this many steps (default: its end)."""
    fps: int = 30
    """Frames per second of the video."""
    force: bool = False
    """Overwrite --out if it exists."""
