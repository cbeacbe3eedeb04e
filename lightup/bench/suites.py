"""Named suites of `lightup bench --suite NAME`: the envs, with their budgets, thresholds and evaluation.

``general`` is issue 24's generalisation suite: the five lightup game settings already benched, CartPole-v1
and LunarLander-v3, and four tasks nobody tuned lightup on; ``continuous``, issue 28's classic continuous
tasks. Budgets are the largest of the RL Zoo's PPO, SAC and TD3 budgets where the zoo has one
(lightup/bench/zoo.py, zoo_continuous.py), else 200k, capped at 1M. Thresholds are the Gymnasium registry's
where it sets one; MiniGrid's DoorKey sets none, so it takes the mean return 0.9 the issue names. FrozenLake
is stochastic: 100 evaluation episodes, so that the threshold test is not a coin flip.
"""

from __future__ import annotations

from dataclasses import dataclass

from lightup.bench.zoo import PPO
from lightup.bench.zoo_continuous import PPO_CONTINUOUS, SAC, TD3
from lightup.envs import env_name

DEFAULT_BUDGET = 200_000
MAX_BUDGET = 1_000_000


@dataclass(frozen=True)
class SuiteEnv:
    spec: str
    """The env id, options after commas (as --envs takes them)."""
    threshold: float | None = None
    """The return that counts as solved, where the env's own (registry) threshold is missing."""
    eval_episodes: int | None = None
    """Evaluation episodes, where the bench's 20 are too few."""

    @property
    def budget(self) -> int:
        env_id = env_name(self.spec.split(",")[0])
        zoo = [t[env_id]["zoo_steps"] for t in (PPO, PPO_CONTINUOUS, SAC, TD3) if env_id in t]
        return min(max(zoo, default=DEFAULT_BUDGET), MAX_BUDGET)


SUITES: dict[str, tuple[SuiteEnv, ...]] = {
    "general": (
        SuiteEnv("lightup/PressButton-v0"),
        SuiteEnv("lightup/PressButton-v0,size=4"),
        SuiteEnv("lightup/PressButton-v0,game_length=5"),
        SuiteEnv("lightup/PressButton-v0,game_length=5,hard_mode=true"),
        SuiteEnv("lightup/RecallButton-v0"),
        SuiteEnv("CartPole-v1"),
        SuiteEnv("LunarLander-v3"),
        SuiteEnv("MountainCar-v0"),
        SuiteEnv("Taxi-v4"),
        SuiteEnv("FrozenLake-v1", eval_episodes=100),
        SuiteEnv("minigrid:MiniGrid-DoorKey-5x5-v0", threshold=0.9),
    ),
    # Issue 28's classic continuous tasks; Pendulum-v1 sets no threshold in the registry: the issue's -200.
    "continuous": (
        SuiteEnv("Pendulum-v1", threshold=-200.0),
        SuiteEnv("MountainCarContinuous-v0"),
        SuiteEnv("LunarLanderContinuous-v3"),
    ),
}
SUITE_THRESHOLDS = {
    e.spec: e.threshold for suite in SUITES.values() for e in suite if e.threshold is not None
}
"""The thresholds the suites set where the registry sets none: used for these envs given by --envs too."""
SUITE_AGENTS = ("dt-stacked", "sb3-ppo", "sb3-dqn")
"""The agents of a suite unless --agents names others: the DT on its defaults beside both peers."""
