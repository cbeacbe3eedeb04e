"""`BenchConfig`: the one config of `lightup bench`; field docstrings become ``--help``."""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro

from lightup.args import MaybeInt, MaybeStr, Strings, default_hint
from lightup.bench.runs import (
    AGENTS,
    BENCH_EXTRA,
    CONTINUOUS_ONLY,
    DISCRETE_ONLY,
    SB3_AGENTS,
    TRAINER_AGENTS,
    Job,
)
from lightup.bench.suites import SUITE_THRESHOLDS, SUITES
from lightup.bench.validate import check_set_item, check_types, seed_count, short, shown
from lightup.errors import LightupError
from lightup.ranges import check, check_config
from lightup.training.config import parse_override
from lightup.training.recipe import DEFAULTS, EVALUATIONS_PER_RUN

RESULTS = Path("benchmarks") / "results"


@dataclass
class BenchConfig:
    envs: tuple[str, ...] = ("lightup/PressButton-v0", "CartPole-v1")
    """Env ids, with options after commas (id,size=4)."""
    agents: tuple[str, ...] = ("dt-stacked", "dt-interleaved", "sb3-ppo")
    """dt-stacked, dt-interleaved, mlp, sb3-{ppo,dqn,sac,td3}."""
    seeds: int = 10
    """Runs per env and agent, with seeds 0 .. seeds-1."""
    agent_seeds: Strings = ()
    """Other seed counts for some agents, as AGENT=N (e.g. sb3-dqn=3 when DQN is slow)."""
    set: Strings = ()
    """TrainConfig fields of the DT and MLP runs, as FIELD=VALUE (a switch measured on every env)."""
    suite: Annotated[
        Literal["general", "continuous"] | None,
        tyro.conf.arg(metavar="{general,continuous}", help_behavior_hint=default_hint),
    ] = None
    """A named suite's envs at their budgets (with --envs: only those); --budget caps them (default: none)."""
    budget: MaybeInt = None
    """Env steps per run at most; runs stop at the threshold (default: the recipe's 100k, or the suite's)."""
    eval_every: MaybeInt = None
    """Env steps between greedy evaluations (default: a twentieth of the budget)."""
    eval_episodes: int = 20
    """Greedy evaluation episodes."""
    name: MaybeStr = None
    """Results go to benchmarks/results/bench_{name} (default: from the env ids)."""
    out: MaybeStr = None
    """The results folder (default: from --name)."""
    ray: MaybeStr = None
    """Run on Ray: auto (the cluster here, else a local one) or a cluster ADDRESS (default: a local pool)."""
    workers: MaybeInt = None
    """Runs at a time in the local pool (default: one per core)."""
    bootstrap_reps: int = 2000
    """Bootstrap replications of the confidence intervals."""
    resume: bool = False
    """Run only the runs the results folder lacks (refused if its runs' flags or settings differ)."""
    report: MaybeStr = None
    """Run nothing: write this results folder's summary and plots again from its runs (default: none)."""
    quiet: bool = False
    """Print only the results folder."""

    @property
    def out_dir(self) -> Path:
        if self.out:
            return Path(self.out)
        if self.suite and not self.name:
            return RESULTS / f"bench_suite_{self.suite}"
        name = self.name or "_".join(re.sub(r"[^A-Za-z0-9.-]+", "-", e) for e in self.envs)
        return RESULTS / f"bench_{name}"

    def validate(self) -> None:
        """Check the flags, the env ids and the extras; a bad one is a one-line LightupError."""
        check_types(self)  # lists of strings, a known suite (a config.json edited by hand)
        check_config(self)  # every count and budget in its range (lightup.ranges)
        if self.name is not None and ("/" in self.name or "\\" in self.name or self.name in (".", "..")):
            raise LightupError(
                f"--name must be a plain name (a part of the results folder's), got {self.name!r}"
            )
        if not self.envs or not self.agents:
            raise LightupError("--envs and --agents each need at least one name")
        for agent in self.agents:
            if agent not in AGENTS:
                raise LightupError(f"unknown agent {agent!r}; choose from: {', '.join(AGENTS)}")
        for name in (*self.envs, *self.agents):
            if (*self.envs, *self.agents).count(name) > 1:
                raise LightupError(f"{name!r} is given twice")
        for spec in self.envs:
            check_env(*split_env(spec), agents=self.agents)
        self.seeds_by_agent()
        self.overrides()
        needed = {"rliable": BENCH_EXTRA, "pandas": BENCH_EXTRA}
        if any(a in SB3_AGENTS for a in self.agents):
            needed["stable_baselines3"] = BENCH_EXTRA
        if self.ray is not None:
            needed["ray"] = 'pip install -e ".[ray]"'
        for module, extra in needed.items():
            if importlib.util.find_spec(module) is None:
                raise LightupError(f"lightup bench needs {module}: {extra}")

    def with_suite(self) -> BenchConfig:
        """This config with its suite's envs as ``envs``, or only those ``--envs`` names when it names any
        (itself when no suite is named); an env not in the suite is a one-line LightupError."""
        if self.suite is None:
            return self
        names = tuple(e.spec for e in SUITES[self.suite])
        if self.envs == BenchConfig.envs:  # --envs not given: the whole suite
            return dataclasses.replace(self, envs=names)
        for spec in self.envs:
            if spec not in names:
                raise LightupError(
                    f"--envs {spec!r} is not in suite {self.suite}: name envs of the suite "
                    f"({', '.join(names)}), or leave --envs out to run all of it"
                )
        return self

    def jobs(self) -> list[Job]:
        """Every (env, agent, seed), seeds outermost: the first seeds of every pair finish first."""
        out, seeds, overrides = [], self.seeds_by_agent(), self.overrides()
        suite = {e.spec: e for e in SUITES[self.suite]} if self.suite else {}
        for seed in range(max(seeds.values())):
            for spec in self.envs:
                env_id, options = split_env(spec)
                budget, eval_every = self.budget_of(spec)
                episodes, solved_at = self.eval_episodes, None
                if spec in suite:
                    episodes = max(episodes, suite[spec].eval_episodes or 0)
                    solved_at = suite[spec].threshold
                else:  # an env the registry gives no threshold (Pendulum-v1): the one a suite names
                    solved_at = SUITE_THRESHOLDS.get(spec)
                for agent in (a for a in self.agents if seed < seeds[a]):
                    over = overrides if agent in TRAINER_AGENTS else ()
                    out.append(
                        Job(env_id, agent, seed, budget, eval_every, options, episodes, over, solved_at)
                    )
        return out

    def overrides(self) -> tuple[tuple[str, Any], ...]:
        """--set as (field, value) pairs, each checked (`lightup.training.config.parse_override`); a field
        the bench sets itself for every run, or a value too big to parse safely, is refused first."""
        out = []
        for item in self.set:
            check_set_item(item)
            try:
                out.append(parse_override(item))
            except (ValueError, RecursionError):  # an int of 4300+ digits: Python refuses to parse it
                raise LightupError(
                    f"--set {shown(item)}: the value cannot be parsed (an integer of thousands of digits?); "
                    "give a value in the field's range"
                ) from None
            if [key for key, _ in out].count(out[-1][0]) > 1:  # the last would win, silently
                raise LightupError(f"--set sets {out[-1][0]} twice; give each field once")
        return tuple(out)

    def seeds_by_agent(self) -> dict[str, int]:
        """agent -> number of seeds: --seeds, or the agent's --agent-seeds entry."""
        out = dict.fromkeys(self.agents, self.seeds)
        for pair in self.agent_seeds:
            agent, _, count = pair.partition("=")
            if agent not in out:
                raise LightupError(
                    f"--agent-seeds {short(pair)} must look like AGENT=N with N >= 1 and AGENT one of "
                    "--agents"
                )
            out[agent] = check("seeds", seed_count(agent, count, pair), f"--agent-seeds {agent}=N")
        return out

    def budget_of(self, spec: str) -> tuple[int, int]:
        """(budget, eval_every) of an env: the flags, else the suite's or the default recipe's (the same for
        every env); a suite's budget is capped by --budget."""
        budget = self.budget or DEFAULTS["total_steps"]
        suite = {e.spec: e for e in SUITES[self.suite]} if self.suite else {}
        if spec in suite:
            budget = min(self.budget or suite[spec].budget, suite[spec].budget)
        eval_every = min(self.eval_every or max(budget // EVALUATIONS_PER_RUN, 1), budget)
        return budget, eval_every

    @property
    def n_workers(self) -> int:
        return self.workers or os.cpu_count() or 1


def split_env(spec: str) -> tuple[str, tuple[str, ...]]:
    """``"lightup/PressButton-v0,size=4"`` -> ``("lightup/PressButton-v0", ("size=4",))``."""
    env_id, *options = (part.strip() for part in spec.split(","))
    return env_id, tuple(options)


def check_env(env_id: str, options: tuple[str, ...] = (), agents: tuple[str, ...] = ()) -> None:
    """The env exists, takes these options and has an action space that the trainer and each of ``agents``
    play (`make_env` adapts its observations to flat vectors or says why it cannot)."""
    import gymnasium as gym

    from lightup.envs import make_env, parse_options
    from lightup.envs.adapters import action_space_problem

    try:
        env = make_env(env_id, **parse_options(list(options)))
    except LightupError:
        raise
    except Exception as err:  # a registered env whose dependencies are missing, e.g. box2d
        raise LightupError(f"cannot make {env_id}: {str(err).splitlines()[0]}") from None
    try:
        problem = action_space_problem(env.action_space)
        if problem is not None:
            raise LightupError(f"{env_id} has {problem}")
        discrete = isinstance(env.action_space, gym.spaces.Discrete)
        for agent in agents:
            if agent in (CONTINUOUS_ONLY if discrete else DISCRETE_ONLY):
                kind, other = ("Discrete", "Box") if discrete else ("Box", "Discrete")
                raise LightupError(
                    f"{agent} plays {other} action spaces only, and {env_id} has a {kind} one; drop it from "
                    "--agents for this env"
                )
    finally:
        env.close()
