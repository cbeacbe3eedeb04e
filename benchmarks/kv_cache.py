"""Per-step rollout latency of the Decision Transformer: the KV cache against an exact recompute.

The recompute baseline is `SequencePolicy`'s default incremental interface: it keeps the last K steps and
runs the full forward over them for every new step. The cache pushes one step's tokens through a ring
buffer of keys and values. Both run on the same model, in steady state (every sequence already holds K
steps), one torch thread, alternating in blocks so that machine noise hits both alike. Time is the
process's CPU time (`time.process_time`), which other load on a shared machine disturbs less than wall time.

    python benchmarks/kv_cache.py            # writes benchmarks/results/kv_cache.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from datetime import date
from pathlib import Path

import torch
from timing import clock

from lightup.models import DecisionTransformer, DTConfig
from lightup.models.policy import SequencePolicy

RESULTS = Path(__file__).parent / "results"


DEVICE = torch.device("cpu")


def step_inputs(n: int, obs_dim: int, act_dim: int, t: int) -> tuple[torch.Tensor, ...]:
    return (
        torch.randn(n, device=DEVICE),
        torch.randn(n, obs_dim, device=DEVICE),
        torch.randint(0, act_dim, (n,), device=DEVICE),
        torch.full((n,), t, dtype=torch.long, device=DEVICE),
    )


def time_steps(begin, push, n: int, k: int, obs_dim: int, act_dim: int, blocks: int, steps: int) -> float:
    """Median seconds per push over ``blocks`` blocks of ``steps`` pushes, after filling K steps."""
    begin(n)
    t = 0
    for _ in range(k):
        push(*step_inputs(n, obs_dim, act_dim, t))
        t += 1
    per_step = []
    for _ in range(blocks):
        inputs = [step_inputs(n, obs_dim, act_dim, t + i) for i in range(steps)]
        start = clock(DEVICE.type)
        for x in inputs:
            push(*x)
        per_step.append((clock(DEVICE.type) - start) / steps)
        t += steps
    return statistics.median(per_step)


@torch.inference_mode()  # as in rollouts
def measure(layout: str, n: int, k: int, blocks: int, steps: int) -> tuple[float, float]:
    obs_dim, act_dim = 8, 4  # LunarLander's sizes
    config = DTConfig(obs_dim=obs_dim, act_dim=act_dim, discrete=True, context_len=k, layout=layout)
    model = DecisionTransformer(config).to(DEVICE).eval()
    cached, recompute = [], []
    for _ in range(blocks):  # alternate, one block each, so that load on the machine hits both
        cached.append(time_steps(model.begin, model.push, n, k, obs_dim, act_dim, 1, steps))
        recompute.append(
            time_steps(
                lambda m: SequencePolicy.begin(model, m),
                lambda *x: SequencePolicy.push(model, *x),
                n,
                k,
                obs_dim,
                act_dim,
                1,
                steps,
            )
        )
    return statistics.median(cached), statistics.median(recompute)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu", help="cpu (CPU time) or cuda (wall time)")
    parser.add_argument("--out", type=Path, default=RESULTS / "kv_cache.md")
    args = parser.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    device_name = torch.cuda.get_device_name() if DEVICE.type == "cuda" else "the CPU"
    command = "python benchmarks/kv_cache.py" + ("" if args.device == "cpu" else f" --device {args.device}")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    lines = [
        "# KV cache against recompute: per-step rollout cost",
        "",
        f"`{command}` on {date.today()}, {platform.machine()} with {os.cpu_count()} cores, "
        f"torch {torch.__version__}, one torch thread, on {device_name}. Per-step cost is the process's "
        "CPU time on the CPU (on a shared machine, wall time counts other people's load), wall time on a "
        "GPU. Model: 3 layers, 4 heads, "
        "width 64, "
        f"8-dim observations, 4 actions. Median over {args.blocks} alternating blocks of {args.steps} steps, "
        "each sequence already holding K steps.",
        "",
        "| layout | K | batch | cache ms/step | recompute ms/step | speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for layout in ("stacked", "interleaved"):
        for k in (20, 60):
            for n in (1, 16, 64):
                cached, recompute = measure(layout, n, k, args.blocks, args.steps)
                row = (
                    f"| {layout} | {k} | {n} | {cached * 1e3:.2f} | {recompute * 1e3:.2f} | "
                    f"{recompute / cached:.1f}x |"
                )
                print(row, flush=True)
                lines.append(row)
    lines += ["", "Goal (issue 3): at least 10x at batch 16, K 60."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
