"""The public API: `from lightup import ...`, each env form the trainer takes, a user's own policy trained
end to end, callbacks that stop training, and `Agent` playing exactly as the trainer's evaluation."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from tiny import tiny_config

import lightup
from lightup.errors import LightupError


def test_the_top_level_api_names_the_main_classes_and_lightup_play_does_not_import_torch():
    from lightup import Agent, DecisionTransformer, SequencePolicy, TrainConfig, Trainer
    from lightup.models import DecisionTransformer as DT
    from lightup.training.trainer import Trainer as T

    assert Trainer is T and DecisionTransformer is DT and issubclass(DT, SequencePolicy)
    assert TrainConfig().policy == "dt" and callable(Agent.load)
    with pytest.raises(AttributeError):
        lightup.NoSuchThing  # noqa: B018
    code = "import sys, lightup, lightup.envs.play; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _weights(policy) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in policy.state_dict().items()}


def _same_weights(a, b) -> bool:
    wa, wb = _weights(a), _weights(b)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


class CountingEnv(gym.Wrapper):
    """Counts the steps taken through it (to see which envs a trainer plays)."""

    steps = 0

    def step(self, action):
        CountingEnv.steps += 1
        return super().step(action)


# --- the env forms ---


def test_each_env_form_trains_the_same_run_as_the_id(tmp_path):
    """Seed 0, 128 env steps: an id, a callable and a SAME_STEP SyncVectorEnv of the same env give the same
    weights as the config's own env id; the given vector env is the one rollouts step."""
    from lightup.training.trainer import Trainer

    env_id = "lightup/PressButton-v0"
    base = Trainer(tiny_config(tmp_path / "base", env_id)).learn(128)
    by_id = Trainer(tiny_config(tmp_path / "id", "CartPole-v1"), env=env_id).learn(128)
    assert by_id.config.env_id == env_id
    made = Trainer(tiny_config(tmp_path / "callable"), env=lambda: gym.make(env_id)).learn(128)
    CountingEnv.steps = 0
    vector = gym.vector.SyncVectorEnv(
        [lambda: CountingEnv(gym.make(env_id)) for _ in range(4)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    vec = Trainer(tiny_config(tmp_path / "vector", n_envs=None), env=vector).learn(128)
    for trainer in (by_id, made, vec):
        assert trainer.steps == base.steps == 128
        assert _same_weights(trainer.policy, base.policy)
        assert trainer.last_eval == base.last_eval
    assert vec.config.n_envs == 4
    # 128 rollout steps through the given vector env, and the evaluation envs made from its env_fns (the
    # same wrapper): at least one step per evaluation episode more
    assert CountingEnv.steps > 128
    vector.step(np.zeros(4, np.int64))  # the trainer left the caller's vector env open
    vector.close()


class NoFns(gym.vector.SyncVectorEnv):
    """A vector env that cannot tell how its envs are made."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.env_fns = None


def test_env_forms_that_cannot_work_are_one_line_errors(tmp_path):
    from lightup.training.trainer import Trainer

    make = [lambda: gym.make("CartPole-v1") for _ in range(2)]
    next_step = gym.vector.SyncVectorEnv(make, autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    with pytest.raises(LightupError, match="SAME_STEP"):
        Trainer(tiny_config(tmp_path, n_envs=None), env=next_step)
    no_fns = NoFns(make, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    with pytest.raises(LightupError, match="eval_env="):
        Trainer(tiny_config(tmp_path, n_envs=None), env=no_fns)
    trainer = Trainer(
        tiny_config(tmp_path, n_envs=None), env=no_fns, eval_env=lambda: gym.make("CartPole-v1")
    )
    assert trainer.config.n_envs == 2
    with pytest.raises(LightupError, match="holds 2 envs"):
        Trainer(tiny_config(tmp_path, n_envs=4), env=no_fns, eval_env=lambda: gym.make("CartPole-v1"))
    with pytest.raises(LightupError, match="not a int"):
        Trainer(tiny_config(tmp_path), env=3)
    with pytest.raises(LightupError, match="not a gym.Env"):
        Trainer(tiny_config(tmp_path), env=lambda: "CartPole-v1")
    for vector in (next_step, no_fns):
        vector.close()


# --- a user's policy ---


@pytest.fixture
def examples_path(monkeypatch):
    from pathlib import Path

    path = str(Path(__file__).resolve().parent.parent / "examples")
    monkeypatch.syspath_prepend(path)
    return path


def test_a_gru_policy_is_trained_end_to_end_and_resumes_only_when_given_again(tmp_path, examples_path):
    """Seed 0, at most 3000 env steps on PressButton: the example's GRU reaches the threshold; the trainer's
    optimiser holds the GRU's parameters; its run resumes only with the factory given again."""
    from custom_policy import GRUPolicy, make_policy

    from lightup.training.trainer import Trainer

    config = tiny_config(
        tmp_path / "run",
        n_envs=8,
        updates_per_round=8,
        batch_size=32,
        eval_every=512,
        eval_episodes=20,
        stop_at_threshold=True,
        buffer_kind="fifo",
    )
    trainer = Trainer(config, policy=make_policy)
    assert isinstance(trainer.policy, GRUPolicy)
    assert trainer.config.policy == "custom_policy:make_policy"
    optimised = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert optimised == {id(p) for p in trainer.policy.parameters()}
    trainer.learn(3000)
    assert trainer.solved_at is not None and trainer.solved_at <= 3000
    with pytest.raises(LightupError, match="--policy custom_policy:make_policy"):
        Trainer.load(trainer.run_dir)
    resumed = Trainer.load(trainer.run_dir, policy=make_policy)
    assert _same_weights(resumed.policy, trainer.policy) and resumed.steps == trainer.steps


def test_a_policy_that_does_not_fit_the_env_is_a_one_line_error(tmp_path, examples_path):
    from custom_policy import GRUPolicy

    from lightup.training.trainer import Trainer

    with pytest.raises(LightupError, match="needs obs_dim"):
        Trainer(tiny_config(tmp_path, "CartPole-v1"), policy=GRUPolicy(3, 2))
    with pytest.raises(LightupError, match="not a lightup.models.SequencePolicy"):
        Trainer(tiny_config(tmp_path), policy=lambda o, a, d: torch.nn.Linear(o, a))


def test_lightup_train_trains_a_user_policy_and_resumes_it_only_with_policy_again(tmp_path, examples_path):
    import os

    env = dict(os.environ, PYTHONPATH=examples_path)
    run = tmp_path / "run"
    base = [sys.executable, "-m", "lightup.cli", "train"]
    flags = ["--n-envs", "2", "--rollout-steps", "4", "--eval-every", "16", "--eval-episodes", "2"]
    flags += ["--quiet", "--no-tensorboard", "--run-dir", str(run), "--total-steps", "16"]
    first = subprocess.run(
        [*base, *flags, "--policy", "custom_policy:make_policy"], env=env, capture_output=True, text=True
    )
    assert first.returncode == 0, first.stderr
    refused = subprocess.run([*base, "--resume", str(run)], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "--policy custom_policy:make_policy" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    resumed = subprocess.run(
        [*base, "--resume", str(run), "--policy", "custom_policy:make_policy"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr


# --- callbacks ---


def test_a_callback_stops_training_by_returning_false_or_by_the_flag(tmp_path):
    from lightup.training.callbacks import Callback, default_callbacks
    from lightup.training.trainer import Trainer

    class StopAfterRounds(Callback):
        def __init__(self, rounds: int):
            self.rounds, self.seen, self.ended, self.closed = rounds, [], False, False

        def on_round(self, trainer, metrics):
            self.seen.append(trainer.steps)
            return trainer.rounds < self.rounds

        def on_end(self, trainer):
            self.ended = True

        def close(self):
            self.closed = True

    config = tiny_config(tmp_path / "a")  # 4 envs x 8 steps a round
    stop = StopAfterRounds(3)
    trainer = Trainer(config).learn(1000, callbacks=[*default_callbacks(config), stop])
    assert trainer.rounds == 3 and trainer.steps == 96 and stop.seen == [32, 64, 96]
    assert stop.ended and stop.closed
    assert trainer.saved_at == 96  # the default checkpoint callback still saved at the end

    class StopAtFirstEvaluation(Callback):
        def on_eval(self, trainer, metrics):
            assert "eval/mean_reward" in metrics
            trainer.stop_training = True

    trainer = Trainer(tiny_config(tmp_path / "b", eval_every=64)).learn(
        1000, callbacks=[StopAtFirstEvaluation()]
    )
    assert trainer.steps == 64 and trainer.saved_at is None  # only the callbacks given: no checkpoint


# --- the agent ---


def _actions(agent, env_id: str, command: float, n: int = 3) -> tuple[list[float], list[list[int]]]:
    from lightup.training.agent import EVAL_SEED, play_episodes
    from lightup.training.envs import make_vector_env

    envs = make_vector_env(env_id, {}, n)
    seen: list[list[int]] = []
    returns = play_episodes(
        agent, envs, command=command, seed=EVAL_SEED, before_step=lambda obs, a: seen.append(a.tolist())
    )
    envs.close()
    return returns, seen


def test_agent_load_of_a_run_and_of_its_policy_file_plays_as_the_trainer_s_greedy_evaluation(tmp_path):
    """CartPole, seed 0, 256 env steps with weight averaging: the agent file holds the averaged weights, and
    the agent loaded from the run folder, from policy.safetensors, and from a folder with the checkpoint
    only, each play the evaluation seeds with the same actions and returns as the trainer."""
    import shutil

    from lightup import Agent
    from lightup.training.trainer import Trainer

    trainer = Trainer(tiny_config(tmp_path / "run", "CartPole-v1", ema=0.9, context_len=4)).learn(256)
    command = trainer.eval_target()
    expected = trainer.run_episodes(trainer.eval_envs, command)
    returns, actions = _actions(trainer.agent(), "CartPole-v1", command, n=trainer.config.eval_episodes)
    assert returns == expected and len(actions) > 8
    only_checkpoint = tmp_path / "checkpoint-only"
    shutil.copytree(trainer.run_dir, only_checkpoint)
    (only_checkpoint / "policy.safetensors").unlink()
    for source in (trainer.run_dir, trainer.run_dir / "policy.safetensors", only_checkpoint):
        agent = Agent.load(source)
        assert agent.command == command and agent.return_scale == trainer.config.return_scale
        assert _same_weights(agent.policy, trainer.eval_policy)
        assert not _same_weights(agent.policy, trainer.policy)  # the averaged weights, not the trained
        assert _actions(agent, "CartPole-v1", command, n=trainer.config.eval_episodes) == (returns, actions)
    size = (trainer.run_dir / "policy.safetensors").stat().st_size
    assert size < (trainer.run_dir / "checkpoint.safetensors").stat().st_size / 3


def test_agent_load_of_a_user_policy_needs_the_policy_and_refuses_a_file_that_is_not_an_agent(
    tmp_path, examples_path
):
    from custom_policy import make_policy

    from lightup import Agent
    from lightup.models import save_policy
    from lightup.training.trainer import Trainer

    trainer = Trainer(tiny_config(tmp_path / "run"), policy=make_policy).learn(64)
    with pytest.raises(LightupError, match="policy=factory"):
        Agent.load(trainer.run_dir)
    agent = Agent.load(trainer.run_dir, policy=make_policy)
    assert _same_weights(agent.policy, trainer.eval_policy) and agent.factory == "custom_policy:make_policy"
    other = Trainer(tiny_config(tmp_path / "dt")).policy
    save_policy(other, tmp_path / "bare.safetensors")  # a model file, without the agent's settings
    with pytest.raises(LightupError, match="not a lightup agent file"):
        Agent.load(tmp_path / "bare.safetensors")
    with pytest.raises(LightupError, match="does not fit the given policy"):
        Agent.load(trainer.run_dir / "policy.safetensors", policy=lambda o, a, d: make_policy(o + 1, a, d))


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (lambda t: t.index_fill(0, torch.tensor([0]), math.nan), "holds non-finite values (NaN or infinity)"),
        (lambda t: t.round().long(), "as torch.int64 where the model has floating-point weights"),
    ],
)
def test_an_agent_file_with_weights_no_model_can_hold_is_a_one_line_error(
    tmp_path, examples_path, change, says
):
    """NaN or integer weights of the right shape: torch's load_state_dict would take the NaN and cast the
    integers, and the agent would act on them; both lightup's models and a user's are refused, the file
    unchanged."""
    from custom_policy import make_policy

    from lightup import Agent
    from lightup.checkpoint import load_tensors, save_tensors
    from lightup.training.trainer import Trainer

    for name, policy in (("dt", None), ("user", make_policy)):
        trainer = Trainer(tiny_config(tmp_path / name), policy=policy).learn(64)
        path = trainer.run_dir / "policy.safetensors"
        tensors, meta = load_tensors(path)
        first = next(k for k in tensors if k.startswith("model.") and tensors[k].is_floating_point())
        tensors[first] = change(tensors[first])
        save_tensors(path, tensors, meta)
        before = path.read_bytes()
        with pytest.raises(LightupError, match=re.escape(repr(first))) as err:
            Agent.load(path, policy=policy)
        assert says in str(err.value) and "\n" not in str(err.value), err.value
        assert path.read_bytes() == before
        trainer.close()


def test_a_run_on_an_env_given_in_python_resumes_only_with_the_env_given_again(tmp_path):
    from lightup.training.trainer import Trainer

    make = lambda: gym.make("lightup/PressButton-v0")  # noqa: E731
    trainer = Trainer(tiny_config(tmp_path / "run"), env=make).learn(64)
    assert trainer.config.env_id == "lightup/PressButton-v0"  # the callable's env names the run
    trainer.config.env_id = "MyEnv"
    trainer.save_checkpoint()  # as a run on an unregistered env class records itself, in both files
    config = trainer.run_dir / "config.json"
    config.write_text(config.read_text().replace('"lightup/PressButton-v0"', '"MyEnv"'))
    with pytest.raises(LightupError, match="'MyEnv', not a registered env id.*pass the env again"):
        Trainer.load(trainer.run_dir)
    resumed = Trainer.load(trainer.run_dir, env=make).learn(128)
    assert resumed.steps == 128


def test_an_async_vector_env_trains_the_same_run_as_the_id(tmp_path):
    """Seed 0, 64 env steps of CartPole: an AsyncVectorEnv (SAME_STEP) in place of the id, same weights; its
    evaluation envs come from its env_fns."""
    from lightup.training.trainer import Trainer

    vector = gym.vector.AsyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(4)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP
    )
    try:
        run = Trainer(tiny_config(tmp_path / "async", "CartPole-v1", n_envs=None), env=vector).learn(64)
    finally:
        vector.close()
    base = Trainer(tiny_config(tmp_path / "id", "CartPole-v1")).learn(64)
    assert run.steps == base.steps == 64 and run.last_eval == base.last_eval
    assert _same_weights(run.policy, base.policy)
