"""``lightup watch RUN_DIR [--episodes N] [--out FILE.gif|.mp4]``: render episodes of a run's policy.

Frames come from Gymnasium's ``rgb_array`` rendering (CartPole, LunarLander, ...); files are written by
imageio, an optional extra: ``pip install -e ".[video]"``.
"""

from __future__ import annotations

import os
import signal
import tempfile
from pathlib import Path

import numpy as np

from lightup.errors import LightupError
from lightup.outputs import check_file, check_run_folder
from lightup.ranges import check, check_args
from lightup.viz.args import WatchArgs
from lightup.viz.episode import load_trainer, make_run_env, play_episode, why_no_frames

NUMBERS = ("episodes", "fps", "max_steps", "command", "seed")  # flags checked against lightup.ranges
FORMATS = (".gif", ".mp4")


def _imageio():
    try:
        import imageio.v3 as iio
    except ImportError:
        raise LightupError('writing video needs imageio: pip install -e ".[video]"') from None
    return iio


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 30) -> Path:
    """Write rgb frames (H, W, 3) to a GIF or an MP4, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise LightupError(f"--out must end in .gif or .mp4, got {str(path)!r}")
    if not frames:
        raise LightupError("no frames to write")
    iio = _imageio()
    stack = np.stack(frames).astype(np.uint8)  # (N, H, W, 3)
    if suffix == ".gif":
        # duration: ms per frame; loop=0 repeats forever
        kwargs = {"extension": ".gif", "duration": 1000 / fps, "loop": 0}
    else:
        try:
            import imageio_ffmpeg  # noqa: F401  (the MP4 writer)
        except ImportError:
            raise LightupError('writing MP4 needs imageio-ffmpeg: pip install -e ".[video]"') from None
        stack = stack[:, : stack.shape[1] // 2 * 2, : stack.shape[2] // 2 * 2]  # H.264 wants even sizes
        kwargs = {"extension": ".mp4", "plugin": "FFMPEG", "fps": fps, "macro_block_size": 1}
    # Written next to the target, then renamed over it: a failed write never leaves half a file. The
    # temporary name keeps the suffix, from which ffmpeg picks the container.
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        iio.imwrite(tmp, stack, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def label_frames(record, episode: int) -> list[np.ndarray]:
    """The record's frames with a caption: episode, step, return so far, command. Besides being useful it
    keeps consecutive frames distinct, which GIF writers would otherwise merge into one."""
    from PIL import Image, ImageDraw

    out, total = [], 0.0
    for k, frame in enumerate(record.frames):
        if k > 0:
            total += record.steps[k - 1].reward
        image = Image.fromarray(np.ascontiguousarray(frame[..., :3], dtype=np.uint8))
        text = f"episode {episode}  step {k}  return {total:g}  (commanded {record.command:g})"
        draw = ImageDraw.Draw(image)
        box = draw.textbbox((4, 4), text)
        draw.rectangle((box[0] - 2, box[1] - 2, box[2] + 2, box[3] + 2), fill=(255, 255, 255))
        draw.text((4, 4), text, fill=(0, 0, 0))
        out.append(np.asarray(image))
    return out


def render_episodes(
    trainer,
    episodes: int = 1,
    command: float | None = None,
    seed: int = 0,
    max_steps: int | None = None,
    greedy: bool = True,
) -> tuple[list[np.ndarray], list[float]]:
    """Frames of ``episodes`` episodes one after the other (seeds seed, seed + 1, ...) and their returns."""
    from lightup.envs import GAME_IDS

    env_id, inspect = trainer.config.env_id, f"`lightup inspect {trainer.run_dir}`"
    if env_id in GAME_IDS:
        raise LightupError(f"{env_id} draws no pictures (its render mode is text); see it with {inspect}")
    reason = why_no_frames(trainer)
    if reason is not None:
        raise LightupError(f"{reason}; a video needs an env that draws them: see its episodes with {inspect}")
    env = make_run_env(trainer, render_mode="rgb_array")
    target = float(trainer.eval_target() if command is None else command)
    frames, returns = [], []
    try:
        check_frames_fit(env, episodes, max_steps, seed, trainer.config.max_episode_steps)
        for i in range(episodes):
            record = play_episode(
                trainer.eval_policy,
                env,
                target,
                trainer.config.return_scale,
                seed=seed + i,
                greedy=greedy,
                render=True,
                max_steps=max_steps,
                gamma=trainer.config.gamma,
            )
            frames += label_frames(record, i + 1)
            returns.append(record.ret)
    finally:
        env.close()
    return frames, returns


FRAME_BUDGET = 2 * 2**30  # bytes of frames held before the video is written (all are, to write it)


def check_frames_fit(env, episodes: int, max_steps: int | None, seed: int, cut: int) -> None:
    """The frames of ``episodes`` episodes of at most ``max_steps`` steps (else the env's time limit, else
    ``cut``) fit `FRAME_BUDGET`, measured from one frame: else a one-line error before any is kept (1000
    episodes of 1e6 steps of CartPole would hold 23 GB and more)."""
    env.reset(seed=seed)
    frame = env.render()
    size = np.asarray(frame).nbytes if frame is not None else 0
    limit = getattr(env.spec, "max_episode_steps", None) if env.spec is not None else None
    steps = min(s for s in (max_steps, limit, cut) if s is not None) + 1  # +1: the first frame
    if episodes * steps * size > FRAME_BUDGET:
        raise LightupError(
            f"{episodes} episodes of up to {steps - 1:,} steps would hold "
            f"{episodes * steps * size / 2**30:,.1f} GiB of frames, more than the "
            f"{FRAME_BUDGET / 2**30:g} GiB allowed; lower --episodes or --max-steps"
        )


def watch(
    run_dir,
    out: str | Path | None = None,
    episodes: int = 1,
    command: float | None = None,
    seed: int = 0,
    max_steps: int | None = None,
    fps: int = 30,
    trainer=None,
    force: bool = False,
) -> tuple[Path, int, list[float]]:
    """Render and write the video; returns (path, frames written, episode returns). An existing file at
    ``out`` is replaced only if it is the run's own RUN_DIR/episodes.gif, or with ``force``."""
    default = check_run_folder(run_dir) / "episodes.gif"  # RUN_DIR first: a file given as it is named so
    out = Path(out) if out is not None else default
    if out.suffix.lower() not in FORMATS:
        raise LightupError(f"--out must end in .gif or .mp4, got {str(out)!r}")
    check_file(out, "--out", force, own=lambda path: path.resolve() == default.resolve())
    _imageio()  # fail before rolling out when the extra is missing
    trainer = trainer or load_trainer(run_dir)
    frames, returns = render_episodes(trainer, episodes, command, seed, max_steps)
    return write_video(frames, out, fps), len(frames), returns


def run(args: WatchArgs) -> int:
    """`lightup watch`: write the video and say where."""
    check_args(args, NUMBERS)
    # SIGTERM stops it as Ctrl-C does (the video is written atomically, so no half file is left)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    check("seed", args.seed + args.episodes - 1, "--seed (plus --episodes - 1: one seed an episode)")
    path, n, returns = watch(
        args.run_dir,
        args.out,
        args.episodes,
        args.command,
        args.seed,
        args.max_steps,
        args.fps,
        force=args.force,
    )
    print(f"wrote {path}: {n} frames, returns {', '.join(f'{r:g}' for r in returns)}")
    return 0
