"""The run report, the episode inspector, the return-following sweep, attention maps and video."""

from __future__ import annotations

import base64
import html
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import gymnasium as gym
import imageio.v3 as iio
import matplotlib.image as mpimg
import numpy as np
import pytest
import tiny
import torch
from torch import nn

from lightup.cli import main as cli_main
from lightup.doctor.alarms import check_records, check_run, run_context
from lightup.envs import make_env
from lightup.errors import LightupError
from lightup.models import DecisionTransformer, DTConfig, SequencePolicy
from lightup.training.config import TrainConfig
from lightup.training.logger import read_metrics
from lightup.training.trainer import Trainer
from lightup.viz import report_after_training
from lightup.viz.attention import attention_maps
from lightup.viz.episode import play_episode
from lightup.viz.follow import command_sweep, plot_return_following, return_following
from lightup.viz.inspector import inspect_run, rows
from lightup.viz.plots import metric_figures, png_bytes
from lightup.viz.report import ReportOptions, write_report
from lightup.viz.watch import watch, write_video

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
FAST = ReportOptions(commands=3, episodes_per_command=2)


def tiny_config(tmp_path, env_id="lightup/PressButton-v0", **kw) -> TrainConfig:
    game = ("size=4", "game_length=4") if env_id.startswith("lightup/") else ()
    larger = dict(
        env_options=game, n_envs=8, updates_per_round=4, batch_size=16, context_len=4, eval_episodes=4
    )
    return tiny.tiny_config(tmp_path / "run", env_id, **{**larger, **kw})


@pytest.fixture(scope="module")
def press_run(tmp_path_factory):
    """Seed 0, 256 env steps of PressButton (4 buttons, 4 presses): a real run folder with a checkpoint."""
    trainer = Trainer(tiny_config(tmp_path_factory.mktemp("press"))).learn(256)
    trainer.close()
    return trainer.run_dir


class LitButtonPolicy(SequencePolicy):
    """Presses the lit button while the commanded return-to-go is above 0.5, a wrong one otherwise: it gets
    exactly what it is asked for on PressButton (for whole-number commands from 0 to game_length)."""

    def __init__(self, size: int, return_scale: float):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = size, size, True, 4
        self.return_scale = return_scale
        self.dummy = nn.Parameter(torch.zeros(()))  # begin() reads the device from a parameter

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        lit = states.argmax(dim=-1)  # (B, T)
        wrong = (lit + 1) % self.act_dim
        want = torch.where(returns_to_go * self.return_scale > 0.5, lit, wrong)
        return 4.0 * nn.functional.one_hot(want, self.act_dim).float() + 0 * self.dummy  # (B, T, A)


def decoded_images(page: str) -> dict[str, tuple[str, bytes]]:
    images = re.findall(r'<img id="([^"]+)"[^>]*src="data:(image/\w+);base64,([^"]+)"', page)
    return {name: (mime, base64.b64decode(data, validate=True)) for name, mime, data in images}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    return struct.unpack(">II", data[16:24])  # IHDR: width, height


# --- the report ---


def test_report_embeds_the_plots_as_valid_pngs(press_run):
    path = write_report(press_run, options=FAST)
    assert path == press_run / "report.html"
    page = path.read_text()
    images = decoded_images(page)
    expected = {
        "returns",
        "evaluation",
        "loss",
        "entropy",
        "action_probability",
        "episode_length",
        "return_following",
        "attention",
    }
    assert expected <= set(images), sorted(images)
    for name, (mime, data) in images.items():
        assert mime == "image/png", name
        width, height = png_size(data)
        assert width > 0 and height > 0 and len(data) > 1000, name
    assert page.count("<img") == len(images)  # every image is inline
    assert "http://" not in page and "https://" not in page  # nothing to fetch
    assert "<th>env_id</th><td>&quot;lightup/PressButton-v0&quot;</td>" in page  # the config
    assert "lit, press 1 of 4" in page  # the episode table, in words


def test_report_without_a_checkpoint_still_plots_the_metrics(press_run, tmp_path):
    run = tmp_path / "no_checkpoint"
    run.mkdir()
    for name in ("metrics.jsonl", "config.json"):
        shutil.copy(press_run / name, run / name)
    page = write_report(run).read_text()
    images = decoded_images(page)
    assert "returns" in images and "return_following" not in images
    assert "no checkpoint.safetensors yet" in page


def test_report_lists_non_finite_values_as_alarms(press_run, tmp_path):
    run = tmp_path / "alarm"
    run.mkdir()
    lines = (press_run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(lines + '{"step": 999, "train/loss": "nan"}\n{"step": 10')
    page = write_report(run).read_text()
    assert re.search(r"<td>999</td><td>train/loss</td><td>nan</td>", page)


def alarm_rows(page: str) -> list[list[str]]:
    """The cells of each row of the report's alarms table, unescaped."""
    table = re.search(r'<table class="alarms">(.*?)</table>', page)
    assert table, "no alarms table"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(1))
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", r)] for r in rows if "<td>" in r]


def test_report_explains_alarms_in_the_doctors_words(press_run, tmp_path):
    run = tmp_path / "alarm_words"
    run.mkdir()
    shutil.copy(press_run / "config.json", run / "config.json")
    lines = (press_run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(lines + '{"step": 999, "train/loss": "nan"}\n')
    expected = check_run(run).alarms
    assert "non-finite" in [a.name for a in expected]
    rows = alarm_rows(write_report(run, options=FAST).read_text())
    for alarm in expected:  # every alarm of `lightup doctor --run`, with all its words
        assert [str(alarm.step), alarm.name, alarm.message, alarm.meaning, alarm.where] in rows


def test_report_explains_an_alarm_the_trainer_raised_as_the_doctor_saw_it_then(press_run, tmp_path):
    """Gradients explode at step 800 (the trainer logs alarm/exploding-gradients), then grow further: the
    report gives the doctor's words at the moment it was raised, not only over the whole run."""
    run = tmp_path / "alarm_then"
    run.mkdir()
    shutil.copy(press_run / "config.json", run / "config.json")
    records = [{"step": 100 * i, "train/grad_norm": 1.0} for i in range(1, 8)]
    records += [{"step": 800, "train/grad_norm": 5000.0}, {"step": 800, "alarm/exploding-gradients": 1.0}]
    records += [{"step": 900, "train/grad_norm": 90000.0}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    then = [a for a in check_records(records[:8], run_context(run))[0] if a.name == "exploding-gradients"]
    assert len(then) == 1 and "5e+03" in then[0].message
    now = [a for a in check_run(run).alarms if a.name == "exploding-gradients"][0]
    assert now.message != then[0].message  # the whole run says 9e+04
    rows = alarm_rows(write_report(run, options=FAST).read_text())
    assert ["800", "exploding-gradients", then[0].message, then[0].meaning, then[0].where] in rows
    assert [r[1] for r in rows].count("exploding-gradients") == 1


def test_report_of_a_quiet_run_has_no_alarms_section(press_run, tmp_path):
    run = tmp_path / "quiet"
    run.mkdir()
    shutil.copy(press_run / "config.json", run / "config.json")
    records = [{"step": 100 * i, "train/grad_norm": 1.0, "train/loss": 0.5} for i in range(1, 8)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert check_run(run).alarms == []
    page = write_report(run, options=FAST).read_text()
    assert "<h2>Alarms</h2>" not in page


class _NoFrames(gym.Env):
    """Box observations, two actions, ten steps; draws nothing. ``modes`` is what its metadata claims."""

    def __init__(self, render_mode=None, modes=()):
        self.metadata = {"render_modes": list(modes), "render_fps": 4}
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return obs, float(action == 1), self.t >= 10, False, {}


def _no_frames_claims_rgb(render_mode=None):
    """Lists rgb_array among its render modes but has no render(): Gymnasium's raises NotImplementedError."""
    return _NoFrames(render_mode, modes=("rgb_array",))


@pytest.mark.parametrize(
    "env_id, entry_point, why",
    [
        ("lightuptest/NoRender-v0", _NoFrames, "draws no rgb_array frames (its render modes: none)"),
        ("lightuptest/BrokenRender-v0", _no_frames_claims_rgb, "failed to draw a frame (NotImplementedError"),
    ],
)
def test_report_is_written_for_an_env_that_cannot_render(tmp_path, capsys, env_id, entry_point, why):
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, max_episode_steps=20)
    trainer = Trainer(tiny_config(tmp_path, env_id, n_envs=4, eval_every=64)).learn(128)
    trainer.close()
    path = report_after_training(trainer)
    assert path == trainer.run_dir / "report.html"
    assert "no report written" not in capsys.readouterr().err
    page = path.read_text()
    images = decoded_images(page)
    assert {"returns", "return_following", "attention"} <= set(images) and "video" not in images
    assert "<h2>One episode</h2>" in page
    assert f"No video of the episode: {env_id} {why}" in html.unescape(page)


def test_report_of_an_env_that_renders_embeds_the_episode_as_a_gif(tmp_path):
    trainer = Trainer(tiny_config(tmp_path, "CartPole-v1", eval_every=64)).learn(64)
    trainer.close()
    page = write_report(trainer.run_dir, options=ReportOptions(follow=False, max_episode_steps=6)).read_text()
    mime, data = decoded_images(page)["video"]
    frames = iio.imread(data, index=None, extension=".gif")  # (N, H, W, C)
    steps = int(re.search(r"in (\d+) steps", page).group(1))
    assert mime == "image/gif" and frames.shape[0] == steps + 1 and frames.shape[1] > 100
    assert "No video" not in page


def test_report_of_a_missing_folder_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(LightupError, match="not found"):
        write_report(tmp_path / "nope")
    assert cli_main(["report", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_report_after_training_never_raises(press_run, capsys):
    trainer = Trainer.load(press_run)
    trainer.run_dir = press_run / "missing"  # a report that cannot be written
    assert report_after_training(trainer) is None
    assert "warning: no report written" in capsys.readouterr().err


# --- the inspector ---


def test_inspector_rows_on_a_scripted_press_button_episode():
    env = make_env("lightup/PressButton-v0", size=4, game_length=4)
    policy = LitButtonPolicy(size=4, return_scale=4.0)
    record = play_episode(policy, env, command=2.0, return_scale=4.0, seed=3)
    table = rows(record)
    assert [r["t"] for r in table] == [0, 1, 2, 3]
    assert [r["return_to_go"] for r in table] == [2.0, 1.0, 0.0, 0.0]
    assert [r["reward"] for r in table] == [1.0, 1.0, 0.0, 0.0]
    assert sum(r["reward"] for r in table) == record.ret == 2.0
    for t, (row, step) in enumerate(zip(table, record.steps, strict=True)):
        lit = int(np.argmax(step.observation))
        assert row["observation"] == f"button {lit} of 0-3 is lit, press {t + 1} of 4"
        assert row["action"] == int(np.argmax(row["probs"]))  # greedy
        assert abs(sum(row["probs"]) - 1.0) < 1e-6
        assert (row["action"] == lit) == (row["return_to_go"] > 0.5)
    assert [r["end"] for r in table] == ["", "", "", "terminated"]


def test_sampled_episodes_repeat_with_the_seed(press_run):
    a, b = (inspect_run(press_run, seed=5, greedy=False) for _ in range(2))
    assert [s.action for s in a.steps] == [s.action for s in b.steps]
    assert [s.description for s in a.steps] == [s.description for s in b.steps]


def test_inspect_rolls_out_and_replays_a_run(press_run, capsys):
    record = inspect_run(press_run, command=4.0, seed=1)
    assert len(record.steps) == 4 and record.command == 4.0
    assert all(r["action"] == int(np.argmax(r["probs"])) for r in rows(record))

    trainer = Trainer.load(press_run)
    stored = trainer.buffer.episodes[-1]
    replay = inspect_run(press_run, episode=-1)
    assert [s.action for s in replay.steps] == list(stored.actions)
    assert replay.ret == pytest.approx(stored.ret)
    assert replay.steps[0].description.startswith("lit: button ")

    assert cli_main(["inspect", str(press_run), "--command", "4"]) == 0
    out = capsys.readouterr().out
    assert "return-to-go" in out and "is lit" in out


@pytest.mark.parametrize("command", ["inspect", "watch"])
def test_a_folder_without_checkpoint_or_missing_is_a_one_line_error(tmp_path, capsys, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder, message in [(tmp_path / "missing", "not found"), (empty, "no checkpoint.safetensors")]:
        assert cli_main([command, str(folder)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and err.count("\n") == 1
    with pytest.raises(LightupError, match="no checkpoint"):
        inspect_run(empty)


# --- the return-following sweep ---


def test_return_following_sweep_follows_a_policy_that_gets_what_it_is_asked():
    policy = LitButtonPolicy(size=4, return_scale=4.0)
    commands = command_sweep(0.0, 4.0, 5)
    assert commands == [0.0, 1.0, 2.0, 3.0, 4.0]
    result = return_following(
        policy, "lightup/PressButton-v0", commands, 4.0, env_options={"size": 4, "game_length": 4}, episodes=3
    )
    assert [r["command"] for r in result] == commands
    assert [r["mean"] for r in result] == commands  # on the diagonal
    assert all(r["std"] == 0.0 for r in result)
    assert png_bytes(plot_return_following(result))[:8] == PNG_SIGNATURE


# --- attention ---


@pytest.mark.parametrize("layout", ["stacked", "interleaved"])
def test_attention_maps_agree_with_forward_and_respect_the_band(layout):
    torch.manual_seed(0)
    model = DecisionTransformer(
        DTConfig(obs_dim=3, act_dim=2, context_len=4, n_layer=2, n_embd=16, layout=layout)
    )
    t = 7  # longer than the context: the band matters
    inputs = {
        "returns_to_go": torch.randn(1, t),
        "states": torch.randn(1, t, 3),
        "prev_actions": torch.randint(0, 3, (1, t)),
        "timesteps": torch.arange(t)[None],
        "mask": torch.ones(1, t, dtype=torch.bool),
    }
    maps, params = attention_maps(model, **inputs)
    assert maps.shape == (2, 1, 4, t, t)
    torch.testing.assert_close(params, model(**inputs), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 1, 4, t))
    lag = torch.arange(t)[:, None] - torch.arange(t)[None, :]
    outside = (lag < 0) | (lag >= 4)
    assert torch.all(maps[..., outside] == 0)


# --- video ---


@pytest.fixture(scope="module")
def cartpole_run(tmp_path_factory):
    """An untrained CartPole checkpoint: enough to render (CartPole survives 5 steps from any start)."""
    trainer = Trainer(tiny_config(tmp_path_factory.mktemp("cartpole"), "CartPole-v1"))
    trainer.save_checkpoint()
    return trainer.run_dir


@pytest.mark.parametrize("env_id", ["CartPole-v1", "LunarLander-v3"])
def test_watch_writes_a_gif_that_decodes_to_the_expected_frames(tmp_path, env_id):
    trainer = Trainer(tiny_config(tmp_path, env_id))  # untrained: no episode of either ends in 5 steps
    trainer.save_checkpoint()
    path, n, returns = watch(trainer.run_dir, tmp_path / "ep.gif", episodes=2, max_steps=5)
    assert len(returns) == 2 and n == 2 * (5 + 1)  # a frame after reset, then one per step
    if env_id == "CartPole-v1":
        assert returns == [5.0, 5.0]
    frames = iio.imread(path)
    assert frames.shape == (n, 400, 600, 3)
    assert not np.array_equal(frames[0], frames[1])


def test_watch_writes_an_mp4(cartpole_run, tmp_path, capsys):
    out = tmp_path / "ep.mp4"
    assert cli_main(["watch", str(cartpole_run), "--out", str(out), "--max-steps", "3"]) == 0
    assert "4 frames" in capsys.readouterr().out
    assert sum(1 for _ in iio.imiter(out, plugin="FFMPEG")) == 4


def test_watch_bad_inputs_are_one_line_errors(press_run, cartpole_run, tmp_path, monkeypatch):
    with pytest.raises(LightupError, match="lightup inspect"):
        watch(press_run, tmp_path / "x.gif")  # a text game draws no pictures
    with pytest.raises(LightupError, match=r"\.gif or \.mp4"):
        watch(cartpole_run, tmp_path / "x.avi")
    monkeypatch.setitem(sys.modules, "imageio.v3", None)  # the video extra missing
    with pytest.raises(LightupError, match=re.escape('pip install -e ".[video]"')):
        write_video([np.zeros((4, 4, 3), np.uint8)], tmp_path / "x.gif")


# --- the report in a real browser ---

# Debian's chromium package, which `make test` installs (`make test CHROMIUM=...` picks another one).
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # without these, its connections are refused on a closed network
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",  # one CSS pixel, one screenshot pixel
    "--virtual-time-budget=10000",  # the page loads and its scripts run before the dump or the screenshot
]
WINDOW_WIDTH = 1280
# Injected into a copy of the report: once every image has loaded or failed, write what the browser made of
# each <img> (and where it is laid out) into the page, where --dump-dom can read it back.
IMAGE_PROBE = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images).map((img) => {
    const r = img.getBoundingClientRect();
    return {id: img.id, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight,
            x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height};
  });
  const out = document.createElement("pre");
  out.id = "image-" + "probe";
  out.textContent = JSON.stringify({images: images, page_height: document.documentElement.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


def run_chromium(tmp_path, *args: str) -> str:
    """Run headless chromium with a new, empty profile; its stdout."""
    if not CHROMIUM.is_file():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make test`, which installs Debian's chromium (`make chromium`)"
        )
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path))
    done = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"chromium failed ({done.returncode}): {done.stderr[-2000:]}"
    return done.stdout


def on_white(png: bytes) -> np.ndarray:
    rgba = mpimg.imread(io.BytesIO(png), format="png")
    if rgba.shape[-1] == 3:
        return rgba
    return rgba[..., :3] * rgba[..., 3:] + (1 - rgba[..., 3:])


def test_report_opens_in_headless_chromium_with_every_plot_drawn(press_run, tmp_path):
    report = write_report(press_run, options=FAST, out=tmp_path / "report.html")
    page = report.read_text()
    pngs = {name: data for name, (_, data) in decoded_images(page).items()}
    expected = [*metric_figures(read_metrics(press_run)), "return_following", "attention"]
    assert sorted(pngs) == sorted(expected) and page.count("<img") == len(expected)

    # What the browser made of each image, read back from the DOM of a copy with a script added.
    probed = tmp_path / "probed.html"
    assert page.count("</body>") == 1
    probed.write_text(page.replace("</body>", IMAGE_PROBE + "</body>"), encoding="utf-8")
    dom = run_chromium(tmp_path, f"--window-size={WINDOW_WIDTH},1000", "--dump-dom", probed.as_uri())
    found = re.search(r'<pre id="image-probe">(.*?)</pre>', dom, re.DOTALL)
    assert found, f"the page's script never ran: {dom[-500:]}"
    probe = json.loads(html.unescape(found.group(1)))
    images = probe["images"]
    assert [i["id"] for i in images] == list(pngs)  # every image the report wrote, in order
    broken = [i["id"] for i in images if not i["complete"] or i["width"] == 0]
    assert not broken, f"images that did not load: {broken}"
    for i in images:
        assert (i["width"], i["height"]) == png_size(pngs[i["id"]]), i["id"]
        assert i["w"] > 100 and i["h"] > 100, i  # laid out at a visible size

    # A screenshot as tall as the page (the layout depends on the width only), so it shows every plot.
    height = probe["page_height"]
    assert 1000 < height < 16_000, height
    shot = tmp_path / "report.png"
    run_chromium(tmp_path, f"--window-size={WINDOW_WIDTH},{height}", f"--screenshot={shot}", probed.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000
    pixels = mpimg.imread(shot)[..., :3]  # floats in [0, 1]
    assert pixels.shape == (height, WINDOW_WIDTH, 3)
    assert pixels.std() > 0.05 and (pixels.min(axis=-1) < 0.9).mean() > 0.02  # not a blank page
    exact = []
    for i in images:  # where each plot is laid out, the screenshot shows a drawing, in colour
        x, y, w, h = (round(i[k]) for k in ("x", "y", "w", "h"))
        box = pixels[y + 1 : y + h - 1, x + 1 : x + w - 1]  # inside the 1 px border
        dark = (box.min(axis=-1) < 0.6).mean()  # axes, ticks, text, lines
        colour = (box.max(axis=-1) - box.min(axis=-1) > 0.25).mean()  # lines or a colour map
        assert box.std() > 0.05 and dark > 0.005 and colour > 0.001, (i["id"], box.std(), dark, colour)
        want = on_white(pngs[i["id"]])
        if box.shape == want.shape:  # shown at its own size: the very plot, pixel for pixel
            diff = min(
                screen_difference(pixels, want, y + 1 + dy, x + 1 + dx)
                for dy in (-1, 0, 1)
                for dx in (-1, 0, 1)
            )
            assert diff < 0.01, (i["id"], diff)
            exact.append(i["id"])
    assert exact, "no plot was shown at its own size"


def screen_difference(pixels: np.ndarray, image: np.ndarray, top: int, left: int) -> float:
    """Mean absolute difference between an image and the screenshot's pixels at (top, left)."""
    h, w = image.shape[:2]
    if top < 0 or left < 0 or top + h > pixels.shape[0] or left + w > pixels.shape[1]:
        return float("inf")
    return float(np.abs(pixels[top : top + h, left : left + w] - image).mean())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the choice is made for Linux only")
@pytest.mark.parametrize(
    "environ, expected",
    [
        ({}, "egl"),  # no display: MuJoCo's first backend, GLFW, cannot draw
        ({"DISPLAY": ":0"}, None),  # a display: MuJoCo's own choice stands
        ({"WAYLAND_DISPLAY": "wayland-0"}, None),
        ({"MUJOCO_GL": "osmesa"}, "osmesa"),  # the user's choice stands
    ],
)
def test_a_rendered_env_draws_mujoco_off_screen_where_there_is_no_display(monkeypatch, environ, expected):
    from types import SimpleNamespace

    from lightup.viz.episode import make_run_env

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "MUJOCO_GL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    config = SimpleNamespace(env_id="CartPole-v1", max_episode_steps=None)
    make_run_env(SimpleNamespace(config=config, options={}), render_mode="rgb_array").close()
    assert os.environ.get("MUJOCO_GL") == expected
