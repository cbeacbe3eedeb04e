"""How much the value targets of advantage weighting depend on the time left, on episodes of random actions.

Plays 60 episodes of uniformly random actions (seeds 0..59), fits the value net's shape (two hidden layers of
64) to each kind of target, and prints the share of variance the value explains, the correlation of the
advantages with the timestep, and the share of AWR's weights exp(A / 0.5) (normalised A, capped at 20) that
falls on each quarter of the episode. Targets: the discounted returns to the end of the episode (lambda 1,
a time-limit cut treated as an end); the same plus the discounted value at the cut (one pass); TD(0.95)
returns from the value so far, bootstrapped at the cut (five passes, as the trainer redoes them each round).
Usage: python benchmarks/value_targets_time_limit.py [ENV_ID]
"""

import sys

import gymnasium as gym
import numpy as np
import torch

GAMMA, BETA, EPISODES = 0.99, 0.5, 60


def discounted(rewards: np.ndarray, bootstrap: float = 0.0) -> np.ndarray:
    out, acc = np.empty_like(rewards), bootstrap
    for t in range(len(rewards) - 1, -1, -1):
        acc = rewards[t] + GAMMA * acc
        out[t] = acc
    return out


def main(env_id: str = "Pendulum-v1") -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    env = gym.make(env_id)
    env.action_space.seed(0)
    observations, rewards = [], []
    for i in range(EPISODES):
        obs, _ = env.reset(seed=i)
        o, r, done = [], [], False
        while not done:
            o.append(obs)
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            r.append(reward)
            done = terminated or truncated
        observations.append(np.array(o, np.float32))
        rewards.append(np.array(r))
    x = torch.from_numpy(np.concatenate(observations))
    t = np.concatenate([np.arange(len(r)) for r in rewards])
    length = max(len(r) for r in rewards)
    scale = max(abs(r.sum()) for r in rewards)

    def fit(y: np.ndarray) -> np.ndarray:
        net = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], 64), torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.ReLU(),
            torch.nn.Linear(64, 1),
        )  # fmt: skip
        opt, target = torch.optim.Adam(net.parameters(), 1e-3), torch.tensor(y, dtype=torch.float32)[:, None]
        for _ in range(3000):
            opt.zero_grad()
            ((net(x) - target) ** 2).mean().backward()
            opt.step()
        return net(x).detach().numpy()[:, 0]

    def report(name: str, y: np.ndarray) -> np.ndarray:
        v = fit(y)
        a = y - v
        w = np.minimum(np.exp((a - a.mean()) / a.std() / BETA), 20.0)
        quarters = [w[(t >= q * length / 4) & (t < (q + 1) * length / 4)].sum() / w.sum() for q in range(4)]
        print(
            f"{name}: value R2 {1 - ((y - v) ** 2).mean() / y.var():.2f}; corr(advantage, t) "
            f"{np.corrcoef(a, t)[0, 1]:.2f}; AWR weight share by quarter {np.round(quarters, 2).tolist()}"
        )
        return v

    v = report("returns to the cut (lambda 1)", np.concatenate([discounted(r) for r in rewards]) / scale)
    ends = np.cumsum([len(r) for r in rewards]) - 1
    boot = [discounted(r, v[e] * scale) / scale for r, e in zip(rewards, ends, strict=True)]
    v = report("plus the value at the cut", np.concatenate(boot))
    for i in range(5):
        values = np.split(v * scale, ends[:-1] + 1)
        td = [lambda_returns(r, vs, 0.95) / scale for r, vs in zip(rewards, values, strict=True)]
        v = (report if i == 4 else lambda _, y: fit(y))("TD(0.95), 5 passes", np.concatenate(td))


def lambda_returns(rewards: np.ndarray, values: np.ndarray, lam: float) -> np.ndarray:
    """G_t = r_t + gamma ((1 - lam) V_{t+1} + lam G_{t+1}), bootstrapped with the last state's value."""
    out, g, v_next = np.empty_like(rewards), values[-1], values[-1]
    for t in range(len(rewards) - 1, -1, -1):
        g = rewards[t] + GAMMA * ((1 - lam) * v_next + lam * g)
        v_next, out[t] = values[t], g
    return out


if __name__ == "__main__":
    main(*sys.argv[1:])
