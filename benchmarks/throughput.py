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

- Compiled updates: the update's forward and loss under ``torch.compile`` (backward through it, then the
  trainer's clipping and fused optimizers) against the same step in eager mode, with the time of the first
  call (the compilation): worth it only if the time saved over a run's updates exceeds it.
- Overlapped rounds: wall time of a round of the default recipe (8 envs x 32 steps, then its updates), one
  phase after the other against the rollout in a worker thread during the updates (``overlap``).

Times are the process's CPU time (`time.process_time`), one torch thread: on a shared machine wall time
counts other people's load. The compiled and overlapped rows are wall time (the compiler's workers and the
rollout's thread would count twice in CPU time). Median over alternating repeats.

    python benchmarks/throughput.py       # writes benchmarks/results/throughput.md
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from timing import clock

from lightup.training.advantage import advantage_weights
from lightup.training.config import TrainConfig
from lightup.training.loss import masked_mean
from lightup.training.overlap import RolloutAhead
from lightup.training.recipe import with_env_defaults
from lightup.training.rollout import Rollout
from lightup.training.trainer import Trainer
from lightup.training.update import categorical_log_prob

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
        envs = trainer.env_source.rollout_envs(n_envs)
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


def bare_loss(model, value_net, batch: dict, alpha, beta: float, k: int, entropy_bonus: bool = True):
    """The trainer's loss of one batch without its checks: the policy's advantage-weighted likelihood with
    the entropy bonus at ``alpha``, and with a value net the loss of its values and Q values (one or a
    pair), the advantages taken against Q under the policy of value ``k`` (the recipe's baseline)."""
    b = dict(batch)
    actions, mask = b.pop("actions"), b["mask"]
    targets, rows = b.pop("value_targets"), b.pop("value_inputs")
    params = model(**b)
    log_prob, entropy = categorical_log_prob(params, actions, mask)
    n_real = mask.sum().clamp(min=1)
    out = value_net(rows)
    if out.dim() == 3:  # one value: the shape of a pair's
        out, targets = out.unsqueeze(-2), targets.unsqueeze(-1)
    values, q = out[..., 0], out[..., 1:]
    taken = actions.masked_fill(~mask, 0)[..., None, None].expand(*actions.shape, q.shape[-2], 1)
    q_taken = q.gather(-1, taken).squeeze(-1)
    value_loss = masked_mean(((values - targets) ** 2).sum(-1), mask)
    value_loss = value_loss + masked_mean(((q_taken - targets) ** 2).sum(-1), mask)
    advantages = q_taken[..., k].detach() - (params.detach().softmax(-1) * q[..., k, :].detach()).sum(-1)
    weights = advantage_weights(advantages, mask, beta)
    loss = -(weights * log_prob).sum() / n_real + value_loss
    if entropy_bonus:
        loss = loss - alpha * (entropy * mask).sum() / n_real
    return loss


def trained_trainer(n_envs: int, run_dir: Path) -> tuple[Trainer, list[dict], dict]:
    """A default trainer after 2,048 env steps of CartPole-v1 (a replay of real episodes, their value
    targets bootstrapped as a round does), 16 batches sampled from it, and the optimizers' kernel."""
    trainer = make_trainer(n_envs, run_dir)
    trainer.learn(2048)
    c = trainer.config
    assert c.advantage_baseline == "policy", "the bare loop takes the default's Q baseline"
    trainer.buffer.bootstrap_value_targets(trainer._values, (c.advantage_lambda, 0.0))
    batches = [
        {
            key: value.to(trainer.device)
            for key, value in trainer.buffer.sample(
                c.batch_size, c.context_len, trainer.rng, c.return_scale, 2
            ).items()
        }
        for _ in range(16)
    ]
    return trainer, batches, {c.optimizer_kernel: True}


def update_ratio() -> tuple[float, float, float]:
    """(tokens/s of Trainer._update, tokens/s of a bare loop with the same loss on the same batches, tokens/s
    of that loop without the entropy bonus), CPU time."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer, batches, kernel = trained_trainer(16, Path(tmp) / "run")
        trainer.config = c = dataclasses.replace(trainer.config, updates_per_round=len(batches))
        tokens = len(batches) * c.batch_size * c.context_len
        model, value_net = trainer.policy, trainer.value_net
        # The trainer's optimizers, as it builds them, so that only the loop around them differs.
        bare_opt = torch.optim.AdamW(model.parameters(), lr=c.lr, weight_decay=c.weight_decay, **kernel)
        value_opt = torch.optim.Adam(value_net.parameters(), lr=c.lr, **kernel)
        # The entropy bonus's weight: the trainer's temperature, held at its value (the trainer steps it).
        alpha = float(trainer.log_alpha.detach().exp()) if c.entropy_target > 0 else 0.0
        k = value_net.chosen if hasattr(value_net, "chosen") else 0

        def bare(entropy_bonus: bool) -> None:
            model.train()
            for batch in batches:
                loss = bare_loss(model, value_net, batch, alpha, c.advantage_beta, k, entropy_bonus)
                bare_opt.zero_grad(set_to_none=True)
                value_opt.zero_grad(set_to_none=True)
                loss.backward()
                bare_opt.step()
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


def compiled_update() -> tuple[float, float, float]:
    """(ms per update eager, ms per update compiled, s of the first compiled call), wall time: the forward
    and the loss of the trainer's update (`bare_loss`) as one function, then backward, clipping and the
    trainer's optimizers."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer, batches, _ = trained_trainer(8, Path(tmp) / "run")
        c, model, value_net = trainer.config, trainer.policy, trainer.value_net
        alpha = torch.tensor(float(trainer.log_alpha.detach().exp()))
        k = value_net.chosen if hasattr(value_net, "chosen") else 0

        def loss_of(batch):
            return bare_loss(model, value_net, batch, alpha, c.advantage_beta, k)

        def step(loss_fn, batch) -> None:
            loss = loss_fn(batch)
            trainer.optimizer.zero_grad(set_to_none=True)
            trainer.value_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainer._parameters, c.grad_clip, foreach=True)
            trainer.optimizer.step()
            trainer.value_optimizer.step()

        model.train()
        compiled = torch.compile(loss_of, dynamic=False)
        start = time.perf_counter()
        step(compiled, batches[0])
        compile_s = time.perf_counter() - start
        for batch in batches[:4]:  # padded and unpadded windows: each kind of graph compiled before timing
            step(compiled, batch)
        eager, fast = [], []
        for _ in range(REPEATS):
            for fn, times in ((loss_of, eager), (compiled, fast)):
                start = time.perf_counter()
                for batch in batches:
                    step(fn, batch)
                times.append((time.perf_counter() - start) / len(batches) * 1e3)
        trainer.close()
        return statistics.median(eager), statistics.median(fast), compile_s


def overlapped_rounds(rounds: int) -> tuple[float, float]:
    """(s per round, phases one after the other; s per round, the rollout in a worker thread during the
    updates), wall time, the default recipe's rounds (8 envs x 32 steps, then its updates)."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer = make_trainer(8, Path(tmp) / "run")
        trainer.learn(2048)
        c = trainer.config
        command = lambda: 500.0  # noqa: E731 (a fixed command: the timing's, no generator shared by threads)
        sequential = Rollout(
            trainer.env_source.rollout_envs(8), trainer.policy, c.env_id, c.return_scale, c.gamma, "cpu"
        )
        sequential.start(0, command)
        played = RolloutAhead.policy_copy(trainer.policy)
        ahead = RolloutAhead(
            Rollout(trainer.env_source.rollout_envs(8), played, c.env_id, c.return_scale, c.gamma, "cpu")
        )
        ahead.rollout.start(0, command)
        one_after_other, overlapped = [], []
        for _ in range(REPEATS):
            start = time.perf_counter()
            for _ in range(rounds):
                trainer.policy.eval()
                sequential.collect(c.rollout_steps)
                trainer._update()
                sequential.refresh()
            one_after_other.append((time.perf_counter() - start) / rounds)
            start = time.perf_counter()
            for _ in range(rounds):
                ahead.start(c.rollout_steps, 1.0, 0)
                trainer._update()
                ahead.result()
                ahead.take_weights(trainer.policy, ahead.rollout.refresh)
            overlapped.append((time.perf_counter() - start) / rounds)
        ahead.close()
        trainer.close()
        return statistics.median(one_after_other), statistics.median(overlapped)


def main() -> None:
    global DEVICE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the model runs")
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.md")
    args = parser.parse_args()
    DEVICE = args.device
    torch.set_num_threads(1)
    device_name = torch.cuda.get_device_name() if DEVICE == "cuda" else "the CPU"
    c = with_env_defaults(TrainConfig(), None)  # the default recipe's model, as make_trainer builds it
    lines = [
        "# Throughput: the trainer's phases against bare baselines",
        "",
        f"`python benchmarks/throughput.py{'' if DEVICE == 'cpu' else ' --device cuda'}` on {date.today()}, "
        f"{platform.machine()} with {os.cpu_count()} cores, torch {torch.__version__}, gymnasium "
        f"{gym.__version__}, one torch thread, the model on {device_name}; CPU time of the process on the "
        f"CPU, wall time with a GPU, median of {REPEATS} alternating repeats. Model: the default "
        f"recipe's ({c.layout}, {c.n_layer} layer(s), width {c.n_embd}, K {c.context_len}, timestep "
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
    ours, base, base_no_entropy = update_ratio()
    lines.append(
        f"| {ours:,.0f} | {base:,.0f} | {ours / base:.2f} | {base_no_entropy:,.0f} | "
        f"{ours / base_no_entropy:.2f} |"
    )
    print(lines[-1], flush=True)
    lines += ["", "Goal: at least 0.9 against the bare loop with the same loss."]
    if DEVICE == "cpu":
        eager, fast, compile_s = compiled_update()
        saved = eager - fast
        lines += [
            "",
            "## Compiled update (wall ms per update; torch.compile of the forward and the loss)",
            "",
            "| eager | compiled | ratio | first compiled call (s) | updates to earn it back |",
            "|---|---|---|---|---|",
            f"| {eager:.2f} | {fast:.2f} | {eager / fast:.2f} | {compile_s:.1f} | "
            + (f"{compile_s * 1e3 / saved:,.0f} |" if saved > 0 else "never |"),
        ]
        print(lines[-1], flush=True)
        one_after_other, overlapped = overlapped_rounds(8)
        lines += [
            "",
            "## Overlapped rounds (wall ms per round: 8 envs x 32 steps, then its updates)",
            "",
            "| one after the other | rollout in a worker thread during the updates | ratio |",
            "|---|---|---|",
            f"| {one_after_other * 1e3:.1f} | {overlapped * 1e3:.1f} | {one_after_other / overlapped:.2f} |",
        ]
        print(lines[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
