"""Throughput of the trainer's two phases, each as a ratio to a bare baseline measured in the same run.

- Rollouts: env steps per second of the Decision Transformer's batched, KV-cached rollout (policy and env)
  against plain vectorized CartPole-v1 envs (gymnasium's, without the trainer's observation check) stepped
  with random actions, at 1, 16 and 64 envs.
  Goal (issue 6): at 64 envs the policy costs no more than the env (ratio at least 0.5).
- Updates: training tokens per second of `Trainer._update` (window sampling from the replay buffer, forward,
  masked loss with the entropy term, backward, clipping, AdamW, the entropy temperature, the checks and
  the logged statistics) against a bare PyTorch loop doing the same forward, backward and AdamW step on
  the same, pre-sampled batches: the same loss (advantage-weighted likelihood, value loss, and the entropy
  bonus at the trainer's temperature), without the trainer's sampling, clipping, temperature step, checks
  and statistics. Goal: at least 0.9. Also reported, as in the earlier results files: the ratio to a bare loop
  whose loss leaves the entropy bonus out (less backward work than the trainer's, so a lower ratio).

Times are the process's CPU time (`time.process_time`), one torch thread: on a shared machine wall time
counts other people's load. Median over alternating repeats.

    python benchmarks/throughput.py       # writes benchmarks/results/throughput.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
from datetime import date
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from timing import clock

from lightup.training.advantage import advantage_weights
from lightup.training.config import TrainConfig
from lightup.training.loss import action_log_prob
from lightup.training.recipe import with_env_defaults
from lightup.training.rollout import Rollout
from lightup.training.trainer import Trainer

RESULTS = Path(__file__).parent / "results"
REPEATS = 5
DEVICE = "cpu"


def make_trainer(n_envs: int, run_dir: Path) -> Trainer:
    config = TrainConfig(
        n_envs=n_envs, quiet=True, tensorboard=False, run_dir=str(run_dir), seed=0, device=DEVICE
    )
    return Trainer(config)


def rollout_ratio(n_envs: int, steps: int) -> tuple[float, float]:
    """(env steps/s of the policy rollout, env steps/s of random actions), CPU time."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(n_envs, Path(tmp) / "run")
        envs = trainer._make_envs(n_envs)
        rollout = Rollout(envs, trainer.policy, "CartPole-v1", 100.0, 1.0, trainer.device)
        rollout.start(0, lambda: 100.0)
        # The baseline: plain Gymnasium envs, without the trainer's observation check.
        raw = gym.vector.SyncVectorEnv(
            [lambda: gym.make("CartPole-v1") for _ in range(n_envs)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
        )
        raw.reset(seed=0)
        rng = np.random.default_rng(0)
        policy_sps, random_sps = [], []
        for _ in range(REPEATS):
            start = clock(DEVICE)
            rollout.collect(steps)
            policy_sps.append(steps * n_envs / (clock(DEVICE) - start))
            actions = [rng.integers(0, 2, n_envs) for _ in range(steps)]
            start = clock(DEVICE)
            for a in actions:
                raw.step(a)
            random_sps.append(steps * n_envs / (clock(DEVICE) - start))
        envs.close()
        raw.close()
        return statistics.median(policy_sps), statistics.median(random_sps)


def update_ratio(updates: int) -> tuple[float, float, float]:
    """(tokens/s of Trainer._update, tokens/s of a bare loop with the same loss on the same batches, tokens/s
    of that loop without the entropy bonus), CPU time."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(16, Path(tmp) / "run")
        trainer.learn(2048)  # fills the replay buffer with real CartPole episodes
        c = trainer.config
        trainer.config = c = dataclasses.replace(c, updates_per_round=updates)
        tokens = updates * c.batch_size * c.context_len
        batches = [
            {
                key: value.to(trainer.device)
                for key, value in trainer.buffer.sample(
                    c.batch_size, c.context_len, trainer.rng, c.return_scale, 2
                ).items()
            }
            for _ in range(updates)
        ]
        model, value_net = trainer.policy, trainer.value_net
        # The trainer's optimizers, as it builds them (foreach), so that only the loop around them differs.
        bare_opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay, foreach=True)
        if value_net is not None:  # advantage weighting: the value's forward, backward and Adam step too
            value_opt = torch.optim.Adam(value_net.parameters(), lr=c.lr, foreach=True)

        # The entropy bonus's weight: the trainer's temperature, held at its value (the trainer steps it).
        alpha = float(trainer.log_alpha.detach().exp()) if c.entropy_target > 0 else 0.0

        def bare(entropy_bonus: bool) -> None:
            model.train()
            for batch in batches:
                batch = dict(batch)
                actions, mask = batch.pop("actions"), batch["mask"]
                targets = batch.pop("value_targets", None)
                log_prob, dist = action_log_prob(model(**batch), actions, mask, discrete=True)
                if value_net is None:
                    loss = -log_prob.sum() / mask.sum()
                else:
                    values = value_net(batch["states"]).squeeze(-1)
                    weights = advantage_weights(targets - values.detach(), mask, c.advantage_beta)
                    loss = (((values - targets) ** 2 - weights * log_prob) * mask).sum() / mask.sum()
                    value_opt.zero_grad(set_to_none=True)
                if entropy_bonus:
                    loss = loss - alpha * (dist.entropy() * mask).sum() / mask.sum()
                bare_opt.zero_grad(set_to_none=True)
                loss.backward()
                bare_opt.step()
                if value_net is not None:
                    value_opt.step()

        ours, base, base_no_entropy = [], [], []
        for _ in range(REPEATS):
            start = clock(DEVICE)
            trainer._update()
            ours.append(tokens / (clock(DEVICE) - start))
            start = clock(DEVICE)
            bare(entropy_bonus=True)
            base.append(tokens / (clock(DEVICE) - start))
            start = clock(DEVICE)
            bare(entropy_bonus=False)
            base_no_entropy.append(tokens / (clock(DEVICE) - start))
        trainer.close()
        return statistics.median(ours), statistics.median(base), statistics.median(base_no_entropy)


def main() -> None:
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the model runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.md")
    args = parser.parse_args()
    DEVICE = args.device
    torch.set_num_threads(1)
    device_name = torch.cuda.get_device_name() if DEVICE == "cuda" else "the CPU"
    c = with_env_defaults(TrainConfig(preset="cartpole"), None)  # CartPole-v1's measured model
    lines = [
        "# Throughput: the trainer's phases against bare baselines",
        "",
        f"`python benchmarks/throughput.py{'' if DEVICE == 'cpu' else ' --device cuda'}` on {date.today()}, "
        f"{platform.machine()} with {os.cpu_count()} cores, torch {torch.__version__}, gymnasium "
        f"{gym.__version__}, one torch thread, the model on {device_name}; CPU time of the process on the "
        f"CPU, wall time with a GPU, median of {REPEATS} alternating repeats. Model: the CartPole-v1 "
        f"defaults ({c.layout}, {c.n_layer} layer(s), width {c.n_embd}, K {c.context_len}, timestep "
        f"embedding {'on' if c.timestep_embedding else 'off'}, advantage weighting "
        f"{'on' if c.advantage_beta else 'off'}).",
        "",
        "## Rollouts on CartPole-v1 (env steps per second)",
        "",
        "| envs | DT rollout (policy + env) | env alone, random actions | ratio |",
        "|---|---|---|---|",
    ]
    for n in (1, 16, 64):
        ours, base = rollout_ratio(n, steps=max(2048 // n, 32))
        lines.append(f"| {n} | {ours:,.0f} | {base:,.0f} | {ours / base:.2f} |")
        print(lines[-1], flush=True)
    lines += [
        "",
        "Goal: at least 0.5 at 64 envs.",
        "",
        "## Updates (training tokens per second: batch x K)",
        "",
        "| trainer update | bare loop, same batches, same loss | ratio | bare loop without the entropy bonus "
        "| ratio |",
        "|---|---|---|---|---|",
    ]
    ours, base, base_no_entropy = update_ratio(16)
    lines.append(
        f"| {ours:,.0f} | {base:,.0f} | {ours / base:.2f} | {base_no_entropy:,.0f} | "
        f"{ours / base_no_entropy:.2f} |"
    )
    print(lines[-1], flush=True)
    lines += ["", "Goal: at least 0.9 against the bare loop with the same loss."]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
