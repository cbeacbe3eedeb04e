"""What holds on a CUDA GPU: the KV cache's exactness, run-to-run determinism, and training speed.

CI has no GPU, so these are checked here, by hand, on a machine that has one:

- exactness: the cached rollout step against the full forward on the same context, float32, both layouts,
  discrete and continuous, within and past K steps (the tests check the same on the CPU);
- determinism: two short training runs with the same seed on the GPU, compared weight by weight and metric
  by metric (the tests check the CPU);
- speed: env steps per second of a short CartPole-v1 run with the model on the GPU and on the CPU.

    python benchmarks/gpu.py --out benchmarks/results/gpu.md
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import torch

from lightup.models import DecisionTransformer, DTConfig
from lightup.training.config import TrainConfig
from lightup.training.logger import read_metrics
from lightup.training.trainer import Trainer

VOLATILE = ("time/", "wall")  # metrics that measure the clock


@torch.inference_mode()
def cache_error(layout: str, discrete: bool, device: str, k: int = 8, steps: int = 24, n: int = 4) -> float:
    torch.manual_seed(0)
    obs_dim, act_dim = 5, 3
    config = DTConfig(obs_dim, act_dim, discrete=discrete, context_len=k, layout=layout)
    model = DecisionTransformer(config).to(device).eval()
    rtg = torch.randn(n, steps, device=device)
    states = torch.randn(n, steps, obs_dim, device=device)
    if discrete:
        prev = torch.randint(0, act_dim, (n, steps), device=device)
        prev[:, 0] = act_dim  # the start token
    else:
        prev = torch.rand(n, steps, act_dim, device=device) * 2 - 1
    timesteps = torch.arange(steps, device=device).expand(n, steps)
    mask = torch.ones(n, steps, dtype=torch.bool, device=device)
    full = model(rtg, states, prev, timesteps, mask)
    model.begin(n)
    cached = torch.stack(
        [model.push(rtg[:, i], states[:, i], prev[:, i], timesteps[:, i]) for i in range(steps)], 1
    )
    return float((full - cached).abs().max())


def short_run(env_id: str, steps: int, device: str, seed: int, run_dir: Path) -> tuple[Trainer, float]:
    config = TrainConfig(
        env_id=env_id,
        total_steps=steps,
        seed=seed,
        device=device,
        quiet=True,
        tensorboard=False,
        run_dir=str(run_dir),
    )
    start = time.perf_counter()
    trainer = Trainer(config).learn()
    return trainer, time.perf_counter() - start


def determinism(env_id: str, steps: int, device: str) -> tuple[bool, bool, float]:
    """(same weights, same metrics, max weight difference) for two runs with one seed."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = [short_run(env_id, steps, device, 0, Path(tmp) / f"run{i}") for i in range(2)]
        a, b = (r[0].policy.state_dict() for r in runs)
        diff = max(float((a[key].float() - b[key].float()).abs().max()) for key in a)
        metrics = []
        for i in range(2):
            rows = read_metrics(Path(tmp) / f"run{i}")
            metrics.append([{k: v for k, v in row.items() if not k.startswith(VOLATILE)} for row in rows])
        for trainer, _ in runs:
            trainer.close()
    return diff == 0.0, metrics[0] == metrics[1], diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "gpu.md")
    parser.add_argument("--speed-steps", type=int, default=8192)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: this benchmark is for a machine with one")
    torch.set_num_threads(1)
    name = torch.cuda.get_device_name()
    lines = [
        "# On a CUDA GPU",
        "",
        f"`python benchmarks/gpu.py` on {date.today()}, {name}, {platform.machine()} host, "
        f"torch {torch.__version__}.",
        "",
        "## KV cache against the full forward (float32, max abs difference; the bar is 1e-5)",
        "",
        "| layout | actions | GPU | CPU |",
        "|---|---|---|---|",
    ]
    for layout in ("stacked", "interleaved"):
        for discrete in (True, False):
            gpu, cpu = cache_error(layout, discrete, "cuda"), cache_error(layout, discrete, "cpu")
            lines.append(f"| {layout} | {'discrete' if discrete else 'continuous'} | {gpu:.1e} | {cpu:.1e} |")
            print(lines[-1], flush=True)
    lines += [
        "",
        "## Determinism: two runs, one seed (lightup/PressButton-v0, 4,096 env steps)",
        "",
        "| device | same weights | same metrics | max weight difference |",
        "|---|---|---|---|",
    ]
    for device in ("cpu", "cuda"):
        same_w, same_m, diff = determinism("lightup/PressButton-v0", 4096, device)
        lines.append(f"| {device} | {same_w} | {same_m} | {diff:.1e} |")
        print(lines[-1], flush=True)
    lines += [
        "",
        f"## Training speed: CartPole-v1, {args.speed_steps:,} env steps, the defaults, one process",
        "",
        "| model on | wall s | env steps/s |",
        "|---|---|---|",
    ]
    speeds = {}
    with tempfile.TemporaryDirectory() as tmp:
        for device in ("cuda", "cpu"):
            trainer, wall = short_run("CartPole-v1", args.speed_steps, device, 0, Path(tmp) / device)
            speeds[device] = trainer.steps / wall
            trainer.close()
            lines.append(f"| {device} | {wall:.1f} | {speeds[device]:,.0f} |")
            print(lines[-1], flush=True)
    lines += ["", f"GPU over CPU: {speeds['cuda'] / speeds['cpu']:.2f}x."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(json.dumps(speeds))


if __name__ == "__main__":
    main()
