"""Your own model, trained by lightup's trainer and examined by the doctor: a small GRU `SequencePolicy`.

    python examples/custom_policy.py            # 6000 env steps on lightup/PressButton-v0
    python examples/custom_policy.py --steps 256  # a quick look (CI runs it so)

The trainer takes any `SequencePolicy` (see `lightup.models.policy` for the shapes): here a GRU reads each
step's (return-to-go, observation, previous action) and outputs the logits of the next action. The same
factory trains from the command line: `lightup train --policy custom_policy:make_policy` (with this folder
on PYTHONPATH), and the doctor checks it: `lightup doctor --policy custom_policy:make_policy`.
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from torch import Tensor, nn

from lightup import SequencePolicy, TrainConfig, Trainer
from lightup.doctor.checks import Subject, run_static


class GRUPolicy(SequencePolicy):
    """A one-layer GRU over (return-to-go, state, previous action) tokens; causal by construction."""

    def __init__(
        self, obs_dim: int, act_dim: int, discrete: bool = True, hidden: int = 32, context_len: int = 8
    ):
        super().__init__()
        assert discrete, "this example plays discrete actions"
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, context_len
        self.embed_action = nn.Embedding(act_dim + 1, hidden)  # + 1: the start token
        self.embed_step = nn.Linear(1 + obs_dim, hidden)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, act_dim)

    def forward(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor, mask: Tensor
    ) -> Tensor:
        x = self.embed_step(torch.cat([returns_to_go[..., None], states], dim=-1))  # (B, T, H)
        x = torch.tanh(x + self.embed_action(prev_actions))
        out, _ = self.gru(x)  # (B, T, H): step t reads steps <= t only, so right padding never leaks back
        return self.head(out)  # (B, T, A)


def make_policy(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    """The factory the trainer and the doctor call: ``(obs_dim, act_dim, discrete) -> SequencePolicy``."""
    return GRUPolicy(obs_dim, act_dim, discrete)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6000, help="env steps to train for")
    args = parser.parse_args()
    torch.set_num_threads(1)

    failed = [r for r in run_static(Subject(make_policy, name="gru")) if not r.passed]
    for r in failed:
        print(f"doctor: {r.name} failed: {r.detail}")
    print(f"doctor: {'all static checks pass' if not failed else f'{len(failed)} static checks fail'}")

    config = TrainConfig(
        env_id="lightup/PressButton-v0",
        n_envs=8,
        rollout_steps=8,
        updates_per_round=8,
        batch_size=32,
        eval_every=512,
        eval_episodes=20,
        stop_at_threshold=True,
        quiet=True,
        tensorboard=False,
        run_dir=tempfile.mkdtemp(prefix="gru-"),
    )
    trainer = Trainer(config, policy=make_policy).learn(args.steps)
    print(f"trained {type(trainer.policy).__name__} for {trainer.steps} env steps in {trainer.run_dir}")
    print(f"greedy evaluation: {trainer.last_eval} (threshold {trainer.threshold})")
    print(f"solved at: {trainer.solved_at} env steps")
    trainer.close()


if __name__ == "__main__":
    main()
