"""The trainer's parts against hand-worked values, and the trainer on the games it must solve."""

from __future__ import annotations

import dataclasses
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from lightup.ranges import HUGE
from lightup.training.commands import CommandConfig, propose_target
from lightup.training.loss import action_nll
from lightup.training.replay import Episode, EpisodeBuffer
from lightup.training.returns import (
    at_commands,
    commanded_returns_to_go,
    lambda_returns,
    next_return_to_go,
    returns_to_go,
)


def test_returns_to_go_by_hand():
    assert returns_to_go(np.array([1.0, 2.0, 3.0])).tolist() == [6.0, 5.0, 3.0]
    # gamma 0.5: 3 -> 2 + 1.5 = 3.5 -> 1 + 1.75 = 2.75
    assert returns_to_go(np.array([1.0, 2.0, 3.0]), gamma=0.5).tolist() == [2.75, 3.5, 3.0]
    assert returns_to_go(np.array([0.0, 0.0, -1.0])).tolist() == [-1.0, -1.0, -1.0]


def test_commanded_returns_to_go_by_hand():
    """What a rollout feeds the policy: the command, less each reward, divided by gamma (R_t = r_t + gamma
    R_{t+1} run backwards); a command equal to the episode's discounted return is then its hindsight
    returns-to-go at every step."""
    assert next_return_to_go(6.0, 1.0) == 5.0
    assert next_return_to_go(2.75, 1.0, gamma=0.5) == 3.5
    rewards = np.array([1.0, 2.0, 3.0])
    assert commanded_returns_to_go(rewards, 10.0).tolist() == [10.0, 9.0, 7.0]
    # gamma 0.5 from 4: (4 - 1) / 0.5 = 6, (6 - 2) / 0.5 = 8
    assert commanded_returns_to_go(rewards, 4.0, gamma=0.5).tolist() == [4.0, 6.0, 8.0]
    for gamma in (1.0, 0.5, 0.9):
        hindsight = returns_to_go(rewards, gamma)
        np.testing.assert_allclose(commanded_returns_to_go(rewards, hindsight[0], gamma), hindsight)


def test_a_commanded_return_to_go_below_gamma_one_stays_finite_over_a_long_episode():
    """Divided by gamma at every step, a command missed by 1 grows as gamma ** -t: 0.1 ** -1000 is inf in
    float64 (and a NaN in the policy's probabilities); it is held at +-HUGE, past any return."""
    fed = commanded_returns_to_go(np.zeros(1000), 1.0, gamma=0.1)
    assert np.all(np.isfinite(fed)) and fed.max() == HUGE
    assert fed[:5].tolist() == [1.0, 10.0, 100.0, 1000.0, 10000.0]  # the same as before it is reached


@pytest.mark.parametrize("gamma", [1.0, 0.5, 0.9])
def test_hindsight_returns_at_commands_are_what_a_rollout_feeds(gamma):
    """A window of an episode that started at return G_0, replayed from command C: at each of its steps,
    `commanded_returns_to_go` of the episode from C."""
    rewards = np.array([1.0, -2.0, 3.0, 0.5, 4.0])
    hindsight, t = returns_to_go(rewards, gamma), np.array([[1, 2, 3], [0, 1, 2]])
    shifted = at_commands(hindsight[t], t, np.full(2, hindsight[0]), np.array([10.0, -3.0]), gamma)
    for row, command, steps in zip(shifted, (10.0, -3.0), t, strict=True):
        np.testing.assert_allclose(row, commanded_returns_to_go(rewards, command, gamma)[steps])


def test_lambda_returns_by_hand():
    """Two episodes one after another in flat arrays, the second cut by a time limit (bootstrap 7)."""
    rewards, values = np.array([1.0, 2.0, 3.0, 5.0, -1.0]), np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    starts, lengths, bootstrap = np.array([0, 3]), np.array([3, 2]), np.array([0.0, 7.0])
    # lam 0, gamma 0.5: r_t + 0.5 V_{t+1}; after the last step 0 (terminated) or 7 (cut)
    td = lambda_returns(rewards, values, starts, lengths, bootstrap, 0.5, 0.0)
    assert td.tolist() == [1 + 0.5 * 20, 2 + 0.5 * 30, 3.0, 5 + 0.5 * 50, -1 + 0.5 * 7]
    # lam 0.5: G_t = r_t + 0.5 (0.5 V_{t+1} + 0.5 G_{t+1}); episode 2: G_1 = -1 + 3.5 = 2.5,
    # G_0 = 5 + 0.5 (25 + 1.25) = 18.125
    lam = lambda_returns(rewards, values, starts, lengths, bootstrap, 0.5, 0.5)
    assert lam[3:].tolist() == [18.125, 2.5]
    # lam 1 with nothing to bootstrap: the discounted returns, whatever the values
    mc = lambda_returns(rewards, values, starts, lengths, np.zeros(2), 0.9, 1.0)
    np.testing.assert_allclose(mc[:3], returns_to_go(rewards[:3], 0.9))
    np.testing.assert_allclose(mc[3:], returns_to_go(rewards[3:], 0.9))


def test_lambda_returns_match_one_episode_at_a_time():
    """Episodes of mixed lengths in any order, two values with their own lambdas: each episode's returns are
    those of the recursion run over it alone, to the bit."""
    rng = np.random.default_rng(3)
    lengths = np.array([2, 7, 1, 7, 4, 9, 3])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    rewards, values = rng.normal(size=lengths.sum()), rng.normal(size=(lengths.sum(), 2))
    bootstrap, lam, gamma = rng.normal(size=(len(lengths), 2)), np.array([0.9, 0.0]), 0.97
    got = lambda_returns(rewards, values, starts, lengths, bootstrap, gamma, lam)
    for e, (start, length) in enumerate(zip(starts, lengths, strict=True)):
        g, v_next = bootstrap[e].copy(), bootstrap[e].copy()
        for i in range(start + length - 1, start - 1, -1):
            g = rewards[i] + gamma * ((1 - lam) * v_next + lam * g)
            v_next = values[i]
            assert got[i].tolist() == g.tolist(), (e, i)


def episode(rewards, actions=None, obs_dim=2, terminated=True, commanded=float("nan")) -> Episode:
    n = len(rewards)
    obs = np.arange(n * obs_dim, dtype=np.float32).reshape(n, obs_dim)
    actions = np.arange(n) % 3 if actions is None else np.asarray(actions)
    return Episode(
        obs, actions.astype(np.int64), np.asarray(rewards, np.float32), terminated, commanded=commanded
    )


def test_hindsight_relabelling_uses_the_rewards_received_not_the_command():
    ep = episode([1.0, 0.0, 1.0], commanded=500.0)
    assert ep.returns_to_go.tolist() == [2.0, 1.0, 1.0]
    assert ep.ret == ep.start_return == 2.0


def test_commands_are_in_discounted_units_when_gamma_is_below_one(tmp_path):
    """Rollouts start each env at the command and feed (R - r) / gamma after each step, so the command is a
    discounted return: the strategies and the evaluation read each episode's return-to-go at its start."""
    from lightup.training.trainer import Trainer

    trainer = Trainer(tiny_config(tmp_path / "run", "CartPole-v1", gamma=0.5, eval_command="best"))
    for rewards in ([1.0, 1.0, 1.0], [0.0, 0.0, 4.0]):  # returns 3 and 4; discounted 1.75 and 1.0
        n = len(rewards)
        trainer.buffer.add(
            Episode(np.zeros((n, 1), np.float32), np.zeros(n, np.int64), np.float32(rewards), True, gamma=0.5)
        )
    assert trainer.buffer.returns().tolist() == [3.0, 4.0]
    assert trainer.buffer.start_returns().tolist() == [1.75, 1.0]
    assert trainer.eval_target() == 1.75


def test_windows_by_hand():
    buf = EpisodeBuffer(10)
    buf.add(episode([1.0, 2.0, 3.0, 4.0], actions=[0, 1, 2, 0]))
    batch = buf.sample(64, 3, np.random.default_rng(0), return_scale=2.0, start_action=3)
    for b in range(64):
        n = int(batch["mask"][b].sum())
        t = batch["timesteps"][b, :n].tolist()
        assert t == list(range(t[0], t[0] + n))  # consecutive steps
        assert n == min(3, t[-1] + 1)  # a window ends at a step and reaches back up to K steps
        rtg = {0: 10.0, 1: 9.0, 2: 7.0, 3: 4.0}
        assert batch["returns_to_go"][b, :n].tolist() == [rtg[s] / 2.0 for s in t]
        actions = [0, 1, 2, 0]
        assert batch["actions"][b, :n].tolist() == [actions[s] for s in t]
        prev = [3 if s == 0 else actions[s - 1] for s in t]  # the start token before step 0
        assert batch["prev_actions"][b, :n].tolist() == prev
        assert not batch["mask"][b, n:].any()
    # windows end at every step, in proportion to how often each step exists
    ends = batch["timesteps"][torch.arange(64), batch["mask"].sum(1) - 1]
    assert set(ends.tolist()) == {0, 1, 2, 3}


def test_windows_by_hand_over_several_episodes_after_each_add():
    buf = EpisodeBuffer(2)
    buf.add(episode([1.0], actions=[0]))
    buf.add(episode([1.0, 1.0], actions=[1, 1]))
    buf.sample(8, 3, np.random.default_rng(0), 1.0, start_action=2)  # a sample before the add below
    buf.add(episode([5.0, 5.0, 5.0], actions=[1, 0, 1]))  # evicts the first episode
    stored = {  # returns-to-go and actions of each step of the two episodes kept
        "short": ([2.0, 1.0], [1, 1]),
        "long": ([15.0, 10.0, 5.0], [1, 0, 1]),
    }
    obs = {"short": np.arange(4.0).reshape(2, 2), "long": np.arange(6.0).reshape(3, 2)}
    batch = buf.sample(256, 2, np.random.default_rng(1), return_scale=5.0, start_action=2)
    seen = set()
    for b in range(256):
        n = int(batch["mask"][b].sum())
        t = batch["timesteps"][b, :n].tolist()
        name = "long" if batch["returns_to_go"][b, 0] * 5.0 > 2.5 else "short"
        rtg, actions = stored[name]
        assert t == list(range(t[-1] - n + 1, t[-1] + 1)) and n == min(2, t[-1] + 1)
        assert batch["returns_to_go"][b, :n].tolist() == pytest.approx([rtg[s] / 5.0 for s in t])
        assert batch["actions"][b, :n].tolist() == [actions[s] for s in t]
        assert batch["prev_actions"][b, :n].tolist() == [2 if s == 0 else actions[s - 1] for s in t]
        assert batch["states"][b, :n].tolist() == obs[name][t].tolist()
        # padding: zeros, the start token as the previous action, no mask
        assert not batch["mask"][b, n:].any() and batch["returns_to_go"][b, n:].abs().sum() == 0
        assert batch["states"][b, n:].abs().sum() == 0 and batch["timesteps"][b, n:].sum() == 0
        assert batch["prev_actions"][b, n:].tolist() == [2] * (2 - n)
        seen.add((name, t[-1]))
    # windows end at every stored step, and at none of the evicted episode's
    assert seen == {("short", 0), ("short", 1), ("long", 0), ("long", 1), ("long", 2)}


def test_value_targets_by_hand_and_after_an_eviction():
    """With value_gamma 0.5, rewards 1, 2, 3, 4: discounted returns 3.25, 4.5, 5, 4 (scaled like the
    returns-to-go); an evicted episode takes its value targets with it."""
    buf = EpisodeBuffer(1, value_gamma=0.5)
    buf.add(episode([9.0, 9.0], actions=[0, 0]))
    buf.sample(4, 2, np.random.default_rng(0), 1.0, start_action=2)
    buf.add(episode([1.0, 2.0, 3.0, 4.0], actions=[0, 1, 2, 0]))  # evicts the first
    batch = buf.sample(64, 3, np.random.default_rng(0), return_scale=2.0, start_action=3)
    values = {0: 3.25, 1: 4.5, 2: 5.0, 3: 4.0}
    for b in range(64):
        n = int(batch["mask"][b].sum())
        t = batch["timesteps"][b, :n].tolist()
        assert batch["value_targets"][b, :n].tolist() == [values[s] / 2.0 for s in t]
        assert batch["value_targets"][b, n:].abs().sum() == 0
    plain = EpisodeBuffer(1)
    plain.add(episode([1.0]))
    assert "value_targets" not in plain.sample(2, 2, np.random.default_rng(0), 1.0, start_action=2)


def test_advantage_weights_by_hand():
    from lightup.training.advantage import advantage_weights

    advantages = torch.tensor([[1.0, 3.0, 100.0], [5.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [True, False, False]])
    # real steps 1, 3, 5: mean 3, std sqrt(8/3); the padded 100 counts for nothing
    z = torch.tensor([-2.0, 0.0, 2.0]) / (8 / 3) ** 0.5
    w = advantage_weights(advantages, mask, beta=0.5)
    expected = torch.tensor([[z[0] / 0.5, z[1] / 0.5, 0.0], [z[2] / 0.5, 0.0, 0.0]]).exp()
    expected[0, 2] = expected[1, 1] = expected[1, 2] = 0.0
    torch.testing.assert_close(w, expected)
    capped = advantage_weights(advantages, mask, beta=0.1, max_weight=20.0)
    assert capped[1, 0] == 20.0 and capped[0, 0] == pytest.approx(float((z[0] / 0.1).exp()))


def test_padded_targets_carry_no_loss():
    params = torch.randn(2, 4, 3)
    actions = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0]])
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    garbage = actions.clone()
    garbage[~mask] = 2
    a = action_nll(params, actions, mask, True)
    b = action_nll(params, garbage, mask, True)
    assert torch.equal(a, b)
    logp = torch.log_softmax(params, -1)
    by_hand = (
        -(logp[0, 0, 0] + logp[0, 1, 1] + logp[1, 0, 2] + logp[1, 1, 2] + logp[1, 2, 0] + logp[1, 3, 0]) / 6
    )
    assert torch.allclose(a, by_hand)


def test_buffer_eviction_fifo_and_top():
    fifo, top = EpisodeBuffer(2, "fifo"), EpisodeBuffer(2, "top")
    for r in (5.0, 1.0, 3.0):
        fifo.add(episode([r]))
        top.add(episode([r]))
    assert fifo.returns().tolist() == [1.0, 3.0]
    assert sorted(top.returns().tolist()) == [3.0, 5.0]
    # A cap on the steps held: episodes go (oldest, or lowest return) until the rest fit; one always stays.
    fifo, top = EpisodeBuffer(10, "fifo", max_steps=5), EpisodeBuffer(10, "top", max_steps=5)
    for rewards in ([5.0, 0.0], [1.0], [3.0, 0.0, 0.0], [4.0]):
        fifo.add(episode(rewards))
        top.add(episode(rewards))
    assert fifo.returns().tolist() == [1.0, 3.0, 4.0] and fifo.n_steps == 5
    assert top.returns().tolist() == [5.0, 4.0] and top.n_steps == 3
    fifo.add(episode([1.0] * 7))
    assert fifo.returns().tolist() == [7.0] and fifo.n_steps == 7  # longer than the cap: kept alone


def test_the_replay_holds_at_most_2_gib_of_observations_by_default(tmp_path):
    from lightup.training.replay import step_cap

    image = 96 * 96 * 3  # CarRacing-v3's observation: 110,592 bytes a step as float32
    assert step_cap(None, image) == (2 << 30) // (4 * image) == 19_418
    assert step_cap(1000, image) == 1000 and step_cap(10**9, image) == 19_418  # a smaller cap given wins
    assert step_cap(None, 4) == 2**31 // 16  # CartPole-v1: never reached
    trainer = Trainer(tiny_config(tmp_path / "run", "CartPole-v1", total_steps=32))
    assert trainer.buffer.max_steps == step_cap(None, 4)


def test_commands_by_hand():
    returns = np.array([1.0, 4.0, 2.0, 3.0])
    rng = np.random.default_rng(0)
    assert propose_target(CommandConfig(kind="fixed", value=7.0), returns, rng) == 7.0
    assert propose_target(CommandConfig(kind="topk", k=2), returns, rng) == pytest.approx(3.5 + 0.5)
    no_jitter = CommandConfig(kind="best", margin=0.05, offset=1.0, jitter=0.0)
    assert propose_target(no_jitter, returns, rng) == pytest.approx(4 + 0.05 * (4 - 1) + 1)
    jittered = [
        propose_target(CommandConfig(kind="best", margin=0.05, offset=1.0, jitter=0.1), returns, rng)
        for _ in range(200)
    ]
    # 5.15 less up to a tenth of its 4.15 above the worst return
    assert min(jittered) >= 5.15 - 0.415 and max(jittered) <= 5.15 and np.std(jittered) > 0
    assert propose_target(CommandConfig(kind="topk", value=2.5), np.array([]), rng) == 2.5
    # From a worst return of 0, best is the best x (1 + margin) + offset, less a share of the target.
    from_zero = CommandConfig(kind="best", margin=0.2, offset=5.0, jitter=0.0)
    assert propose_target(from_zero, np.array([0.0, 50.0, 100.0]), rng) == pytest.approx(125.0)


def test_commands_move_above_a_negative_best_by_the_spread_of_returns():
    rng = np.random.default_rng(0)
    negative = CommandConfig(kind="best", margin=0.2, offset=0.0, jitter=0.0)
    assert propose_target(negative, np.array([-100.0, -50.0]), rng) == pytest.approx(-40.0)
    # best -500 among returns down to -1000: up by 0.2 of the spread of 500 and the offset 5, not by 0.2 x 500
    returns = np.array([-1000.0, -700.0, -500.0])
    above = CommandConfig(kind="best", margin=0.2, offset=5.0, jitter=0.0)
    assert propose_target(above, returns, rng) == pytest.approx(-395.0)
    # the same returns shifted by a constant give the same command, shifted
    assert propose_target(above, returns + 1000.0, rng) == pytest.approx(605.0)
    # a narrow spread far from 0 asks for a small step, as it would near 0 (|best| would ask for 100)
    assert propose_target(above, np.array([-510.0, -500.0]), rng) == pytest.approx(-500 + 2 + 5)
    jittered = CommandConfig(kind="best", margin=0.2, offset=5.0, jitter=0.2)
    draws = np.array([propose_target(jittered, returns, rng) for _ in range(500)])
    # -395 less up to 0.2 of its 605 above the worst return; on average above the best
    assert draws.min() >= -395.0 - 121.0 and draws.max() <= -395.0 and draws.mean() > -500.0
    topk = CommandConfig(kind="topk", k=2)
    assert propose_target(topk, returns, rng) == pytest.approx(-600.0 + 100.0)  # mean -600, std 100


# --- the trainer end to end (small models, fixed seeds and budgets) ---

from tiny import tiny_config  # noqa: E402

from lightup.errors import LightupError  # noqa: E402
from lightup.training.config import TrainConfig  # noqa: E402
from lightup.training.trainer import Trainer  # noqa: E402


def small_config(tmp_path, env_id="lightup/PressButton-v0", **kw) -> TrainConfig:
    larger = dict(
        n_envs=8,
        updates_per_round=8,
        batch_size=32,
        context_len=4,
        n_embd=32,
        eval_every=512,
        eval_episodes=20,
    )
    return tiny_config(tmp_path / "run", env_id, **{"buffer_kind": "fifo", **larger, **kw})


@pytest.mark.parametrize("policy", ["dt", "mlp"])
def test_trainer_solves_press_button(tmp_path, policy):
    """Seed 0, at most 3000 env steps: greedy evaluation reaches the threshold (0.9) on 20 episodes."""
    trainer = Trainer(small_config(tmp_path, policy=policy, stop_at_threshold=True, eval_every=256)).learn(
        3000
    )
    assert trainer.solved_at is not None and trainer.solved_at <= 3000
    assert trainer.evaluate(1.0)["eval/mean_reward"] >= 0.9


def test_trainer_follows_commands_on_the_command_probe(tmp_path):
    """Seed 0, 2000 env steps: commanded +1 picks the +1 action, commanded -1 picks the -1 action."""
    # Plain return-conditioned imitation: advantage weighting (the default recipe's) favours the better action
    # at every command, so a low command is no longer followed on this probe.
    config = small_config(tmp_path, "lightup/CommandFollow-v0", advantage_beta=0.0)
    trainer = Trainer(config).learn(2000)
    assert trainer.evaluate(1.0)["eval/mean_reward"] == 1.0
    assert trainer.evaluate(-1.0)["eval/mean_reward"] == -1.0


def weights(trainer: Trainer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in trainer.policy.state_dict().items()}


def test_same_seed_same_weights_and_metrics(tmp_path):
    from lightup.training.logger import read_metrics

    a = Trainer(small_config(tmp_path / "a")).learn(1024)
    b = Trainer(small_config(tmp_path / "b")).learn(1024)
    for k, v in weights(a).items():
        assert torch.equal(v, weights(b)[k]), k

    def strip(records):
        return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in records]

    assert strip(read_metrics(a.run_dir)) == strip(read_metrics(b.run_dir))
    c = Trainer(small_config(tmp_path / "c", seed=1)).learn(1024)
    assert any(not torch.equal(v, weights(c)[k]) for k, v in weights(a).items())


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    """A run stopped at a checkpoint and resumed equals one that never stopped (CPU, same seed)."""
    whole = Trainer(small_config(tmp_path / "whole", checkpoint_every=512)).learn(1536)
    first = Trainer(small_config(tmp_path / "split", checkpoint_every=512)).learn(512)
    resumed = Trainer.load(first.run_dir).learn(1536)
    assert resumed.steps == whole.steps == 1536
    for k, v in weights(whole).items():
        assert torch.equal(v, weights(resumed)[k]), k


@pytest.mark.parametrize(("budget", "steps"), [(40, 40), (42, 44), (32, 32), (4, 4)])
def test_a_run_stops_at_its_budget_not_at_the_end_of_a_round(tmp_path, budget, steps):
    """Rounds are 4 envs x 8 steps; the last one is cut to the steps left (rounded up to whole env steps),
    and the final evaluation is at the budget."""
    from lightup.training.logger import read_metrics

    trainer = Trainer(tiny_config(tmp_path / "run", eval_every=1_000)).learn(budget)
    assert trainer.steps == steps
    evals = [r["step"] for r in read_metrics(trainer.run_dir) if "eval/mean_reward" in r]
    assert evals == [steps]


def test_ema_averages_the_weights_after_every_update_and_evaluation_plays_them(tmp_path):
    """avg <- ema avg + (1 - ema) w after each optimizer step (the first copies w); greedy evaluation plays
    the averaged copy, rollouts the trained weights."""
    trainer = Trainer(tiny_config(tmp_path / "run", ema=0.9))
    after_steps: list[list[torch.Tensor]] = []
    step = trainer.optimizer.step

    def recording_step(*args, **kwargs):
        out = step(*args, **kwargs)
        after_steps.append([p.detach().clone() for p in trainer.policy.parameters()])
        return out

    trainer.optimizer.step = recording_step
    evaluated = []
    trainer.learn(96)
    assert len(after_steps) == trainer.updates > 2
    expected = after_steps[0]
    for w in after_steps[1:]:
        expected = [0.9 * e + 0.1 * x for e, x in zip(expected, w, strict=True)]
    got = list(trainer.eval_policy.parameters())
    assert trainer.eval_policy is not trainer.policy
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e)
    assert any(not torch.equal(g, w) for g, w in zip(got, after_steps[-1], strict=True))
    push = trainer.eval_policy.push
    trainer.eval_policy.push = lambda *a: evaluated.append(1) or push(*a)
    trained = trainer.policy.push
    trainer.policy.push = lambda *a: evaluated.append(0) or trained(*a)
    metrics = trainer.evaluate()
    assert evaluated.count(1) > 0 and evaluated.count(0) > 0  # the trained weights are evaluated too
    assert set(metrics) >= {"eval/mean_reward", "eval/trained_mean_reward"}


@pytest.mark.parametrize("baseline", ["value", "policy"])
def test_advantage_weighting_solves_press_button(tmp_path, baseline):
    """Seed 0, at most 3000 env steps, as the plain trainer, with either baseline."""
    switches = dict(advantage_beta=1.0, advantage_baseline=baseline, stop_at_threshold=True, eval_every=256)
    config = small_config(tmp_path, **switches)
    trainer = Trainer(config).learn(3000)
    assert trainer.solved_at is not None and trainer.solved_at <= 3000


def test_the_value_of_advantage_weighting_learns_the_discounted_returns(tmp_path):
    """Two-step episodes whose rewards are set by the first observation: the value of each stored state
    comes to its discounted return (in units of return_scale)."""
    # the value of the observation alone, fit to Monte Carlo returns
    alone = dict(value_history=0, advantage_lambda=1.0, advantage_baseline="value", value_select=False)
    trainer = Trainer(
        small_config(tmp_path, advantage_beta=1.0, advantage_gamma=0.5, return_scale=4.0, **alone)
    )
    obs_dim = trainer.value_net[0].in_features
    rng = np.random.default_rng(0)
    for _ in range(40):
        x = float(rng.integers(0, 3))
        obs = np.zeros((2, obs_dim), np.float32)
        obs[0, 0], obs[1, 1] = x, 1.0
        trainer.buffer.add(Episode(obs, np.zeros(2, np.int64), np.float32([x, 2.0]), True))
    for _ in range(100):
        metrics = trainer._update()
    assert metrics["train/value_loss"] < 0.002
    with torch.no_grad():
        for x in (0.0, 1.0, 2.0):
            first = torch.zeros(obs_dim)
            first[0] = x
            assert trainer.value_net(first).item() == pytest.approx((x + 0.5 * 2.0) / 4.0, abs=0.05)
        second = torch.zeros(obs_dim)
        second[1] = 1.0
        assert trainer.value_net(second).item() == pytest.approx(2.0 / 4.0, abs=0.05)


def test_advantage_lambda_fits_the_value_to_bootstrapped_targets(tmp_path):
    """advantage_lambda below 1: before each round of updates the value targets of the replay become
    TD(lambda) returns from the current value net, and an episode a time limit cut is bootstrapped with
    the value of its last state; a later episode brings the Monte Carlo targets back until the next round."""
    switches = dict(advantage_beta=1.0, advantage_gamma=0.5, advantage_lambda=0.0, return_scale=4.0)
    trainer = Trainer(
        small_config(tmp_path, value_history=0, advantage_baseline="value", value_select=False, **switches)
    )
    obs_dim = trainer.value_net[0].in_features
    trainer.buffer.add(episode([1.0, 2.0], obs_dim=obs_dim, terminated=True))
    trainer.buffer.add(episode([3.0], obs_dim=obs_dim, terminated=False))
    observations = np.concatenate([e.observations for e in trainer.buffer.episodes])
    values = trainer._values(observations)  # in return units
    seen = []
    sample = trainer.buffer.sample
    trainer.buffer.sample = lambda *a, **k: seen.append(k) or sample(*a, **k)
    trainer.config.updates_per_round = 1
    trainer._update()
    targets = trainer.buffer._steps()["value_targets"]
    np.testing.assert_allclose(targets, [1 + 0.5 * values[1], 2.0, 3 + 0.5 * values[2]], rtol=1e-6)
    assert seen  # the round sampled after the targets were set
    trainer.buffer.add(episode([1.0], obs_dim=obs_dim))
    assert trainer.buffer._steps()["value_targets"].tolist() == [1 + 0.5 * 2.0, 2.0, 3.0, 1.0]


def test_the_policy_baseline_learns_q_of_each_action(tmp_path):
    """advantage_baseline policy: the value net also learns Q(s, a), here the return of each of PressButton's
    actions 0 and 1 from one state (rewards 1 and -1, one-step episodes), beside the state's value."""
    switches = dict(advantage_beta=1.0, advantage_baseline="policy", return_scale=1.0, entropy_target=0.0)
    trainer = Trainer(
        small_config(tmp_path, value_history=0, advantage_lambda=1.0, value_select=False, **switches)
    )
    obs_dim = trainer.value_net[0].in_features
    assert trainer.value_net[-1].out_features == 1 + trainer.n_actions
    for i in range(40):
        a = i % 2
        trainer.buffer.add(
            Episode(np.ones((1, obs_dim), np.float32), np.int64([a]), np.float32([1 - 2 * a]), True)
        )
    for _ in range(100):
        metrics = trainer._update()
    with torch.no_grad():
        value, q0, q1 = trainer.value_net(torch.ones(obs_dim)).tolist()
    assert (q0, q1) == (pytest.approx(1.0, abs=0.05), pytest.approx(-1.0, abs=0.05))
    assert value == pytest.approx(0.0, abs=0.05)  # the data's mean return: half of each action
    # Each fit logs its own loss: Q's comes to 0, the value's stays at the returns' variance (1).
    assert metrics["train/q_loss"] < 0.01
    assert metrics["train/value_loss"] == pytest.approx(1.0, abs=0.1)


def test_the_policy_baseline_s_advantage_is_q_less_the_policy_s_mean_q(tmp_path, monkeypatch):
    """The advantages an update weights are Q(s, a) of the taken action less the sum over actions of
    pi(a' | window) Q(s, a'), from the nets as they were before the step; padded steps are masked."""
    import copy

    import lightup.training.update as trainer_module

    seen = []
    weights = trainer_module.advantage_weights
    monkeypatch.setattr(
        trainer_module,
        "advantage_weights",
        lambda adv, mask, beta: seen.append(adv) or weights(adv, mask, beta),
    )
    switches = dict(advantage_beta=1.0, advantage_baseline="policy", updates_per_round=1)
    trainer = Trainer(small_config(tmp_path, **switches))
    for rewards, actions in (([1.0, 0.0], [0, 1]), ([0.0, 2.0, 1.0], [1, 1, 0])):
        trainer.buffer.add(episode(rewards, actions, obs_dim=trainer.policy.obs_dim))
    policy, value_net = copy.deepcopy(trainer.policy), copy.deepcopy(trainer.value_net)
    batches = []
    sample = trainer.buffer.sample
    trainer.buffer.sample = lambda *a, **k: batches.append(sample(*a, **k)) or batches[-1]
    trainer._update()
    batch = dict(batches[0])
    actions, mask = batch.pop("actions"), batch["mask"]
    batch.pop("value_targets")
    with torch.no_grad():
        # the default's pair: Q of its chosen value, the history's (nothing scored yet; test_value_pair.py)
        assert trainer.value_net.chosen == 0
        q = value_net(batch.pop("value_inputs"))[..., 0, 1:]  # the observation and the steps before it
        probs = policy(**batch).softmax(-1)
    expected = q.gather(-1, actions.unsqueeze(-1)).squeeze(-1) - (probs * q).sum(-1)
    torch.testing.assert_close(seen[0][mask], expected[mask])


@pytest.mark.parametrize("weight", [0.0, 2.0])
def test_advantage_weights_multiply_each_step_s_action_loss(tmp_path, monkeypatch, weight):
    """With every weight set to w (and no entropy term), an update's loss is w x the NLL plus the losses of
    the value and Q: the weights reach the policy's loss, and only there."""
    import lightup.training.update as trainer_module

    monkeypatch.setattr(trainer_module, "advantage_weights", lambda adv, mask, beta: weight * mask)
    trainer = Trainer(small_config(tmp_path, advantage_beta=1.0, entropy_target=0.0, updates_per_round=1))
    for rewards, actions in (([1.0, 0.0], [0, 1]), ([0.0, 2.0, 1.0], [1, 1, 0])):
        trainer.buffer.add(episode(rewards, actions, obs_dim=trainer.policy.obs_dim))
    m = trainer._update()
    assert m["train/nll"] > 0.1 and m["train/value_loss"] > 0
    values_loss = m["train/value_loss"] + m["train/q_loss"]  # the default's baseline: Q under the policy
    assert m["train/loss"] == pytest.approx(weight * m["train/nll"] + values_loss, rel=1e-5)


def test_entropy_at_commands_reads_the_policy_where_rollouts_play(tmp_path):
    """entropy_at commands: the entropy term's windows carry the returns-to-go a rollout from the (fixed)
    command feeds their episode, the rest of the batch as sampled; an update reads the policy twice, at the
    hindsight returns-to-go and at the commands."""
    command = CommandConfig(kind="fixed", value=0.5)
    trainer = Trainer(small_config(tmp_path, entropy_at="commands", command=command, return_scale=2.0))
    episodes = {1.75: [0.0, 1.0, -0.5, 1.0, 0.25, 0.0], -1.0: [-1.0, 0.5, -0.5]}  # by return
    for rewards in episodes.values():
        actions = np.arange(len(rewards)) % trainer.n_actions
        trainer.buffer.add(episode(rewards, actions, obs_dim=trainer.policy.obs_dim))
    batch = trainer.buffer.sample(32, 4, trainer.rng, 2.0, trainer.n_actions, start_returns=True)
    start_returns = batch.pop("start_returns")
    assert set(start_returns.tolist()) == set(episodes)  # each window's episode's return
    batch.pop("actions")
    shifted = trainer._at_commands(batch, start_returns)
    mask, t = batch["mask"], batch["timesteps"]
    for row, ret in enumerate(start_returns.tolist()):
        expected = commanded_returns_to_go(np.array(episodes[ret]), 0.5)[t[row][mask[row]].numpy()] / 2.0
        got = shifted["returns_to_go"][row][mask[row]]
        torch.testing.assert_close(got, torch.tensor(expected, dtype=torch.float32))
    assert (shifted["returns_to_go"][~mask] == 0).all()
    for key in ("states", "prev_actions", "timesteps", "mask"):
        assert torch.equal(shifted[key], batch[key])

    calls = []
    policy_forward = trainer.policy.forward
    trainer.policy.forward = lambda **kw: calls.append(kw["returns_to_go"].clone()) or policy_forward(**kw)
    trainer._update()
    assert len(calls) == 2 * trainer.config.updates_per_round  # the loss's windows, then at the commands
    assert not torch.equal(calls[0], calls[1])


@pytest.mark.parametrize(
    ("switch", "extra"),
    [
        ({"ema": 0.95}, lambda t: t.eval_policy),
        ({"advantage_beta": 0.5}, lambda t: t.value_net),
        ({"advantage_beta": 0.5, "advantage_lambda": 0.9}, lambda t: t.value_net),
        ({"advantage_beta": 0.5, "advantage_baseline": "policy"}, lambda t: t.value_net),
        ({"entropy_target_final": 0.05}, lambda t: t.policy),
        ({"entropy_at": "commands"}, lambda t: t.policy),
        ({"buffer_steps": 40}, lambda t: t.policy),
    ],
)
def test_resume_with_a_switch_continues_exactly(tmp_path, switch, extra):
    """The averaged weights (ema), the value network (advantage weighting) and the commands drawn for the
    entropy term (entropy_at commands) resume exactly too."""
    whole = Trainer(small_config(tmp_path / "whole", checkpoint_every=512, **switch)).learn(1536)
    first = Trainer(small_config(tmp_path / "split", checkpoint_every=512, **switch)).learn(512)
    resumed = Trainer.load(first.run_dir).learn(1536)
    for a, b in ((whole.policy, resumed.policy), (extra(whole), extra(resumed))):
        for (k, v), w in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
            assert torch.equal(v, w), k


@pytest.mark.parametrize(
    ("field", "on", "prefix"), [("ema", 0.9, "averaged."), ("advantage_beta", 1.0, "value")]
)
def test_a_checkpoint_whose_extra_weights_do_not_fit_its_config_is_a_one_line_error(
    tmp_path, field, on, prefix
):
    """Weights the config does not ask for, or a config asking for weights the file lacks (altered files)."""
    from lightup.checkpoint import load_tensors, save_tensors

    for value, drop in ((0.0, False), (on, True)):
        run = tmp_path / f"{field}{value}"
        path = Trainer(tiny_config(run, **{field: on})).learn(64).save_checkpoint()
        tensors, meta = load_tensors(path)
        meta["config"][field] = value
        if drop:
            tensors = {k: v for k, v in tensors.items() if not k.startswith(prefix)}
        save_tensors(path, tensors, meta)
        with pytest.raises(LightupError) as err:
            Trainer.load(run)
        assert "\n" not in str(err.value) and (field in str(err.value) or "cannot read" in str(err.value))


def test_a_checkpoint_from_before_the_policy_baseline_resumes_with_the_value_baseline(tmp_path):
    """LunarLander-v3 now defaults to the policy baseline; a checkpoint whose config has no
    advantage_baseline (written before it existed) resumes as it was trained, with the value baseline."""
    from lightup.checkpoint import load_tensors, save_tensors

    run = tmp_path / "run"
    config = tiny_config(run, "LunarLander-v3", advantage_baseline="value", value_select=False)
    path = Trainer(config).learn(64).save_checkpoint()
    tensors, meta = load_tensors(path)
    del meta["config"]["advantage_baseline"]
    save_tensors(path, tensors, meta)
    resumed = Trainer.load(run)
    assert resumed.config.advantage_baseline == "value" and resumed.value_net[-1].out_features == 1


def test_the_optimizers_kernel_is_the_recipes_and_a_checkpoint_from_before_it_resumes_with_foreach(tmp_path):
    """The default recipe steps its optimizers with fused kernels; a checkpoint whose config has no
    optimizer_kernel (written before it existed, with foreach kernels) resumes with foreach, the rounding
    it was trained with."""
    from lightup.checkpoint import load_tensors, save_tensors

    run = tmp_path / "run"
    trained = Trainer(tiny_config(run, "CartPole-v1")).learn(64)
    assert trained.config.optimizer_kernel == "fused"
    assert trained.optimizer.defaults["fused"] and trained.value_optimizer.defaults["fused"]
    path = trained.save_checkpoint()
    tensors, meta = load_tensors(path)
    del meta["config"]["optimizer_kernel"]
    save_tensors(path, tensors, meta)
    resumed = Trainer.load(run)
    assert resumed.config.optimizer_kernel == "foreach"
    assert resumed.optimizer.defaults["foreach"] and not resumed.optimizer.defaults["fused"]
    assert not resumed.value_optimizer.defaults["fused"]
    # the file's groups said fused: the steps take the config's kernels all the same
    assert all(not g["fused"] and g["foreach"] for g in resumed.optimizer.param_groups)


def test_a_users_model_with_a_complex_parameter_steps_with_foreach_kernels(tmp_path):
    """Fused optimizer kernels refuse complex tensors; such a model trains with foreach kernels in place."""
    from user_policies import gru_with_a_complex_parameter

    trainer = Trainer(tiny_config(tmp_path / "run", "CartPole-v1"), policy=gru_with_a_complex_parameter)
    assert trainer.config.optimizer_kernel == "fused" and not trainer.optimizer.defaults["fused"]
    phase = trainer.policy.phase
    trainer.learn(64)
    assert trainer.updates > 0 and phase.dtype == torch.complex64


def test_a_checkpoint_from_before_value_hidden_resumes_with_its_128_wide_value_network(tmp_path):
    """CartPole-v1 now defaults to a value network of width 64; a checkpoint whose config has no value_hidden
    (written before it existed) was trained with 128 and resumes with it, its weights loaded."""
    from lightup.checkpoint import load_tensors, save_tensors

    run = tmp_path / "run"
    trained = Trainer(tiny_config(run, "CartPole-v1", value_hidden=128, value_select=False)).learn(64)
    path = trained.save_checkpoint()
    tensors, meta = load_tensors(path)
    del meta["config"]["value_hidden"]
    save_tensors(path, tensors, meta)
    resumed = Trainer.load(run)
    assert resumed.config.value_hidden == 128 and resumed.value_net[0].out_features == 128
    assert torch.equal(resumed.value_net[0].weight, trained.value_net[0].weight)
    assert Trainer(tiny_config(tmp_path / "new", "CartPole-v1")).value_net.nets[0][0].out_features == 64


def test_predict_keeps_its_episodes_when_the_trainer_evaluates_between_calls(tmp_path):
    """predict plays its own copy of the policy: an evaluation between two calls (which restarts the
    trainer's policy caches) leaves the actions of the episodes under way as they would have been."""
    from lightup.envs import make_env

    trainer = Trainer(tiny_config(tmp_path / "run", "CartPole-v1", context_len=8)).learn(256)

    def play(interrupt: bool) -> list[list[int]]:
        envs = [make_env("CartPole-v1") for _ in range(3)]
        obs = np.stack([e.reset(seed=i)[0] for i, e in enumerate(envs)])
        rewards, out = None, []
        for t in range(12):
            actions = trainer.predict(obs, rewards, np.full(3, t == 0), target_return=100.0)
            out.append(actions.tolist())
            steps = [e.step(int(a)) for e, a in zip(envs, actions, strict=True)]
            obs, rewards = np.stack([s[0] for s in steps]), np.array([s[1] for s in steps])
            if any(s[2] for s in steps):  # a pole fell: the episodes end here
                break
            if interrupt and t == 5:
                trainer.evaluate()
        return out

    played = play(interrupt=False)
    assert len(played) > 6  # the evaluation came while the episodes were under way
    assert play(interrupt=True) == played


def test_the_timestep_embedding_can_be_switched_off(tmp_path):
    with_time = Trainer(tiny_config(tmp_path / "on", timestep_embedding=True)).policy
    without = Trainer(tiny_config(tmp_path / "off", timestep_embedding=False)).policy
    assert with_time.embed_timestep is not None and without.embed_timestep is None


def test_predict_plays_the_weights_of_the_latest_training(tmp_path):
    """Its copy of the policy is taken again at the next episode start after more training, not before."""
    trainer = Trainer(tiny_config(tmp_path / "run", "CartPole-v1")).learn(64)
    obs = np.zeros((2, 4), np.float32)
    trainer.predict(obs, episode_start=np.ones(2, bool))
    first = trainer._predict_agent.policy
    trainer.predict(obs, np.ones(2), episode_start=np.ones(2, bool))
    assert trainer._predict_agent.policy is first  # no training since: no new copy
    trainer.learn(128)
    trainer.predict(obs, np.ones(2), episode_start=np.zeros(2, bool))
    assert trainer._predict_agent.policy is first  # the episodes under way keep their weights
    trainer.predict(obs, episode_start=np.ones(2, bool))
    copied = trainer._predict_agent.policy.state_dict()
    for k, v in trainer.eval_policy.state_dict().items():
        assert torch.equal(copied[k], v), k
    assert any(not torch.equal(first.state_dict()[k], v) for k, v in copied.items())


def test_linear_learning_rate_schedule_falls_to_its_final_fraction(tmp_path):
    from lightup.training.logger import read_metrics

    config = small_config(
        tmp_path / "lin", lr=2e-3, lr_schedule="linear", lr_final_frac=0.25, total_steps=1024
    )
    trainer = Trainer(config).learn()
    records = read_metrics(trainer.run_dir)
    logged = [(r["step"], r["train/learning_rate"]) for r in records if "train/learning_rate" in r]
    assert len(logged) >= 4
    for step, lr in logged:  # each round's updates use the rate at the env steps taken before them
        assert lr == pytest.approx(2e-3 * (1 - 0.75 * min(step / 1024, 1.0)))
    assert logged[-1][1] == pytest.approx(0.5e-3)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.5e-3)
    constant = Trainer(small_config(tmp_path / "const", lr=2e-3, total_steps=1024)).learn()
    assert {r.get("train/learning_rate", 2e-3) for r in read_metrics(constant.run_dir)} == {2e-3}


def test_entropy_target_moves_linearly_to_its_final_value(tmp_path):
    """Each round's temperature chases the target at the env steps taken before it; the temperature's
    gradient is alpha x (entropy - that target)."""
    from lightup.training.logger import read_metrics

    config = small_config(tmp_path, entropy_target=0.6, entropy_target_final=0.1, total_steps=1024)
    trainer = Trainer(config)
    max_entropy = math.log(trainer.n_actions)
    assert trainer.target_entropy == pytest.approx(0.6 * max_entropy)
    trainer.learn()
    records = read_metrics(trainer.run_dir)
    logged = [(r["step"], r["train/target_entropy"]) for r in records if "train/target_entropy" in r]
    assert len(logged) >= 4
    for step, target in logged:
        assert target == pytest.approx((0.6 - 0.5 * min(step / 1024, 1.0)) * max_entropy)
    assert trainer.target_entropy == pytest.approx(0.1 * max_entropy)
    trainer.config.updates_per_round = 1
    alpha = trainer.log_alpha.exp().item()
    seen = []
    step = trainer.alpha_optimizer.step
    trainer.alpha_optimizer.step = lambda: seen.append(trainer.log_alpha.grad.item()) or step()
    entropy = trainer._update()["train/entropy"]
    assert seen == [pytest.approx(alpha * (entropy - 0.1 * max_entropy), rel=1e-5)]


def test_nan_loss_stops_with_a_message_and_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    trainer = Trainer(small_config(tmp_path, checkpoint_every=256))
    trainer.learn(512)
    good = weights(trainer)
    original = trainer.policy.forward

    def poisoned(*args, **kwargs):
        return original(*args, **kwargs) * float("nan")

    monkeypatch.setattr(trainer.policy, "forward", poisoned)
    with pytest.raises(LightupError, match=r"became nan at env step \d+") as err:
        trainer.learn(2048)
    assert "\n" not in str(err.value)
    reloaded = Trainer.load(trainer.run_dir)
    for k, v in good.items():
        assert torch.equal(v, reloaded.policy.state_dict()[k]), k


@pytest.mark.parametrize(
    "bad",
    [
        {"lr": -1.0},
        {"n_envs": 0},
        {"temperature": 0.0},
        {"gamma": 1.5},
        {"entropy_target": 2.0},
        {"n_head": 3},
        {"lr_final_frac": 1.5},
        {"ema": 1.0},
        {"greedy_envs": 9},
        {"n_envs": None, "greedy_envs": 17},  # above the env family's default (16)
        {"context_len": 0},
        {"context_len": 2.5},
        {"n_embd": 0},
        {"n_embd": None, "n_head": 6},  # the env family's width (64) does not split into 6 heads
        {"timestep_embedding": "no"},
        {"n_layer": 0},
        {"n_layer": 1.5},
        {"greedy_envs": -1},
        {"ema": -0.1},
        {"lr_schedule": "Linear"},
        {"buffer_kind": "lifo"},
        {"command": CommandConfig(kind="median")},
        {"command": CommandConfig(kind=True)},
        {"layout": None},  # no env family fills it
        {"entropy_target": "0.5"},
        {"advantage_beta": -1.0},
        {"advantage_beta": float("nan")},
        {"advantage_beta": "1"},
        {"advantage_gamma": 0.0},
        {"advantage_gamma": 1.5},
        {"advantage_lambda": 1.5},
        {"advantage_lambda": -0.1},
        {"entropy_target_final": 1.5},
        {"entropy_target_final": -0.1},
        {"entropy_target_final": float("nan")},
        {"entropy_target": 0.0, "entropy_target_final": 0.1},  # no entropy term to schedule
        {"advantage_beta": 0.0, "advantage_lambda": 0.9},  # nothing to bootstrap for
        {"entropy_at": "rollouts"},
        {"buffer_steps": 0},
        {"buffer_steps": 2.5},
        {"advantage_baseline": "q"},
        {"advantage_beta": 0.0, "advantage_baseline": "policy"},  # no advantages to take
    ],
)
def test_bad_config_values_are_one_line_errors(tmp_path, bad):
    with pytest.raises(LightupError) as err:
        Trainer(small_config(tmp_path, **bad))
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []  # refused before the run folder is made


def test_predict_plays_like_evaluation_and_follows_commands(tmp_path):
    from lightup.envs import make_env

    trainer = Trainer(small_config(tmp_path, "lightup/CommandFollow-v0", advantage_beta=0.0)).learn(2000)
    envs = [make_env("lightup/CommandFollow-v0") for _ in range(4)]
    for target, expected in ((1.0, 1.0), (-1.0, -1.0)):
        obs = np.stack([e.reset(seed=i)[0] for i, e in enumerate(envs)])
        actions = trainer.predict(obs, episode_start=np.ones(4, bool), target_return=target)
        rewards = [e.step(int(a))[1] for e, a in zip(envs, actions, strict=True)]
        assert rewards == [expected] * 4
    rows = trainer.evaluate_commands([-1.0, 1.0])
    assert [r["mean"] for r in rows] == [-1.0, 1.0]


def test_alarms_are_raised_while_training(tmp_path, capsys):
    """With the entropy term off, PressButton's policy turns deterministic: the trainer raises the doctor's
    entropy-collapse alarm at an evaluation, logs it once as alarm/entropy-collapse and shows it."""
    from lightup.doctor.live import AlarmCallback
    from lightup.training.callbacks import default_callbacks
    from lightup.training.logger import read_metrics

    config = small_config(tmp_path, entropy_target=0.0, eval_every=256, lr=3e-3, quiet=False)
    trainer = Trainer(config).learn(3000, callbacks=default_callbacks(config, [AlarmCallback()]))
    tags = [k for r in read_metrics(trainer.run_dir) for k in r if k.startswith("alarm/")]
    assert tags.count("alarm/entropy-collapse") == 1
    assert "alarm at step" in capsys.readouterr().out


def test_overrides_set_fields_and_the_commands_fields_by_name():
    from lightup.training.config import with_overrides

    config = with_overrides(TrainConfig(), {"n_envs": 4, "command.kind": "topk", "command.k": 7})
    assert (config.n_envs, config.command.kind, config.command.k) == (4, "topk", 7)
    assert config.command.margin == CommandConfig().margin  # the others stay
    assert TrainConfig().command.kind is None  # the default's command is not touched (its env family's)
    with pytest.raises(TypeError):
        with_overrides(TrainConfig(), {"command.nope": 1})


def test_the_default_recipe_is_the_same_for_every_env_and_fills_only_what_is_left_unset():
    from lightup.training.recipe import with_env_defaults

    for env_id in ("CartPole-v1", "lightup/PressButton-v0", "Acrobot-v1", "my_module:MyEnv-v0"):
        c = with_env_defaults(TrainConfig(env_id=env_id), None, lambda: 42.0)
        assert (c.total_steps, c.eval_every, c.return_scale, c.max_return) == (100_000, 5_000, 42.0, None)
        assert (c.n_envs, c.updates_per_round, c.context_len, c.n_layer, c.n_embd) == (8, 16, 10, 1, 32)
        assert (c.batch_size, c.optimizer_kernel) == (128, "fused")
        assert (c.timestep_embedding, c.advantage_beta, c.value_hidden, c.buffer_capacity) == (
            False,
            0.5,
            64,
            300,
        )
        assert (c.entropy_target, c.entropy_target_final, c.greedy_envs) == (0.15, None, 0)
        assert (c.advantage_lambda, c.command.kind, c.advantage_baseline) == (0.95, "best", "policy")
        # the value sees the steps before each one that the policy's context holds; exploration while returns
        # sit at the worst
        assert (c.value_history, c.explore_share) == (9, 0.5)
    # continuous actions: the value of the observation alone, fit to TD(0.95) returns; no exploration
    pendulum = with_env_defaults(TrainConfig(env_id="Pendulum-v1"), None, lambda: 42.0, continuous=True)
    assert (pendulum.advantage_lambda, pendulum.advantage_baseline) == (0.95, "value")
    assert (pendulum.value_history, pendulum.explore_share) == (0, 0.0)
    # ... and the updates and the kernel its figures were measured with
    assert (pendulum.batch_size, pendulum.updates_per_round) == (64, 32)
    assert pendulum.optimizer_kernel == "foreach"
    # the value's history follows the context chosen; a preset keeps the observation alone it was measured on
    assert with_env_defaults(TrainConfig(context_len=4), None, lambda: 1.0).value_history == 3
    assert with_env_defaults(TrainConfig(context_len=200), None, lambda: 1.0).value_history == 64
    # ... while its row stays within 512 numbers: Taxi-v4's 500 one-hot states and 6 actions allow no step
    # back, MiniGrid's 148 numbers and 7 actions two, CartPole-v1's 4 and 2 the whole context
    for width, history in ((500 + 6 + 1, 0), (148 + 7 + 1, 2), (4 + 2 + 1, 9)):
        assert with_env_defaults(TrainConfig(), None, lambda: 1.0, step_width=width).value_history == history
    assert with_env_defaults(TrainConfig(preset="cartpole"), None).value_history == 0
    assert with_env_defaults(TrainConfig(preset="lunarlander"), None).explore_share == 0.0
    # what the env declares: its highest return caps commands and scales returns-to-go
    declared = with_env_defaults(TrainConfig(env_id="lightup/PressButton-v0"), 5.0, lambda: 1 / 0)
    assert (declared.max_return, declared.return_scale) == (5.0, 5.0)
    # the evaluation cadence follows the budget
    assert with_env_defaults(TrainConfig(total_steps=2_000), None, lambda: 1.0).eval_every == 100
    chosen = with_env_defaults(
        TrainConfig(
            updates_per_round=0, total_steps=512, timestep_embedding=True, n_layer=2, return_scale=3.0
        ),
        None,
        lambda: 1 / 0,  # a scale given is not derived
    )
    assert (chosen.total_steps, chosen.updates_per_round, chosen.timestep_embedding, chosen.n_layer) == (
        512,
        0,
        True,
        2,
    )
    assert chosen.return_scale == 3.0
    off = with_env_defaults(TrainConfig(advantage_beta=0.0), None, lambda: 1.0)
    assert (off.advantage_beta, off.advantage_lambda, off.advantage_baseline) == (0.0, 1.0, "value")


def test_the_default_command_step_is_a_share_of_the_return_scale_in_any_unit():
    from lightup.training.recipe import with_env_defaults

    rng = np.random.default_rng(0)
    # returns in [0, 1] (scale 0.8) and returns of hundreds (MountainCar-v0's scale of 200) take the same step
    # relative to their scale: 0.02 and 5, a fortieth
    for scale, step in ((0.8, 0.02), (200.0, 5.0), (12_385.0, 309.625)):
        c = with_env_defaults(TrainConfig(), None, lambda s=scale: s)
        assert c.command.offset == pytest.approx(step)
        flat = dataclasses.replace(c.command, jitter=0.0)
        # every stored episode at one return (no spread): the command is that return plus the step
        assert propose_target(flat, np.array([0.5 * scale] * 3), rng) == pytest.approx(0.5 * scale + step)
    # a [0, 1] task's best of 1 is asked for 1.2 + 0.025 (0.2 of the spread of 1 and the step), not 6.2
    unit = dataclasses.replace(with_env_defaults(TrainConfig(), None, lambda: 1.0).command, jitter=0.0)
    assert propose_target(unit, np.array([0.0, 1.0]), rng) == pytest.approx(1.225)
    # the scale given, or the env's declared highest return, sets the step; a step given stays
    assert with_env_defaults(TrainConfig(return_scale=40.0), None, lambda: 1 / 0).command.offset == 1.0
    assert with_env_defaults(TrainConfig(), 4.0, lambda: 1 / 0).command.offset == 0.1
    given = TrainConfig(command=CommandConfig(offset=3.0))
    assert with_env_defaults(given, None, lambda: 1.0).command.offset == 3.0
    # the presets keep the step of 5 they were measured with
    for preset in ("cartpole", "lunarlander", "games"):
        assert with_env_defaults(TrainConfig(preset=preset), 1.0).command.offset == 5.0


def test_presets_are_the_measured_recipes_of_named_envs():
    from lightup.training.recipe import with_env_defaults

    cartpole = with_env_defaults(TrainConfig(preset="cartpole"), None, lambda: 1 / 0)
    assert (cartpole.total_steps, cartpole.updates_per_round, cartpole.max_return) == (100_000, 32, 500.0)
    assert (cartpole.timestep_embedding, cartpole.n_layer, cartpole.advantage_beta) == (False, 1, 0.5)
    assert (cartpole.n_envs, cartpole.context_len, cartpole.n_embd, cartpole.return_scale) == (
        8,
        10,
        32,
        100.0,
    )
    for preset in ("cartpole", "games", "lunarlander"):  # the batches and arithmetic they were measured with
        measured = with_env_defaults(TrainConfig(preset=preset), 1.0)
        assert (measured.batch_size, measured.optimizer_kernel) == (64, "foreach")
    game = with_env_defaults(TrainConfig(env_id="lightup/PressButton-v0", preset="games"), 1.0)
    assert (game.total_steps, game.eval_every, game.buffer_capacity, game.return_scale) == (
        20_000,
        2_000,
        3_000,
        1.0,
    )
    assert (game.timestep_embedding, game.n_layer, game.advantage_beta) == (True, 3, 0.0)
    assert (game.n_envs, game.context_len, game.n_embd) == (16, 20, 64)
    lunar = with_env_defaults(TrainConfig(env_id="LunarLander-v3", preset="lunarlander"), None)
    lunar.validate()
    assert (lunar.n_layer, lunar.context_len, lunar.updates_per_round, lunar.n_envs) == (1, 10, 64, 16)
    assert (lunar.advantage_beta, lunar.advantage_lambda, lunar.greedy_envs) == (1.0, 0.95, 4)
    assert (lunar.entropy_target, lunar.entropy_target_final, lunar.command.kind) == (0.5, 0.1, "topk")
    assert lunar.advantage_baseline == "policy" and lunar.return_scale == 200.0
    # Chosen values stay; a preset's default that needs what was switched off gives way.
    off = with_env_defaults(
        TrainConfig(preset="lunarlander", advantage_beta=0.0, entropy_target=0.0, n_envs=8), None
    )
    off.validate()
    assert (off.advantage_lambda, off.entropy_target_final, off.greedy_envs) == (1.0, None, 2)
    assert off.advantage_baseline == "value"
    chosen = with_env_defaults(
        TrainConfig(
            preset="lunarlander",
            advantage_lambda=1.0,
            entropy_target=0.3,
            entropy_target_final=0.3,
            greedy_envs=0,
            command=CommandConfig(kind="best"),
            advantage_baseline="value",
        ),
        None,
    )
    assert (chosen.advantage_lambda, chosen.entropy_target, chosen.entropy_target_final) == (1.0, 0.3, 0.3)
    assert (chosen.greedy_envs, chosen.command.kind, chosen.advantage_baseline) == (0, "best", "value")


class _NoLookups(dict):
    """A table that fails the test if anything reads it."""

    def _refuse(self, *args, **kwargs):
        raise AssertionError("the default path read an env-id table")

    __getitem__ = get = __contains__ = __iter__ = keys = items = values = _refuse


def test_a_default_run_reads_no_env_id_table_and_keeps_its_derived_scale_on_resume(tmp_path, monkeypatch):
    import lightup.training.recipe as recipe

    monkeypatch.setattr(recipe, "PRESETS", _NoLookups())
    config = TrainConfig(
        env_id="CartPole-v1", total_steps=512, checkpoint_every=256, eval_episodes=2, quiet=True,
        tensorboard=False, run_dir=str(tmp_path / "run"),
    )  # fmt: skip
    trainer = Trainer(config).learn()
    expected = recipe.random_return_scale(gym.make("CartPole-v1"), config.seed)
    assert trainer.config.return_scale == expected and trainer.config.eval_every == 512 // 20
    assert Trainer.load(tmp_path / "run").config.return_scale == expected


def test_the_return_scale_is_the_largest_absolute_return_of_random_episodes():
    from lightup.training.recipe import random_return_scale, random_returns

    class Fixed(gym.Env):
        observation_space, action_space = gym.spaces.Box(0, 1, (1,)), gym.spaces.Discrete(2)

        def __init__(self, rewards):
            self.rewards = rewards

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            self.t += 1
            return np.zeros(1, np.float32), self.rewards[self.t - 1], self.t == len(self.rewards), False, {}

    assert random_returns(Fixed([-3.0, -4.5]), seed=0, episodes=2).tolist() == [-7.5, -7.5]
    assert random_return_scale(Fixed([-3.0, -4.5]), seed=0) == 7.5
    assert random_return_scale(Fixed([0.0, 0.0]), seed=0) == 1.0  # no reward seen: unit scale
    assert random_returns(Fixed([2.0] * 10), seed=0, max_steps=3).tolist() == [6.0]  # cut at max_steps
    assert random_return_scale(Fixed([1.0]), seed=0, uniform=np.array([-9.0, 2.0])) == 9.0  # returns given

    class Raising(Fixed):
        def step(self, action):
            self.calls = getattr(self, "calls", 0) + 1
            if self.calls > 3:  # in the second episode
                raise RuntimeError("the env broke")
            return super().step(action)

    # the episodes finished before the env raised count; its errors are left to the trainer
    assert random_return_scale(Raising([1.5, -4.0]), seed=0) == 2.5
    assert random_return_scale(Raising([1.5, -4.0]), seed=0, uniform=np.array([])) == 1.0  # none finished
    # returns past the largest scale a flag may give: that largest scale, not a refusal of a flag not given
    assert random_return_scale(Fixed([1.0]), seed=0, uniform=np.array([3e13, -1.0])) == 1e12


def test_progress_bar_keeps_the_last_return_through_rounds_without_episodes():
    from types import SimpleNamespace

    from lightup.training.callbacks import ProgressBar

    bar = ProgressBar()
    trainer = SimpleNamespace(steps=0, last_eval=None)
    bar.on_start(trainer, total_steps=100)
    try:
        figures = []
        for metrics in ({}, {"rollout/ep_rew_mean": 12.0}, {}):
            trainer.steps += 10
            bar.on_round(trainer, metrics)
            figures.append(bar._progress.tasks[0].fields["figures"])
    finally:
        bar.close()
    assert figures == ["return -", "return 12.0", "return 12.0"]
