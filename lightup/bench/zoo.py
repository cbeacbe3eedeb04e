"""Stable-Baselines3 hyperparameters for the peers, from the RL Baselines3 Zoo.

Source: DLR-RM/rl-baselines3-zoo, ``hyperparams/ppo.yml`` (commit 208b6fd) and ``hyperparams/dqn.yml``
(commit ce95481). The zoo tunes LunarLander-v2; LunarLander-v3 has the same dynamics (v3 fixed bugs in
wind and determinism), so its values are used for v3. The zoo has no entry for the lightup games or for
an arbitrary Gymnasium id: those get ``FALLBACK``, zoo-like values of our own (stated below), not tuned.

Each entry: the constructor keywords, ``n_envs``, and ``zoo_steps``, the zoo's ``n_timesteps``. Schedules
(PPO's ``lin_`` learning rate and clip range, DQN's exploration) span ``zoo_steps`` env steps, as in the
zoo, whatever the bench budget: a longer budget keeps the zoo's schedule and then holds its final value.
``zoo_normalize`` marks the zoo's ``normalize: true``: the peer trains on SB3's ``VecNormalize`` (running
observation and reward normalisation), and its greedy evaluation feeds the raw env's observations through
the statistics frozen at that point (`lightup.bench.sb3`), so every agent is scored on the same raw env.
"""

from __future__ import annotations

from lightup.envs import env_name

PPO: dict[str, dict] = {
    # ppo.yml "# Tuned" CartPole-v1: n_envs 8, n_timesteps 1e5, n_steps 32, batch_size 256, gae_lambda 0.8,
    # gamma 0.98, n_epochs 20, ent_coef 0.0, learning_rate lin_0.001, clip_range lin_0.2
    "CartPole-v1": {
        "n_envs": 8,
        "zoo_steps": 100_000,
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.8,
        "gamma": 0.98,
        "n_epochs": 20,
        "ent_coef": 0.0,
        "learning_rate": "lin_0.001",
        "clip_range": "lin_0.2",
    },
    # ppo.yml LunarLander-v2: n_envs 16, n_timesteps 1e6, n_steps 1024, batch_size 64, gae_lambda 0.98,
    # gamma 0.999, n_epochs 4, ent_coef 0.01 (learning rate and clip range: SB3 defaults 3e-4, 0.2)
    "LunarLander-v3": {
        "n_envs": 16,
        "zoo_steps": 1_000_000,
        "n_steps": 1024,
        "batch_size": 64,
        "gae_lambda": 0.98,
        "gamma": 0.999,
        "n_epochs": 4,
        "ent_coef": 0.01,
    },
    # ppo.yml MountainCar-v0: normalize true, n_envs 16, n_timesteps 1e6, n_steps 16, gae_lambda 0.98, gamma
    # 0.99, n_epochs 4, ent_coef 0.0 (batch size, learning rate and clip range: SB3 defaults 64, 3e-4, 0.2)
    "MountainCar-v0": {
        "n_envs": 16,
        "zoo_steps": 1_000_000,
        "zoo_normalize": True,
        "n_steps": 16,
        "gae_lambda": 0.98,
        "gamma": 0.99,
        "n_epochs": 4,
        "ent_coef": 0.0,
    },
    # ppo.yml Acrobot-v1: normalize true, n_envs 16, n_timesteps 1e6, n_steps 256, gae_lambda 0.94, gamma
    # 0.99, n_epochs 4, ent_coef 0.0
    "Acrobot-v1": {
        "n_envs": 16,
        "zoo_steps": 1_000_000,
        "zoo_normalize": True,
        "n_steps": 256,
        "gae_lambda": 0.94,
        "gamma": 0.99,
        "n_epochs": 4,
        "ent_coef": 0.0,
    },
    # ppo.yml MiniGrid-DoorKey-5x5-v0: normalize true, n_envs 8, n_timesteps 1e5, n_steps 128, batch_size 64,
    # gae_lambda 0.95, gamma 0.99, n_epochs 10, ent_coef 0.0, learning_rate 2.5e-4, clip_range 0.2 (the entry
    # comments out its flattening wrapper, "Dict Observations are now supported"; here every agent gets
    # MiniGrid's observations flattened by lightup.envs.adapters)
    "MiniGrid-DoorKey-5x5-v0": {
        "n_envs": 8,
        "zoo_steps": 100_000,
        "zoo_normalize": True,
        "n_steps": 128,
        "batch_size": 64,
        "gae_lambda": 0.95,
        "gamma": 0.99,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 2.5e-4,
        "clip_range": 0.2,
    },
}

# dqn.yml "# Tuned" Acrobot-v1 and LunarLander-v2, the same values in both: n_timesteps 1e5, learning_rate
# 6.3e-4, batch_size 128, buffer_size 50000, learning_starts 0, gamma 0.99, target_update_interval 250,
# train_freq 4, gradient_steps -1, exploration_fraction 0.12, exploration_final_eps 0.1, net_arch [256, 256]
_DQN_ACROBOT_LUNAR: dict = {
    "n_envs": 1,
    "zoo_steps": 100_000,
    "learning_rate": 6.3e-4,
    "batch_size": 128,
    "buffer_size": 50_000,
    "learning_starts": 0,
    "gamma": 0.99,
    "target_update_interval": 250,
    "train_freq": 4,
    "gradient_steps": -1,
    "exploration_fraction": 0.12,
    "exploration_final_eps": 0.1,
    "net_arch": [256, 256],
}

DQN: dict[str, dict] = {
    # dqn.yml "# Almost Tuned" CartPole-v1: n_timesteps 5e4, learning_rate 2.3e-3, batch_size 64,
    # buffer_size 100000, learning_starts 1000, gamma 0.99, target_update_interval 10, train_freq 256,
    # gradient_steps 128, exploration_fraction 0.16, exploration_final_eps 0.04, net_arch [256, 256]
    "CartPole-v1": {
        "n_envs": 1,
        "zoo_steps": 50_000,
        "learning_rate": 2.3e-3,
        "batch_size": 64,
        "buffer_size": 100_000,
        "learning_starts": 1000,
        "gamma": 0.99,
        "target_update_interval": 10,
        "train_freq": 256,
        "gradient_steps": 128,
        "exploration_fraction": 0.16,
        "exploration_final_eps": 0.04,
        "net_arch": [256, 256],
    },
    # dqn.yml "# Tuned" MountainCar-v0: n_timesteps 1.2e5, learning_rate 4e-3, batch_size 128, buffer_size
    # 10000, learning_starts 1000, gamma 0.98, target_update_interval 600, train_freq 16, gradient_steps 8,
    # exploration_fraction 0.2, exploration_final_eps 0.07, net_arch [256, 256]
    "MountainCar-v0": {
        "n_envs": 1,
        "zoo_steps": 120_000,
        "learning_rate": 4e-3,
        "batch_size": 128,
        "buffer_size": 10_000,
        "learning_starts": 1000,
        "gamma": 0.98,
        "target_update_interval": 600,
        "train_freq": 16,
        "gradient_steps": 8,
        "exploration_fraction": 0.2,
        "exploration_final_eps": 0.07,
        "net_arch": [256, 256],
    },
    # dqn.yml "# Tuned" Acrobot-v1 and LunarLander-v2 (the same values in both)
    "Acrobot-v1": dict(_DQN_ACROBOT_LUNAR),
    "LunarLander-v3": dict(_DQN_ACROBOT_LUNAR),
}

# Not from the zoo: our choice for envs it does not cover (the lightup games: short episodes, rewards in
# [-1, 1]). PPO: the zoo's CartPole-v1 setting (many small rollouts, fast to learn) with the SB3 default
# gamma 0.99 and lambda 0.95 and a fixed learning rate. DQN: the zoo's Acrobot-v1 and LunarLander-v2 values
# (the same in both) with learning_starts 1000 and one gradient step per update, net [64, 64] like SB3's MLP.
FALLBACK: dict[str, dict] = {
    "ppo": {
        "n_envs": 8,
        "zoo_steps": 20_000,
        "n_steps": 32,
        "batch_size": 256,
        "gae_lambda": 0.95,
        "gamma": 0.99,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
    },
    "dqn": {
        **_DQN_ACROBOT_LUNAR,
        "zoo_steps": 20_000,
        "learning_starts": 1000,
        "gradient_steps": 1,
        "net_arch": [64, 64],
    },
}


def hyperparameters(algo: str, env_id: str) -> tuple[dict, bool]:
    """The zoo's values for ``algo`` ("ppo", "dqn", "sac" or "td3") on ``env_id``, and whether they come
    from the zoo (continuous-action entries: `lightup.bench.zoo_continuous`)."""
    from lightup.bench.zoo_continuous import FALLBACK_CONTINUOUS, PPO_CONTINUOUS, SAC, TD3

    table = {"ppo": {**PPO, **PPO_CONTINUOUS}, "dqn": DQN, "sac": SAC, "td3": TD3}[algo]
    if env_name(env_id) in table:  # the zoo names envs without the module a module:EnvId id imports
        return dict(table[env_name(env_id)]), True
    return dict({**FALLBACK, **FALLBACK_CONTINUOUS}[algo]), False


def as_recorded(params: dict, from_zoo: bool) -> dict:
    """`hyperparameters`' answer as a bench row records it: what the peer ran with, and what a resumed bench
    compares its kept rows against."""
    return dict(params, from_zoo=from_zoo)
