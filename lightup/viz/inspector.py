"""``lightup inspect RUN_DIR [--command R] [--seed S] [--sample] [--episode N]``: one episode as a table.

Without ``--episode`` a fresh episode is rolled out from the checkpoint (greedy unless ``--sample``); with
``--episode N`` the N-th episode of the run's replay buffer (0 the oldest, -1 the newest) is replayed: what
was done then, with the probabilities the policy gives now.
"""

from __future__ import annotations

import numpy as np
import torch

from lightup.errors import LightupError
from lightup.models.policy import SequencePolicy
from lightup.ranges import check_args
from lightup.training.returns import commanded_returns_to_go
from lightup.viz.args import InspectArgs
from lightup.viz.episode import (
    EpisodeRecord,
    Step,
    action_value,
    action_view,
    load_trainer,
    make_run_env,
    play_episode,
)

NUMBERS = ("command", "seed", "episode", "max_steps")  # flags checked against lightup.ranges


def compact_description(obs: np.ndarray) -> str:
    """A state-free description: "lit: button 1" for a one-hot observation, else the numbers."""
    obs = np.asarray(obs).reshape(-1)
    if obs.size and np.all((obs == 0) | (obs == 1)):
        lit = np.flatnonzero(obs)
        if len(lit) == 0:
            return "all lights off"
        return "lit: " + ", ".join(f"button {i}" for i in lit)
    return np.array2string(obs, precision=3, max_line_width=200)


def rows(record: EpisodeRecord) -> list[dict]:
    """The table's rows as plain values, one per step."""
    return [
        {
            "t": s.t,
            "observation": s.description,
            "return_to_go": s.return_to_go,
            "probs": [float(p) for p in s.probs],
            "action": s.action if isinstance(s.action, int) else [round(a, 3) for a in s.action],
            "reward": s.reward,
            "end": "terminated" if s.terminated else "truncated" if s.truncated else "",
        }
        for s in record.steps
    ]


def table(record: EpisodeRecord, title: str = ""):
    from rich.table import Table

    out = Table(title=title, show_lines=False)
    for name, justify in [
        ("t", "right"),
        ("observation", "left"),
        ("return-to-go", "right"),
        ("action probabilities" if record.discrete else "greedy action", "left"),
        ("action", "right"),
        ("reward", "right"),
        ("", "left"),
    ]:
        out.add_column(name, justify=justify)
    for row in rows(record):
        best = int(np.argmax(row["probs"])) if record.discrete else -1  # no most likely one to bold
        probs = " ".join(
            f"[bold]{p:.2f}[/bold]" if i == best else f"{p:.2f}" for i, p in enumerate(row["probs"])
        )
        out.add_row(
            str(row["t"]),
            row["observation"],
            f"{row['return_to_go']:g}",
            probs,
            str(row["action"]),
            f"{row['reward']:g}",
            row["end"],
        )
    return out


@torch.inference_mode()
def replay_episode(policy: SequencePolicy, episode, return_scale: float) -> EpisodeRecord:
    """A stored episode (`lightup.training.replay.Episode`) with the policy's current probabilities."""
    rtg = commanded_returns_to_go(episode.rewards, episode.commanded, episode.gamma)
    start = policy.start_action if policy.discrete else 0
    record = EpisodeRecord(
        float(episode.commanded), return_scale, start_action=start, discrete=policy.discrete
    )
    n = episode.length
    for t in range(n):
        record.steps.append(
            Step(
                t=t,
                observation=np.asarray(episode.observations[t], np.float32).reshape(-1),
                description=compact_description(episode.observations[t]),
                return_to_go=float(rtg[t]),
                probs=np.zeros(policy.act_dim),
                action=action_value(episode.actions[t], policy.discrete),
                reward=float(episode.rewards[t]),
                terminated=t == n - 1 and bool(episode.terminated),
                truncated=t == n - 1 and not episode.terminated,
            )
        )
    policy.eval()
    device = next(policy.parameters()).device
    inputs = {k: v.to(device) for k, v in record.policy_inputs().items()}
    probs = action_view(policy(**inputs)[0], policy.discrete)  # (T, A)
    for step, p in zip(record.steps, probs, strict=True):
        step.probs = p
    return record


def inspect_run(
    run_dir,
    command: float | None = None,
    seed: int = 0,
    greedy: bool = True,
    episode: int | None = None,
    max_steps: int | None = None,
    trainer=None,
) -> EpisodeRecord:
    """The episode `lightup inspect` shows: rolled out, or replayed from the buffer if ``episode`` is set."""
    trainer = trainer or load_trainer(run_dir)
    scale = trainer.config.return_scale
    if episode is not None:
        stored = trainer.buffer.episodes
        if not stored:
            raise LightupError(
                f"the replay buffer of {str(run_dir)!r} is empty: there is no episode to replay"
            )
        if not -len(stored) <= episode < len(stored):
            raise LightupError(
                f"--episode {episode} is out of range: the buffer holds {len(stored)} episodes "
                f"(0 to {len(stored) - 1}, or -1 for the newest)"
            )
        return replay_episode(trainer.eval_policy, stored[episode], scale)
    env = make_run_env(trainer)
    try:
        target = float(trainer.eval_target() if command is None else command)
        return play_episode(
            trainer.eval_policy,
            env,
            target,
            scale,
            seed,
            greedy,
            max_steps=max_steps,
            gamma=trainer.config.gamma,
        )
    finally:
        env.close()


def run(args: InspectArgs) -> int:
    """`lightup inspect`: print the episode's table."""
    check_args(args, NUMBERS)
    record = inspect_run(args.run_dir, args.command, args.seed, not args.sample, args.episode, args.max_steps)
    from rich.console import Console

    how = (
        f"replay of buffer episode {args.episode}"
        if args.episode is not None
        else ("sampled" if args.sample else "greedy")
    )
    title = f"{args.run_dir}: {how}, commanded {record.command:g}, return {record.ret:g}"
    Console().print(table(record, title))
    return 0
