"""The arithmetic of learning, per env step: the default Decision Transformer's round of updates against SB3
PPO's (the RL Zoo's settings) on the same env, counted by torch's `FlopCounterMode` (matrix products: the
attention kernel and elementwise work are left out, the same for both) and timed in CPU seconds. Beside
the DT's total, the policy's share of it: the rest is its value nets, forward and backward, and the
round's value targets.

Each learner is built as the bench builds it (PPO without the zoo's ``VecNormalize`` where it has one: the
same arithmetic), trained for a few rounds, then one more round is counted and
further rounds timed (the median of ``--rounds``, one torch thread). A round is the learner's own: the DT's
8 envs x 32 steps and their updates (with the round's value targets), PPO's ``n_envs`` x ``n_steps`` and its
epochs of minibatches. The ratio of MFLOP per env step says how much more arithmetic the DT does for the
same data; GFLOP/s, how busy the core is while doing it (a learner bound by per-call overhead runs far below
the core's peak).

With ``--ops``, the DT's rounds on the first env under torch's profiler too: the operators that take the
most CPU time (where a round goes besides its matrix products).

    python benchmarks/flops.py [--envs CartPole-v1 LunarLander-v3] [--rounds 8] [--ops]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

import torch
from round_cost import trainer as warm_trainer
from torch.utils.flop_counter import FlopCounterMode

from lightup.bench.job import Job
from lightup.bench.sb3 import build_model
from lightup.bench.zoo import hyperparameters


def dt_round(env_id: str, rounds: int, ops: bool = False) -> dict:
    trainer = warm_trainer("default", env_id)  # after 2,048 env steps of the default
    with FlopCounterMode(display=False) as counter:
        trainer._update()
    seconds = []
    for _ in range(rounds):
        start = time.process_time()
        trainer._update()
        seconds.append(time.process_time() - start)
    if ops:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as profiled:
            for _ in range(3):
                trainer._update()
        print(profiled.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))
    c, total = trainer.config, counter.get_total_flops()
    trainer.close()
    shutil.rmtree(
        Path(trainer.run_dir).parent, ignore_errors=True
    )  # the temporary folder `warm_trainer` made
    policy_flops = sum(counter.get_flop_counts()[type(trainer.policy).__name__].values())
    return {
        "flops": total,
        "policy_share": policy_flops / total,
        "seconds": statistics.median(seconds),
        "env_steps": c.n_envs * c.rollout_steps,
        "what": f"{c.updates_per_round} updates of {c.batch_size} windows of {c.context_len} steps",
    }


def ppo_round(env_id: str, rounds: int) -> dict:
    from stable_baselines3.common.env_util import make_vec_env

    params, _ = hyperparameters("ppo", env_id)
    env = make_vec_env(env_id, n_envs=params["n_envs"], seed=0)
    model, _ = build_model("ppo", Job(env_id, "sb3-ppo", 0, params["zoo_steps"], params["zoo_steps"]), env)
    train, counted, seconds = model.train, [], []

    def measured() -> None:  # the first round counted, the others timed
        if not counted:
            with FlopCounterMode(display=False) as counter:
                train()
            counted.append(counter.get_total_flops())
            return
        start = time.process_time()
        train()
        seconds.append(time.process_time() - start)

    model.train = measured
    per_round = model.n_steps * model.n_envs
    model.learn(total_timesteps=per_round * (rounds + 1))
    env.close()
    batches = per_round // model.batch_size
    return {
        "flops": counted[0],
        "seconds": statistics.median(seconds),
        "env_steps": per_round,
        "policy_share": 1.0,  # actor and critic: one network's parameters, one loss
        "what": f"{model.n_epochs} epochs of {batches} minibatches of {model.batch_size} steps",
    }


def core_rate(rows: int = 1280, width: int = 64, repeats: int = 200) -> float:
    """GFLOP/s of one plain matrix product the size of a value net's hidden layer over a round's batch of
    windows (128 windows x 10 steps, 64 wide): what this core does when arithmetic is all there is."""
    a, b = torch.randn(rows, width), torch.randn(width, width)
    for _ in range(10):
        a @ b
    start = time.process_time()
    for _ in range(repeats):
        a @ b
    return 2 * rows * width * width * repeats / (time.process_time() - start) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "LunarLander-v3"])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--ops", action="store_true", help="profile the DT's rounds on the first env")
    args = parser.parse_args()
    torch.set_num_threads(1)
    lines = [
        "| env | learner | a round | MFLOP per env step | ratio to PPO | the policy's share | GFLOP/s "
        "| CPU ms per env step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for i, env_id in enumerate(args.envs):
        rows = {
            "dt-stacked (default)": dt_round(env_id, args.rounds, args.ops and i == 0),
            "sb3-ppo (zoo)": ppo_round(env_id, args.rounds),
        }
        ppo = rows["sb3-ppo (zoo)"]
        ppo_per_step = ppo["flops"] / ppo["env_steps"]
        for name, r in rows.items():
            per_step = r["flops"] / r["env_steps"]
            rate, ms = r["flops"] / r["seconds"] / 1e9, r["seconds"] / r["env_steps"] * 1e3
            lines.append(
                f"| {env_id} | {name} | {r['what']} | {per_step / 1e6:.2f} | {per_step / ppo_per_step:.1f} | "
                f"{r['policy_share']:.2f} | {rate:.1f} | {ms:.3f} |"
            )
    print("\n".join(lines))
    print(f"\nThe core's own rate on one (1280 x 64) @ (64 x 64) product: {core_rate():.1f} GFLOP/s")


if __name__ == "__main__":
    main()
