"""SB3 hyperparameters of the continuous-action peers (SAC, TD3, PPO), from the RL Baselines3 Zoo.

Source: DLR-RM/rl-baselines3-zoo, ``hyperparams/sac.yml`` (commit c94924e), ``hyperparams/td3.yml`` (commit
a02f4fb) and ``hyperparams/ppo.yml`` (commit 208b6fd). Where the zoo tunes an older version of an env
(Pendulum-v0, LunarLanderContinuous-v2, the MuJoCo v3/v4 envs), its values are used for the version here
(Pendulum-v1, LunarLanderContinuous-v3, the v5 envs): same dynamics and rewards up to bug fixes.

The zoo's ``normalize: true`` (PPO on MountainCarContinuous and MuJoCo) is kept as ``zoo_normalize``
(lightup/bench/zoo.py says how it is trained and evaluated). Departure, stated: TD3's MuJoCo entries are
not in that td3.yml: they get ``FALLBACK_CONTINUOUS["td3"]``. Every env here has a [-1, 1] action space to
the agents (`lightup.envs.adapters` rescales it), as the zoo recommends for SAC and TD3.
"""

from __future__ import annotations

from lightup.bench.zoo import PPO

_MUJOCO = ("Hopper-v5", "HalfCheetah-v5", "Walker2d-v5")

SAC: dict[str, dict] = {
    # sac.yml "# Tuned" MountainCarContinuous-v0
    "MountainCarContinuous-v0": {
        "n_envs": 1,
        "zoo_steps": 50_000,
        "learning_rate": 3e-4,
        "buffer_size": 50_000,
        "batch_size": 512,
        "ent_coef": 0.1,
        "train_freq": 32,
        "gradient_steps": 32,
        "gamma": 0.9999,
        "tau": 0.01,
        "learning_starts": 0,
        "use_sde": True,
        "policy_kwargs": {"log_std_init": -3.67, "net_arch": [64, 64]},
    },
    # sac.yml Pendulum-v1: n_timesteps 20000, learning_rate 1e-3 (else SB3's defaults)
    "Pendulum-v1": {"n_envs": 1, "zoo_steps": 20_000, "learning_rate": 1e-3},
    # sac.yml LunarLanderContinuous-v2
    "LunarLanderContinuous-v3": {
        "n_envs": 1,
        "zoo_steps": 500_000,
        "batch_size": 256,
        "learning_rate": "lin_7.3e-4",
        "buffer_size": 1_000_000,
        "ent_coef": "auto",
        "gamma": 0.99,
        "tau": 0.01,
        "train_freq": 1,
        "gradient_steps": 1,
        "learning_starts": 10_000,
        "policy_kwargs": {"net_arch": [400, 300]},
    },
    # sac.yml HalfCheetah-v3 &mujoco-defaults (Hopper, Walker2d the same): learning_starts 10000
    **{env: {"n_envs": 1, "zoo_steps": 1_000_000, "learning_starts": 10_000} for env in _MUJOCO},
}

_TD3_CLASSIC = {
    "gamma": 0.98,
    "buffer_size": 200_000,
    "learning_starts": 10_000,
    "noise_type": "normal",
    "noise_std": 0.1,
    "gradient_steps": -1,
    "train_freq": (1, "episode"),
    "learning_rate": 1e-3,
    "policy_kwargs": {"net_arch": [400, 300]},
}
TD3: dict[str, dict] = {
    # td3.yml "# Tuned" MountainCarContinuous-v0: n_timesteps 300000, Ornstein-Uhlenbeck noise of std 0.5
    "MountainCarContinuous-v0": {
        "n_envs": 1,
        "zoo_steps": 300_000,
        "noise_type": "ornstein-uhlenbeck",
        "noise_std": 0.5,
    },
    # td3.yml Pendulum-v0 and LunarLanderContinuous-v2 (the same values but the budget)
    "Pendulum-v1": {"n_envs": 1, "zoo_steps": 20_000, **_TD3_CLASSIC},
    "LunarLanderContinuous-v3": {"n_envs": 1, "zoo_steps": 300_000, **_TD3_CLASSIC},
}

_PPO_MUJOCO = {"ortho_init": False, "log_std_init": -2, "net_arch": {"pi": [256, 256], "vf": [256, 256]}}
PPO_CONTINUOUS: dict[str, dict] = {
    # ppo.yml "# Tuned" Pendulum-v1
    "Pendulum-v1": {
        "n_envs": 4,
        "zoo_steps": 100_000,
        "n_steps": 1024,
        "gae_lambda": 0.95,
        "gamma": 0.9,
        "n_epochs": 10,
        "ent_coef": 0.0,
        "learning_rate": 1e-3,
        "clip_range": 0.2,
        "use_sde": True,
        "sde_sample_freq": 4,
    },
    # ppo.yml "# Tuned" MountainCarContinuous-v0
    "MountainCarContinuous-v0": {
        "n_envs": 1,
        "zoo_steps": 20_000,
        "zoo_normalize": True,
        "batch_size": 256,
        "n_steps": 8,
        "gamma": 0.9999,
        "learning_rate": 7.77e-05,
        "ent_coef": 0.00429,
        "clip_range": 0.1,
        "n_epochs": 10,
        "gae_lambda": 0.9,
        "max_grad_norm": 5,
        "vf_coef": 0.19,
        "use_sde": True,
        "policy_kwargs": {"log_std_init": -3.29, "ortho_init": False},
    },
    # ppo.yml LunarLanderContinuous-v3: the same values as its LunarLander-v2 entry
    "LunarLanderContinuous-v3": dict(PPO["LunarLander-v3"]),
    # ppo.yml "# Tuned" Hopper-v4, HalfCheetah-v4, Walker2d-v4. Departure: the zoo's activation_fn=nn.ReLU is
    # dropped (a class cannot go into the results' JSON): SB3's Tanh stays.
    "Hopper-v5": {
        "n_envs": 1,
        "zoo_steps": 1_000_000,
        "zoo_normalize": True,
        "batch_size": 32,
        "n_steps": 512,
        "gamma": 0.999,
        "learning_rate": 9.80828e-05,
        "ent_coef": 0.00229519,
        "clip_range": 0.2,
        "n_epochs": 5,
        "gae_lambda": 0.99,
        "max_grad_norm": 0.7,
        "vf_coef": 0.835671,
        "policy_kwargs": _PPO_MUJOCO,
    },
    "HalfCheetah-v5": {
        "n_envs": 1,
        "zoo_steps": 1_000_000,
        "zoo_normalize": True,
        "batch_size": 64,
        "n_steps": 512,
        "gamma": 0.98,
        "learning_rate": 2.0633e-05,
        "ent_coef": 0.000401762,
        "clip_range": 0.1,
        "n_epochs": 20,
        "gae_lambda": 0.92,
        "max_grad_norm": 0.8,
        "vf_coef": 0.58096,
        "policy_kwargs": _PPO_MUJOCO,
    },
    "Walker2d-v5": {
        "n_envs": 1,
        "zoo_steps": 1_000_000,
        "zoo_normalize": True,
        "batch_size": 32,
        "n_steps": 512,
        "gamma": 0.99,
        "learning_rate": 5.05041e-05,
        "ent_coef": 0.000585045,
        "clip_range": 0.1,
        "n_epochs": 20,
        "gae_lambda": 0.95,
        "max_grad_norm": 1,
        "vf_coef": 0.871923,
    },
}

# Not from the zoo: SB3's defaults with the zoo's usual warm-up, for envs it does not cover (the continuous
# probes, a user's env). PPO on continuous actions falls back to the discrete FALLBACK of `zoo`.
FALLBACK_CONTINUOUS: dict[str, dict] = {
    "sac": {"n_envs": 1, "zoo_steps": 20_000, "learning_starts": 1_000},
    "td3": {
        "n_envs": 1,
        "zoo_steps": 20_000,
        "learning_starts": 1_000,
        "noise_type": "normal",
        "noise_std": 0.1,
    },
}
