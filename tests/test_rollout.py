"""Rollouts: the episodes handed back are exactly what the envs did, at any length, and a cache rebuilt by
``refresh`` continues exactly where the rollout's own cache was."""

from __future__ import annotations

import copy

import gymnasium as gym
import numpy as np
import pytest
import torch

from lightup.errors import EnvRaised
from lightup.models import DecisionTransformer, DTConfig
from lightup.training.returns import commanded_returns_to_go
from lightup.training.rollout import Rollout


class Countdown(gym.Env):
    """Episodes of a length set by the first reset's seed (60 to 363 steps, some longer than the rollout's
    first row capacity). The observation is (step, length), the reward the action taken; even lengths end
    terminated, odd ones truncated. Every action is logged, per episode."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def __init__(self):
        self.length, self.episodes = None, []

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.length = 60 + 101 * (seed % 4)
        self.t = 0
        self.episodes.append([])
        return self._obs(), {}

    def _obs(self):
        return np.array([self.t, self.length], np.float32)

    def step(self, action):
        self.episodes[-1].append(int(action))
        self.t += 1
        end = self.t == self.length
        terminated, truncated = end and self.length % 2 == 0, end and self.length % 2 == 1
        return self._obs(), float(action), terminated, truncated, {}


def make(n: int, seed: int = 0) -> tuple[Rollout, gym.vector.SyncVectorEnv, DecisionTransformer]:
    torch.manual_seed(seed)
    policy = DecisionTransformer(DTConfig(obs_dim=2, act_dim=3, context_len=5, n_layer=2, n_embd=16))
    policy.eval()
    envs = gym.vector.SyncVectorEnv(
        [Countdown for _ in range(n)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    commands = iter(range(1000, 2000))
    rollout = Rollout(envs, policy, "Countdown", return_scale=100.0, gamma=1.0, device=torch.device("cpu"))
    rollout.start(0, lambda: float(next(commands)))
    return rollout, envs, policy


def test_episodes_of_any_length_come_back_exactly_as_played():
    rollout, envs, _ = make(4)
    got: list[tuple[int, object]] = []
    rollout.collect(740, on_episode=lambda i, ep: got.append((i, ep)))
    lengths = {i: env.length for i, env in enumerate(envs.envs)}
    assert sorted(set(lengths.values())) == [60, 161, 262, 363]
    per_env = {i: [ep for j, ep in got if j == i] for i in lengths}
    for i, episodes in per_env.items():
        assert len(episodes) == 740 // lengths[i]
        played = envs.envs[i].episodes
        for k, ep in enumerate(episodes):
            n = lengths[i]
            assert ep.length == n
            np.testing.assert_array_equal(ep.observations[:, 0], np.arange(n))
            np.testing.assert_array_equal(ep.observations[:, 1], n)
            assert ep.actions.tolist() == played[k]
            np.testing.assert_array_equal(ep.rewards, np.array(played[k], np.float32))
            assert ep.terminated == (n % 2 == 0)
    # Commands are drawn in env order at the start, then one per finished episode: each episode its own.
    firsts = sorted(per_env[i][0].commanded for i in lengths)
    assert firsts == [1000.0, 1001.0, 1002.0, 1003.0]
    commanded = [ep.commanded for _, ep in got]
    assert len(set(commanded)) == len(got) and set(commanded) <= set(map(float, range(1000, 1004 + len(got))))


def test_refresh_rebuilds_the_cache_the_rollout_had():
    """With unchanged weights, a refreshed cache must give the same next action distribution as the cache
    built step by step, for envs mid-episode, past K steps, and just after a reset."""
    rollout, _, policy = make(4, seed=1)
    twin = copy.deepcopy(policy)
    rollout.collect(123)  # env 0 (length 60) reset 3 steps ago; the others are past K steps
    step = rollout._tensors(rollout.rtg, rollout.obs, rollout._actions_before(rollout.t), rollout.t)
    with torch.inference_mode():
        expected = policy.push(*step)
        rollout.policy = twin
        rollout.refresh()
        got = twin.push(*step)
    assert rollout.t.tolist() == [3, 123, 123, 123]
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_with_gamma_below_one_the_policy_is_fed_the_discounted_returns_to_go():
    """Each step feeds (R - r) / gamma: over a whole episode, what `commanded_returns_to_go` gives."""
    torch.manual_seed(0)
    policy = DecisionTransformer(DTConfig(obs_dim=2, act_dim=3, context_len=5, n_layer=1, n_embd=16))
    policy.eval()
    envs = gym.vector.SyncVectorEnv([Countdown], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    fed: list[float] = []
    push = policy.push

    def spy(rtg, *rest):
        fed.append(float(rtg[0]) * 10.0)
        return push(rtg, *rest)

    policy.push = spy
    rollout = Rollout(envs, policy, "Countdown", return_scale=10.0, gamma=0.9, device=torch.device("cpu"))
    rollout.start(0, lambda: 7.0)
    got = []
    rollout.collect(130, on_episode=lambda i, ep: got.append(ep))
    assert [ep.length for ep in got] == [60, 60]
    for k, ep in enumerate(got):
        expected = commanded_returns_to_go(ep.rewards, 7.0, 0.9)
        np.testing.assert_allclose(fed[60 * k : 60 * (k + 1)], expected, rtol=1e-5)
    assert not np.allclose(expected, commanded_returns_to_go(ep.rewards, 7.0, 1.0))  # gamma made a difference


def test_greedy_envs_take_the_most_likely_action_and_the_others_sample():
    rollout, envs, policy = make(4)
    outputs: list[torch.Tensor] = []
    push = policy.push
    policy.push = lambda *args: outputs.append(push(*args).clone()) or outputs[-1]
    rollout.collect(50, n_greedy=2)
    argmax = torch.stack(outputs).argmax(-1)  # (steps, envs)
    for i in range(4):
        played = envs.envs[i].episodes[0]
        assert (played == argmax[:, i].tolist()) == (i < 2)


def test_rollout_sampling_is_categorical_sampling_and_a_policy_s_own_distribution_is_kept():
    from torch.distributions import Categorical

    from lightup.training.rollout import categorical_stats, sample_categorical

    for seed in range(20):
        logits = torch.randn(64, 3) * (seed + 1)
        logits[0, 1] = -torch.inf
        torch.manual_seed(seed)
        dist = Categorical(logits=logits)
        expected = (dist.sample(), dist.logits, dist.entropy(), dist.probs.max(-1).values)
        torch.manual_seed(seed)
        actions, log_probs = sample_categorical(logits)
        got = (actions, log_probs, *categorical_stats(log_probs))
        assert all(torch.equal(a, b) for a, b in zip(expected, got, strict=True))  # same draws, bit for bit

    class AlwaysTwo(DecisionTransformer):
        def distribution(self, params):
            return Categorical(logits=torch.tensor([-torch.inf, -torch.inf, 0.0]).expand_as(params))

    _, envs, policy = make(4)
    rollout = Rollout(envs, AlwaysTwo(policy.config).eval(), "Countdown", 100.0, 1.0, torch.device("cpu"))
    rollout.start(0, lambda: 100.0)
    rollout.collect(10)
    assert all(set(env.episodes[-1]) == {2} for env in envs.envs)


def test_the_policy_is_fed_each_env_s_previous_action_and_the_start_token_after_a_reset():
    rollout, envs, policy = make(3)
    fed: list[torch.Tensor] = []
    push = policy.push
    policy.push = lambda rtg, obs, prev, ts: fed.append(prev.clone()) or push(rtg, obs, prev, ts)
    rollout.collect(130)  # env 0 plays episodes of 60 steps: two resets
    start = policy.start_action
    for i, env in enumerate(envs.envs):
        expected = [a for ep in env.episodes if ep for a in [start, *ep[:-1]]]
        assert torch.stack(fed)[:, i].tolist() == expected


class BrokenCountdown(Countdown):
    """The countdown whose fifth step raises an error of two lines."""

    def step(self, action):
        if self.t == 4:
            raise RuntimeError("the counter jammed\n(second line of the message)")
        return super().step(action)


def test_a_rollout_with_no_error_handler_names_the_env_that_raised_in_one_line():
    rollout, _, _ = make(2)
    rollout.envs = gym.vector.SyncVectorEnv(
        [BrokenCountdown for _ in range(2)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    rollout.start(0, lambda: 1000.0)
    with pytest.raises(EnvRaised) as e:
        rollout.collect(8)
    assert str(e.value) == "env Countdown raised while playing episodes (RuntimeError: the counter jammed)"
    assert isinstance(e.value.__cause__, RuntimeError)
