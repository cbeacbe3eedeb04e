"""`lightup doctor`: the unbroken model passes, every bug in the zoo is flagged by the right check, a user's
model loads by import path, and the alarms read a run's metrics."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
import textwrap
import time

import pytest
import torch
from bug_zoo import FrozenStateEmbedding, NoTimestepEmbedding, bugs, small
from tiny import tiny_config
from user_policies import HEALTHY

from lightup.doctor import alarms
from lightup.doctor.checks import CHECK_NAMES, Limit, Subject, run_static
from lightup.doctor.ladder import climb, run_rung
from lightup.doctor.rungs import RUNGS
from lightup.doctor.subjects import DTFactory, load_factory
from lightup.errors import LightupError
from lightup.models import DecisionTransformer
from lightup.training.loss import action_nll

RUNG = {r.name: r for r in RUNGS}


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


# --- static checks ---


@pytest.mark.parametrize("layout", ["stacked", "interleaved"])
@pytest.mark.parametrize("n_layer", [1, 2])
def test_unbroken_dt_passes_every_static_check_in_seconds(layout, n_layer):
    t0 = time.perf_counter()
    results = run_static(Subject(DTFactory(layout, n_layer=n_layer)))
    assert [r.name for r in results] == list(CHECK_NAMES)
    failed = {r.name: r.detail for r in results if not r.passed}
    assert not failed
    assert time.perf_counter() - t0 < 30


def test_cli_checks_our_dt_also_at_two_layers_without_climbing_twice():
    """A bug between layers (the within-step mask of the cache, say) cannot show in one layer."""
    from lightup.doctor.cli import DoctorConfig, subjects

    found = [(s.name, s.ladder) for s in subjects(DoctorConfig())]
    assert found == [
        ("dt-stacked", True),
        ("dt-stacked-2-layers", False),
        ("dt-interleaved", True),
        ("dt-interleaved-2-layers", False),
    ]


def test_a_built_policy_is_checked_at_its_own_sizes():
    policy = DTFactory("interleaved")(5, 3, True)
    results = run_static(Subject(policy), only=("output_shape", "kv_cache", "start_token_never_sampled"))
    assert [r.passed for r in results] == [True, True, True]
    assert "(4, 4, 3)" in results[0].detail


@pytest.mark.parametrize("name", list(HEALTHY))
def test_healthy_models_pass_every_static_check_at_several_inits(name):
    """No false alarms: our DT in both layouts and without timesteps, the MLP with and without the previous
    action, and a user-style GRU pass every check (the overfitting one at one init: it takes seconds)."""
    for seed in (0, 1, 2):
        only = tuple(n for n in CHECK_NAMES if n != "overfit_batch" or seed == 0)
        results = run_static(Subject(HEALTHY[name], seed=seed), only=only)
        assert {r.name: r.detail for r in results if r.verdict != "pass"} == {}, f"seed {seed}"


def test_zoo_has_at_least_25_bugs_of_distinct_kinds():
    zoo = bugs()
    assert len(zoo) >= 25
    assert len({b.name for b in zoo}) == len(zoo)
    assert len({b.caught_by for b in zoo}) >= 15  # the kinds spread over most of the checks


@pytest.mark.parametrize("bug", bugs(), ids=lambda b: b.name)
def test_bug_zoo_every_bug_is_flagged_by_the_right_check_for_the_named_reason(bug):
    """The named check fails because its measured quantity is past its limit (or, for a check with no
    scalar, with the named finding): not because the model raised."""
    (result,) = run_static(bug.subject, only=(bug.caught_by,))
    assert result.verdict == "fail", f"{bug.name} was not flagged by {bug.caught_by}: {result.detail}"
    assert not result.detail.startswith("raised"), result.detail
    if bug.reason:
        assert bug.reason in result.detail
    else:
        assert result.value is not None and result.limit is not None
        assert result.margin < 1, f"{bug.name}: {result.detail}"
        assert f"limit {'>=' if '>=' in result.detail else '<='} {result.limit:.3g}" in result.detail


class ShortTimestepTable(DecisionTransformer):
    """Healthy for episodes shorter than 100 steps: a timestep table of 100 rows, as the DT paper's code
    sizes one with ``max_ep_len``, declared. Undeclared, its config's 1024 stands and the crash from timestep
    100 on fails (tests/test_doctor_cache_trained.py)."""

    def __init__(self, config, declare: bool = True):
        super().__init__(config)
        self.embed_timestep = torch.nn.Embedding(100, config.n_embd)
        if declare:
            self.max_ep_len = 100


@pytest.mark.parametrize("declare", [True])
def test_a_model_whose_timesteps_end_early_is_checked_where_it_can_play_and_passes(declare):
    def factory(obs_dim, act_dim, discrete):
        return ShortTimestepTable(small(DecisionTransformer)(obs_dim, act_dim, discrete).config, declare)

    names = ("returns_by_position", "states_by_position", "prev_actions_by_position", "timesteps_by_position")
    results = run_static(Subject(factory), only=names)
    assert [r.verdict for r in results] == ["pass"] * 4, [r.detail for r in results]


def test_a_failure_by_position_names_the_input_and_the_position():
    (bug,) = [b for b in bugs() if b.name == "first return-to-go everywhere"]
    (result,) = run_static(bug.subject, only=("returns_by_position",))
    assert not result.passed
    assert "returns_to_go" in result.detail and "position 1 of 4" in result.detail


def test_cli_frozen_flag_declares_frozen_parameters(tmp_path, monkeypatch):
    from lightup.doctor.cli import main

    module = tmp_path / "frozen_model.py"
    module.write_text("from bug_zoo import FrozenStateEmbedding, small\nmake = small(FrozenStateEmbedding)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    args = ["--policy", "frozen_model:make", "--static-only", "--out"]
    assert main([*args, str(tmp_path / "a")]) == 1
    assert main([*args, str(tmp_path / "b"), "--frozen", "embed_state"]) == 0
    sys.modules.pop("frozen_model", None)


def test_frozen_parameters_fail_unless_declared():
    subject = Subject(small(FrozenStateEmbedding))
    (undeclared,) = run_static(subject, only=("gradients",))
    assert not undeclared.passed and "embed_state.weight, embed_state.bias: frozen" in undeclared.detail
    (declared,) = run_static(dataclasses.replace(subject, frozen=("embed_state",)), only=("gradients",))
    assert declared.passed and "2 frozen as declared" in declared.detail
    (moved,) = run_static(dataclasses.replace(subject, frozen=("embed_state",)), only=("overfit_batch",))
    assert moved.passed, moved.detail  # a declared frozen parameter is not asked to move


def test_a_value_between_the_limits_is_inconclusive_with_what_to_run_next():
    limit = Limit("relative change", 1e-3, 1e-2, next_step="run the press-size-4 rung")
    assert [limit.judge(v) for v in (5e-4, 5e-3, 5e-2)] == ["fail", "inconclusive", "pass"]
    assert limit.margin(5e-3) == pytest.approx(5.0)
    lower = Limit("steps", 400, 200, higher_is_healthy=False)
    assert [lower.judge(v) for v in (401, 300, 100)] == ["fail", "inconclusive", "pass"]
    assert lower.margin(100) == pytest.approx(4.0)
    from lightup.doctor.check_base import Finding

    found = Finding.measured(limit, 5e-3, "at position 2", "why", "ok")
    assert found.verdict == "inconclusive" and "run the press-size-4 rung" in found.detail


def test_timestep_check_only_applies_when_the_config_declares_the_embedding():
    def no_embedding(obs_dim, act_dim, discrete):
        model = small(DecisionTransformer)(obs_dim, act_dim, discrete)
        model.config = dataclasses.replace(model.config, timestep_embedding=False)
        model.embed_timestep = None
        return model

    (declared_off,) = run_static(Subject(no_embedding), only=("timesteps_matter",))
    (declared_on,) = run_static(Subject(small(NoTimestepEmbedding)), only=("timesteps_matter",))
    assert declared_off.passed and "no timestep embedding" in declared_off.detail
    assert not declared_on.passed


def test_a_crashing_policy_fails_its_checks_with_the_error_named():
    def broken(obs_dim, act_dim, discrete):
        model = DTFactory()(obs_dim, act_dim, discrete)
        model.forward = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("shape mismatch"))
        return model

    (result,) = run_static(Subject(broken), only=("causal_masking",))
    assert not result.passed and result.detail == "raised RuntimeError: shape mismatch"


# --- the ladder ---


def test_unbroken_dt_climbs_the_cheap_rungs(tmp_path):
    """One seed (the default ladder runs three; see the slow test below)."""
    names = ["overfit-batch", "lookup-table", "probe-action-reward", "command-follow", "press-fixed-light"]
    results = climb(Subject(DTFactory("stacked")), [RUNG[n] for n in names], seeds=1, runs_dir=tmp_path)
    assert [(r.name, r.status, r.seeds_passed) for r in results] == [(n, "pass", 1) for n in names]


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["stacked", "interleaved"])
def test_unbroken_dt_climbs_the_default_ladder(tmp_path, layout):
    """Three seeds per rung, every rung up to RecallButton, and Gamble reported as a known limit."""
    rungs = [r for r in RUNGS if not r.full_only]
    results = climb(Subject(DTFactory(layout)), rungs, seeds=3, runs_dir=tmp_path)
    statuses = {r.name: r.status for r in results}
    assert statuses.pop("gamble") == "limit"
    assert set(statuses.values()) == {"pass"}, statuses


def state_blind(obs_dim, act_dim, discrete):
    """A model bug: the state never reaches the network."""
    model = DTFactory()(obs_dim, act_dim, discrete)
    model.embed_state.register_forward_hook(lambda module, args, out: out * 0)
    return model


def test_failing_rung_blames_the_model_when_the_reference_passes(tmp_path):
    rung = dataclasses.replace(RUNG["lookup-table"], budget=150)
    results = climb(Subject(state_blind), [rung, RUNG["probe-constant"]], seeds=1, runs_dir=tmp_path)
    assert [r.status for r in results] == ["fail", "not run"]
    assert results[0].reference.status == "pass"
    assert results[0].diagnosis.startswith("model at fault")
    assert (
        "healthy models fail it 0.0% of the time by its 1-of-1-seeds rule, at most 9.5% at 95% confidence "
        "(the least healthy model passed 30 of 30 seeds" in results[0].detail
    )


def test_failing_rung_blames_the_training_when_the_reference_fails_too(tmp_path):
    def ascent(params, actions, mask, discrete):  # a sign error in the loss: gradient ascent
        return -action_nll(params, actions, mask, discrete)

    rung = dataclasses.replace(RUNG["lookup-table"], budget=100)
    (result,) = climb(Subject(DTFactory(), loss=ascent), [rung], seeds=1, runs_dir=tmp_path)
    assert result.status == "fail" and result.reference.status == "fail"
    assert result.diagnosis.startswith("training loop, env or hyperparameters")


def test_false_alarm_rate_of_a_rule_follows_the_measured_per_seed_rate():
    from lightup.doctor.calibration import PER_SEED, false_alarm, lower_bound, note

    assert false_alarm(2 / 3, 2, 3) == pytest.approx(7 / 27)  # 1/27 (no pass) + 6/27 (one pass)
    assert false_alarm(2 / 3, 1, 5) == pytest.approx(1 / 243)
    passed, runs = PER_SEED["press-size-4"]
    text = note("press-size-4", 1, 5)
    assert f"{false_alarm(passed / runs, 1, 5):.1%} of the time by its 1-of-5-seeds rule" in text
    assert f"at most {false_alarm(lower_bound(passed, runs), 1, 5):.1%} at 95% confidence" in text
    assert note("no-such-rung", 1, 3) == "its false-alarm rate on healthy models is not measured"
    assert lower_bound(30, 30) == pytest.approx(0.05 ** (1 / 30))  # Clopper-Pearson with every seed passing
    for rung in RUNGS:  # every rule meets the 1% target at the measured rate
        if rung.name in PER_SEED:
            n = rung.seeds or 3
            need = max(1, math.ceil(rung.pass_rate * n - 1e-9))
            assert false_alarm(PER_SEED[rung.name][0] / PER_SEED[rung.name][1], need, n) <= 0.01, rung.name
    uncalibrated = [r.name for r in RUNGS if not (r.full_only or r.known_limit or r.name in PER_SEED)]
    assert not uncalibrated, f"default rungs without a measured per-seed rate (issue 26): {uncalibrated}"


def test_gamble_is_reported_as_a_known_limit_not_a_failure(tmp_path):
    gamble = dataclasses.replace(RUNG["gamble"], budget=256)
    result = run_rung(gamble, Subject(DTFactory()), seeds=3, runs_dir=tmp_path)
    assert result.status == "limit" and result.seeds_run == 1
    assert "known limit" in result.diagnosis


@pytest.mark.slow
def test_learning_rate_100x_too_high_fails_the_ladder(tmp_path):
    """lr 0.1 (the trainer's default is 1e-3): the first rung fails and the diagnosis says why."""
    (bug,) = [b for b in bugs() if b.name.startswith("learning rate")]
    (result,) = climb(bug.subject, [RUNG["overfit-batch"]], seeds=2, runs_dir=tmp_path)
    assert result.status == "fail"
    assert result.diagnosis.startswith("hyperparameters: the learning rate 0.1 is too high")


# --- a user's model by import path, and the CLI ---

USER_MODEL = '''
import torch
from torch import nn
from lightup.models.policy import SequencePolicy


class TinyPolicy(SequencePolicy):
    """A user's model: an MLP over (return-to-go, state), with the default (recompute) rollout interface."""

    def __init__(self, obs_dim, act_dim, discrete):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, 2
        self.body = nn.Sequential(nn.Linear(obs_dim + 1, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, act_dim)
        nn.init.normal_(self.head.weight, std=0.01)

    def forward(self, returns_to_go, states, prev_actions, timesteps, mask):
        return self.head(self.body(torch.cat([returns_to_go.unsqueeze(-1), states], -1)))


def make_policy(obs_dim, act_dim, discrete):
    return TinyPolicy(obs_dim, act_dim, discrete)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    (tmp_path / "my_tiny_model.py").write_text(textwrap.dedent(USER_MODEL))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "my_tiny_model"
    sys.modules.pop("my_tiny_model", None)


def test_user_model_loads_by_import_path_and_passes_the_static_checks(user_module):
    factory = load_factory(f"{user_module}:make_policy")
    results = run_static(Subject(factory, name="user"))
    assert {r.name: r.detail for r in results if not r.passed} == {}


def test_cli_checks_a_user_model_and_writes_json_and_html(user_module, tmp_path, capsys):
    from lightup.doctor.cli import main

    out = tmp_path / "out"
    code = main(["--policy", f"{user_module}:make_policy", "--static-only", "--out", str(out)])
    assert code == 0
    report = json.loads((out / "doctor.json").read_text())
    assert report["passed"] is True
    assert [c["name"] for c in report["subjects"][0]["static"]] == list(CHECK_NAMES)
    by_name = {c["name"]: c for c in report["subjects"][0]["static"]}
    assert by_name["states_by_position"]["verdict"] == "pass" and by_name["states_by_position"]["margin"] > 1
    assert "causal_masking" in (out / "doctor.html").read_text()
    assert "kv_cache" in capsys.readouterr().out


@pytest.mark.parametrize(
    "spec, message",
    [
        ("no_such_module_xyz:make", "cannot import module 'no_such_module_xyz'"),
        ("my_tiny_model", "must look like module:factory"),
        ("my_tiny_model:nope", "has no attribute 'nope'"),
        ("my_tiny_model:TinyPolicy.forward", "raised TypeError"),
    ],
)
def test_bad_policy_paths_are_one_line_errors(user_module, spec, message):
    from lightup.doctor.cli import main

    with pytest.raises(LightupError, match=message) as err:
        main(["--policy", spec, "--static-only"])
    assert "\n" not in str(err.value)


def test_sb3_peer_climbs_the_same_environment_rungs(tmp_path):
    from lightup.doctor.cli import main
    from lightup.doctor.ladder_peers import peer_rungs
    from lightup.doctor.rungs import RUNGS

    names = [r.name for r in peer_rungs(list(RUNGS))]
    assert "command-follow" not in names and "gamble" not in names and "overfit-batch" not in names
    assert "press-size-2" in names and "cartpole" in names
    out = tmp_path / "out"
    rungs = ["--rungs", "press-size-2", "--seeds", "1", "--out", str(out)]
    main(["--layout", "stacked", *rungs, "--agent", "sb3:PPO"])
    peer = json.loads((out / "doctor.json").read_text())["peers"][0]
    assert peer["name"] == "sb3:PPO" and [r["name"] for r in peer["ladder"]] == ["press-size-2"]
    rung = peer["ladder"][0]
    assert rung["seeds_run"] == 1
    assert (rung["status"] == "pass") == ("reached" in rung["detail"])
    assert "sb3:PPO (peer)" in (out / "doctor.html").read_text()
    with pytest.raises(LightupError, match="unknown agent 'sb3:A2C'; choose from: sb3:PPO, sb3:DQN"):
        main(["--agent", "sb3:A2C"])


def test_env_rungs_on_any_gymnasium_id(tmp_path):
    from lightup.doctor.cli import main

    out = tmp_path / "out"
    args = ["--layout", "stacked", "--rungs", "press-size-2", "--seeds", "1", "--out", str(out)]
    main([*args, "--env", "CartPole-v1", "--env-budget", "1024"])
    ladder = json.loads((out / "doctor.json").read_text())["subjects"][0]["ladder"]
    assert [r["name"] for r in ladder] == ["press-size-2", "env:CartPole-v1"]
    cartpole = ladder[1]
    assert cartpole["status"] == "fail" and "after 1024 steps" in cartpole["detail"]  # 1024 steps is too few
    assert cartpole["reference"]["seeds_run"] == 1  # the reference MLP tried it too
    with pytest.raises(LightupError, match="unknown env"):
        main(["--env", "NoSuchEnv-v9"])


def test_cli_prints_one_line_error_on_a_bad_policy():
    proc = subprocess.run(
        [sys.executable, "-m", "lightup.cli", "doctor", "--policy", "nowhere.at_all:factory"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --policy 'nowhere.at_all:factory'")
    assert len(proc.stderr.strip().splitlines()) == 1


# --- alarms ---


def records(n=40, **series):
    """n metrics records; each keyword is a function of the round index."""
    return [
        {"step": 64 * (i + 1), **{k.replace("__", "/"): f(i) for k, f in series.items()}} for i in range(n)
    ]


CTX = alarms.Context(max_entropy=math.log(4), threshold=0.9)


def names(recs, ctx=CTX):
    raised, _ = alarms.check_records(recs, ctx)
    return {a.name for a in raised}


def test_a_healthy_run_raises_no_alarm_and_says_what_it_could_not_check():
    healthy = records(
        rollout__entropy=lambda i: 1.2 - 0.02 * i,
        train__nll=lambda i: 1.3 - 0.02 * i,
        rollout__ep_rew_mean=lambda i: 0.25 + 0.015 * i,
        rollout__commanded_return=lambda i: 0.5 + 0.015 * i,
        train__grad_norm=lambda i: 0.5 + 0.01 * (i % 3),
    )
    raised, skipped = alarms.check_records(healthy, CTX)
    assert raised == []
    assert skipped == ["illegal_action_mass (needs rollout/illegal_mass)"]


def test_the_alarms_a_run_cannot_check_say_why_its_env_is_unknown(tmp_path):
    """An env whose module is not imported unasked, or continuous actions: the reason, not "config.json"."""
    healthy = records(rollout__entropy=lambda i: 1.2 - 0.02 * i, train__nll=lambda i: 1.3 - 0.02 * i)
    reasons = {}
    for env_id in ("no_module_trusted_here:Env-v0", "Pendulum-v1"):
        run = tmp_path / env_id.replace(":", "_")
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"env_id": env_id}))
        _, skipped = alarms.check_records(healthy, alarms.run_context(run))
        reasons[env_id] = [s for s in skipped if s.startswith("entropy_collapse")]
    assert "set LIGHTUP_ENV_MODULES=no_module_trusted_here" in reasons["no_module_trusted_here:Env-v0"][0]
    assert reasons["Pendulum-v1"] == [
        "entropy_collapse (needs the number of actions (none: the actions are continuous))"
    ]


def test_commands_that_keep_their_margin_above_growing_returns_are_not_drift():
    """Early in a healthy CartPole run (10 rounds): the mean return grows 5 a round, the best one 10, and the
    default command is the best plus 20% and 5, so the gap grows from 9 to 72 while staying about half of
    the command. (An absolute-gap rule raised command-drift here, in `make demo`.)"""
    growing = records(
        n=10,
        rollout__ep_rew_mean=lambda i: 20.0 + 5.0 * i,
        rollout__commanded_return=lambda i: 1.2 * (20.0 + 10.0 * i) + 5.0,
    )
    assert "command-drift" not in names(growing)


@pytest.mark.parametrize(
    "series, alarm",
    [
        ({"train__loss": lambda i: "nan" if i == 30 else 1.0}, "non-finite"),
        ({"rollout__entropy": lambda i: max(1.3 - 0.1 * i, 0.01)}, "entropy-collapse"),
        ({"rollout__entropy": lambda i: math.log(4) - 1e-3}, "entropy-stuck-at-max"),
        ({"rollout__illegal_mass": lambda i: 0.1}, "illegal-action-mass"),
        (
            {
                "train__nll": lambda i: max(1.0 - 0.1 * i, 0.01),
                "rollout__ep_rew_mean": lambda i: 0.3 + 0.01 * (i % 2),
            },
            "memorising",
        ),
        (
            {"rollout__commanded_return": lambda i: 1.0 + 0.5 * i, "rollout__ep_rew_mean": lambda i: 1.0},
            "command-drift",
        ),
        ({"train__grad_norm": lambda i: 0.5 if i < 30 else 500.0}, "exploding-gradients"),
    ],
)
def test_each_alarm_fires_on_its_symptom(series, alarm):
    found = names(records(**series))
    assert alarm in found
    raised, _ = alarms.check_records(records(**series), CTX)
    (a,) = [x for x in raised if x.name == alarm]
    assert a.meaning and a.where and a.message


def test_doctor_run_summarises_a_training_run(tmp_path, capsys):
    from lightup.doctor.cli import main
    from lightup.training.trainer import Trainer

    run_dir = tmp_path / "run"
    config = tiny_config(run_dir, eval_episodes=4)
    Trainer(config).learn(256)
    code = main(["--run", str(run_dir)])
    out = capsys.readouterr().out
    assert code in (0, 1)
    assert "alarms of" in out and "illegal_action_mass" in out
    with pytest.raises(LightupError, match="holds no metrics.jsonl"):
        main(["--run", str(tmp_path / "nowhere")])
