"""Probe envs: the smallest games that each isolate one part of an agent.

After Andy Jones, "Debugging RL, Without the Agonizing Pain" (https://andyljones.com/posts/rl-debugging.html):
run them in order; the first one an agent fails points at the broken part (value loss, discounting,
policy gradient, observation/action coupling, return conditioning).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from lightup.envs.common import METADATA, check_render_mode


class ProbeEnv(gym.Env):
    """Shared mechanics: Box(-1, 1, (1,)) observations, a fixed episode length, no arguments."""

    metadata = METADATA
    n_actions = 1
    n_steps = 1
    random_sign = False  # observation is +1 or -1 at random (else 0, or the step index)
    reward_threshold = 0.9
    max_return = 1.0  # the highest return one episode can get

    def __init__(self, render_mode: str | None = None):
        self.render_mode = check_render_mode(render_mode)
        self.action_space = spaces.Discrete(self.n_actions)
        self.observation_space = spaces.Box(-1.0, 1.0, (1,), dtype=np.float32)
        self._sign = 1.0
        self._t = 0

    def _reward(self, action: int) -> float:
        raise NotImplementedError

    def _obs(self) -> np.ndarray:
        if self._t >= self.n_steps:
            return np.zeros(1, dtype=np.float32)  # after the end
        return np.array([self._sign if self.random_sign else self._t], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._sign = float(self.np_random.choice([-1.0, 1.0])) if self.random_sign else 1.0
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        assert self.action_space.contains(action), f"{action!r} ({type(action)}) invalid"
        assert self._t < self.n_steps, "the episode is over; call reset"
        reward = self._reward(int(action))
        self._t += 1
        return self._obs(), reward, self._t >= self.n_steps, False, {}

    def describe(self, obs: np.ndarray) -> str:
        if self._t >= self.n_steps:
            return "the episode is over"
        return (
            f"observation {obs[0]:+g}, step {self._t + 1} of {self.n_steps}, actions 0-{self.n_actions - 1}"
        )

    def render(self) -> str | None:
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; make the env with render_mode='ansi'")
            return None
        return f"obs {self._obs()[0]:+g}  step {self._t} of {self.n_steps}"


class ProbeConstantEnv(ProbeEnv):
    """
    ## Description
    Probe 1: one action, a constant observation, reward +1. A value function that does not learn V = 1
    has a broken value loss or optimiser.

    ## Action Space
    `Discrete(1)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: always `[0]`.
    ## Rewards
    +1.
    ## Starting State
    `[0]`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = random = 1. `reward_threshold` is 0.9.
    ## Version History
    * v0: Initial version.
    """

    def _reward(self, action: int) -> float:
        return 1.0


class ProbeObsRewardEnv(ProbeEnv):
    """
    ## Description
    Probe 2: one action, observation +1 or -1 at random, reward equal to the observation. A value
    function that does not learn V(+1) = +1 and V(-1) = -1 cannot use its observation (backprop bug).

    ## Action Space
    `Discrete(1)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: `[+1]` or `[-1]`, each with probability 1/2.
    ## Rewards
    The observation: +1 or -1.
    ## Starting State
    The sign is drawn from `self.np_random`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    Every policy has expected return 0 (the agent cannot control it); the return is +1 or -1 as the
    observation says. `reward_threshold` is 0.0, the optimal expected return: reaching it says nothing
    about the agent, so judge this probe by the predicted value or return per observation instead.
    ## Version History
    * v0: Initial version.
    """

    random_sign = True
    reward_threshold = 0.0

    def _reward(self, action: int) -> float:
        return self._sign


class ProbeDelayedRewardEnv(ProbeEnv):
    """
    ## Description
    Probe 3: one action, two steps, observation `[0]` then `[1]`, reward 0 then +1. A value function
    that does not learn V([0]) = 1 (undiscounted) mishandles bootstrapping, discounting or returns-to-go.

    ## Action Space
    `Discrete(1)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: `[0]` on the first step, `[1]` on the second.
    ## Rewards
    0 on the first step, +1 on the second.
    ## Starting State
    `[0]`.
    ## Episode End
    Terminated after two steps.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = random = 1. `reward_threshold` is 0.9.
    ## Version History
    * v0: Initial version.
    """

    n_steps = 2

    def _reward(self, action: int) -> float:
        return 1.0 if self._t == 1 else 0.0


class ProbeActionRewardEnv(ProbeEnv):
    """
    ## Description
    Probe 4: two actions, a constant observation; action 1 gives +1, action 0 gives -1. A policy that
    does not learn to pick action 1 has a broken policy loss or advantage.

    ## Action Space
    `Discrete(2)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: always `[0]`.
    ## Rewards
    +1 for action 1, -1 for action 0.
    ## Starting State
    `[0]`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = 1, uniformly random = 0. `reward_threshold` is 0.9.
    ## Version History
    * v0: Initial version.
    """

    n_actions = 2

    def _reward(self, action: int) -> float:
        return 1.0 if action == 1 else -1.0


class ProbeActionObsRewardEnv(ProbeEnv):
    """
    ## Description
    Probe 5: two actions, observation +1 or -1 at random; the reward is +1 when the action matches the
    sign (action 1 on +1, action 0 on -1) and -1 otherwise. Failing this while passing probes 2 and 4
    means the policy does not condition its action on the observation.

    ## Action Space
    `Discrete(2)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: `[+1]` or `[-1]`, each with probability 1/2.
    ## Rewards
    +1 if `(action == 1) == (obs > 0)`, else -1.
    ## Starting State
    The sign is drawn from `self.np_random`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = 1, uniformly random = 0. `reward_threshold` is 0.9.
    ## Version History
    * v0: Initial version.
    """

    n_actions = 2
    random_sign = True

    def _reward(self, action: int) -> float:
        return 1.0 if (action == 1) == (self._sign > 0) else -1.0


class CommandFollowEnv(ProbeEnv):
    """
    ## Description
    The command-following probe for return-conditioned agents (Decision Transformers): two actions, a
    constant observation; action 0 gives +1, action 1 gives -1. Both returns are reachable for sure, so
    a policy commanded a return of +1 must choose action 0 and one commanded -1 must choose action 1.
    The good action is 0 (not 1 as in probe 4) so that a bias learned there cannot pass for this one.

    ## Action Space
    `Discrete(2)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: always `[0]`.
    ## Rewards
    +1 for action 0, -1 for action 1.
    ## Starting State
    `[0]`.
    ## Episode End
    Terminated after one step.
    ## Arguments
    None.
    ## Optimal and Random Returns
    optimal = 1, uniformly random = 0. `reward_threshold` is 0.9.
    ## Version History
    * v0: Initial version.
    """

    n_actions = 2

    def _reward(self, action: int) -> float:
        return 1.0 if action == 0 else -1.0


class CommandFollowLaterEnv(ProbeEnv):
    """
    ## Description
    Command following after the first step: two steps; the first pays +1 or -1 at random whatever the
    action (the observation does not show which), the second pays +1 for action 0 and -1 for action 1,
    as in `CommandFollowEnv`. Commanded a total return of 0, the policy must choose at the second step
    from the return still to collect (-1 after a +1, +1 after a -1): nothing else it sees tells the two
    cases apart. A policy that reads the return-to-go only at the first step of an episode meets the
    command half of the time.

    ## Action Space
    `Discrete(2)`.
    ## Observation Space
    `Box(-1, 1, (1,), float32)`: the step index, `[0]` then `[1]`.
    ## Rewards
    Step 0: +1 or -1, each with probability 1/2, whatever the action. Step 1: +1 for action 0, -1 for
    action 1.
    ## Starting State
    `[0]`; the first reward is drawn from `self.np_random` at reset.
    ## Episode End
    Terminated after two steps.
    ## Arguments
    None.
    ## Optimal and Random Returns
    The highest expected return is 1 (action 0 at the second step), uniformly random 0; a return of 0
    is reachable for sure, and only by reading the return still to collect. `reward_threshold` is 0.9,
    which a policy can pass without following commands: judge this probe by commanded returns instead.
    ## Version History
    * v0: Initial version.
    """

    n_actions = 2
    n_steps = 2
    max_return = 2.0
    _first = 1.0  # the first step's reward, drawn at reset

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        self._first = float(self.np_random.choice([-1.0, 1.0]))
        return obs, info

    def _reward(self, action: int) -> float:
        if self._t == 0:
            return self._first
        return 1.0 if action == 0 else -1.0
