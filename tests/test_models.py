"""The Decision Transformer and the reference MLP against the `SequencePolicy` contract."""

from __future__ import annotations

import itertools

import pytest
import torch

from lightup.models import (
    DecisionTransformer,
    DTConfig,
    MLPConfig,
    ReturnConditionedMLP,
    SequencePolicy,
)
from lightup.training.loss import action_nll

OBS, ACT, K = 3, 4, 5
LAYOUTS = ["stacked", "interleaved"]
CASES = list(itertools.product(LAYOUTS, [True, False]))


def make_dt(layout: str, discrete: bool, **kw) -> DecisionTransformer:
    torch.manual_seed(0)
    model = DecisionTransformer(
        DTConfig(obs_dim=OBS, act_dim=ACT, discrete=discrete, context_len=K, layout=layout, **kw)
    )
    # The default head is tiny (a near-uniform start); a larger one makes differences visible in tests.
    torch.nn.init.normal_(model.head.weight, std=1.0)
    return model.eval()


def random_inputs(b: int, t: int, discrete: bool, seed: int = 1) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    if discrete:
        prev = torch.randint(0, ACT, (b, t), generator=g)
        prev[:, 0] = ACT  # the start token
    else:
        prev = torch.rand(b, t, ACT, generator=g) * 2 - 1
    return {
        "returns_to_go": torch.randn(b, t, generator=g),
        "states": torch.randn(b, t, OBS, generator=g),
        "prev_actions": prev,
        "timesteps": torch.arange(t).repeat(b, 1),
        "mask": torch.ones(b, t, dtype=torch.bool),
    }


def step_inputs(x: dict, i: int) -> tuple:
    return x["returns_to_go"][:, i], x["states"][:, i], x["prev_actions"][:, i], x["timesteps"][:, i]


@pytest.mark.parametrize("time", [True, False])
@pytest.mark.parametrize("layout,discrete", CASES)
def test_kv_cache_matches_full_forward_within_and_past_context(layout, discrete, time):
    model = make_dt(layout, discrete, timestep_embedding=time)
    x = random_inputs(3, 3 * K, discrete)
    with torch.no_grad():
        full = model(**x)
        model.begin(3)
        cached = torch.stack([model.push(*step_inputs(x, i)) for i in range(3 * K)], dim=1)
    assert (full - cached).abs().max() <= 1e-5
    assert full.abs().mean() > 0.1  # the comparison is not between two near-zero tensors


@pytest.mark.parametrize("layout,discrete", CASES)
def test_kv_cache_follows_new_weights_after_begin(layout, discrete):
    """A rollout's cache belongs to the weights of its ``begin``: after a training step changes them in
    place, beginning again gives the new model's outputs (the trainer replays episodes this way)."""
    model = make_dt(layout, discrete)
    x = random_inputs(2, K, discrete)
    with torch.no_grad():
        model.begin(2)
        before = model.push(*step_inputs(x, 0))
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
        full = model(**x)
        model.begin(2)
        cached = torch.stack([model.push(*step_inputs(x, i)) for i in range(K)], dim=1)
    # float32 rounding relative to the outputs' size (they are larger after the perturbation; with 2 torch
    # threads one entry was 1.05e-5 off in absolute terms)
    torch.testing.assert_close(cached, full, rtol=1e-5, atol=1e-5)
    assert (cached[:, 0] - before).abs().max() > 1e-3  # the weights did change the outputs


@pytest.mark.parametrize("time", [True, False])
@pytest.mark.parametrize("layout,discrete", CASES)
def test_kv_cache_with_resets_in_the_middle_of_a_batch(layout, discrete, time):
    """Each sequence plays episodes of its own lengths; every pushed step equals a fresh forward over
    the current episode so far (with and without the timestep embedding)."""
    model = make_dt(layout, discrete, timestep_embedding=time)
    episode_lengths = [[2, 9, 4], [K, K + 3, 7], [13, 2]]  # includes episodes longer than K
    n, steps = 3, 15
    streams = [random_inputs(1, steps, discrete, seed=10 + i) for i in range(n)]
    with torch.no_grad():
        model.begin(n)
        t_in_episode = [0] * n
        remaining = [list(lengths) for lengths in episode_lengths]
        for i in range(steps):
            per_seq = []
            for j in range(n):
                x = streams[j]
                t = t_in_episode[j]
                prev = x["prev_actions"][0, i].clone()
                if t == 0 and discrete:
                    prev = torch.tensor(ACT)
                per_seq.append((x["returns_to_go"][0, i], x["states"][0, i], prev, torch.tensor(t)))
            batch = [torch.stack(parts) for parts in zip(*per_seq, strict=True)]
            out = model.push(*batch)
            for j in range(n):
                t = t_in_episode[j]
                x = streams[j]
                start = i - t
                window = {key: v[:, start : i + 1].clone() for key, v in x.items()}
                window["timesteps"] = torch.arange(t + 1)[None]
                if discrete:
                    window["prev_actions"][0, 0] = ACT
                ref = model(**window)[0, -1]
                assert (out[j] - ref).abs().max() <= 1e-5, (i, j)
            done = torch.zeros(n, dtype=torch.bool)
            for j in range(n):
                t_in_episode[j] += 1
                if remaining[j] and t_in_episode[j] == remaining[j][0]:
                    remaining[j].pop(0)
                    t_in_episode[j] = 0
                    done[j] = True
            model.reset(done)


@pytest.mark.parametrize("layout,discrete", CASES)
def test_default_recompute_interface_matches_forward(layout, discrete):
    """The contract's default incremental interface (used by models without a cache) is exact up to K."""
    model = make_dt(layout, discrete)
    x = random_inputs(2, K, discrete)
    with torch.no_grad():
        full = model(**x)
        SequencePolicy.begin(model, 2)
        inc = torch.stack([SequencePolicy.push(model, *step_inputs(x, i)) for i in range(K)], dim=1)
    assert (full - inc).abs().max() <= 1e-5


@pytest.mark.parametrize("layout,discrete", CASES)
def test_causality_future_steps_do_not_change_the_past(layout, discrete):
    model = make_dt(layout, discrete)
    x = random_inputs(2, K, discrete)
    with torch.no_grad():
        base = model(**x)
        for t in range(K - 1):
            for key in ("returns_to_go", "states", "prev_actions"):
                y = {k: v.clone() for k, v in x.items()}
                if key == "prev_actions" and discrete:
                    y[key][:, t + 1 :] = (y[key][:, t + 1 :] + 1) % ACT
                else:
                    y[key][:, t + 1 :] += 1.0
                out = model(**y)
                assert torch.equal(out[:, : t + 1], base[:, : t + 1]), (t, key)
                assert (out[:, t + 1 :] - base[:, t + 1 :]).abs().max() > 1e-4, (t, key)


@pytest.mark.parametrize("layout,discrete", CASES)
def test_padding_does_not_influence_real_steps(layout, discrete):
    model = make_dt(layout, discrete)
    x = random_inputs(2, K, discrete)
    x["mask"][0, 3:] = False  # right padding
    x["mask"][1, :2] = False  # left padding
    with torch.no_grad():
        base = model(**x)
        y = {k: v.clone() for k, v in x.items()}
        y["returns_to_go"][~x["mask"]] = 123.0
        y["states"][~x["mask"]] = -50.0
        out = model(**y)
    assert torch.isfinite(out).all()
    assert torch.equal(out[x["mask"]], base[x["mask"]])


@pytest.mark.parametrize("layout,discrete", CASES)
def test_every_parameter_gets_a_finite_nonzero_gradient(layout, discrete):
    model = make_dt(layout, discrete).train()
    x = random_inputs(4, K, discrete)
    actions = torch.randint(0, ACT, (4, K)) if discrete else torch.rand(4, K, ACT) * 2 - 1
    action_nll(model(**x), actions, x["mask"], discrete).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_start_token_and_padding_can_never_be_sampled_or_predicted():
    model = make_dt("stacked", True)
    x = random_inputs(64, K, True)
    with torch.no_grad():
        params = model(**x)
    assert params.shape[-1] == ACT  # the head has no output for the start token (index ACT)
    samples = model.distribution(params).sample((50,))
    assert samples.min() >= 0 and samples.max() < ACT
    assert model.start_action == ACT


@pytest.mark.parametrize("layout,discrete", CASES)
def test_returns_to_go_change_the_action_distribution(layout, discrete):
    model = make_dt(layout, discrete)
    x = random_inputs(2, K, discrete)
    with torch.no_grad():
        low = model(**x)
        x["returns_to_go"] = x["returns_to_go"] + 2.0
        high = model(**x)
    assert (low - high).abs().max() > 1e-3


@pytest.mark.parametrize("layout", LAYOUTS)
def test_overfits_one_fixed_batch(layout):
    torch.manual_seed(0)
    model = DecisionTransformer(DTConfig(obs_dim=OBS, act_dim=ACT, context_len=K, layout=layout))
    x = random_inputs(8, K, True)
    x["mask"][0, 3:] = False
    actions = torch.randint(0, ACT, (8, K))
    actions[~x["mask"]] = -100  # garbage in padded targets must not matter
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = action_nll(model(**x), actions, x["mask"], True)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05


def test_initial_policy_is_near_uniform():
    torch.manual_seed(0)
    model = DecisionTransformer(DTConfig(obs_dim=OBS, act_dim=ACT, context_len=K))
    x = random_inputs(8, K, True)
    with torch.no_grad():
        entropy = model.distribution(model(**x)).entropy()
    assert entropy.min() > 0.99 * torch.log(torch.tensor(float(ACT)))


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize("use_prev_action", [True, False])
def test_mlp_reference_follows_the_contract(discrete, use_prev_action):
    torch.manual_seed(0)
    model = ReturnConditionedMLP(
        MLPConfig(obs_dim=OBS, act_dim=ACT, discrete=discrete, use_prev_action=use_prev_action)
    )
    torch.nn.init.normal_(model.head.weight, std=1.0)
    x = random_inputs(3, 6, discrete)
    with torch.no_grad():
        full = model(**x)
        model.begin(3)
        inc = torch.stack([model.push(*step_inputs(x, i)) for i in range(6)], dim=1)
        model.reset(torch.tensor([True, False, True]))
        shifted = model(**{**x, "returns_to_go": x["returns_to_go"] + 1})
    assert full.shape == (3, 6, ACT if discrete else 2 * ACT)
    assert (full - inc).abs().max() <= 1e-5
    assert (shifted - full).abs().max() > 1e-3


def test_config_rejects_out_of_range_values_in_one_line():
    from lightup.errors import LightupError

    for bad in ({"n_head": 3}, {"context_len": 0}, {"dropout": 1.5}, {"layout": "diagonal"}):
        with pytest.raises(LightupError) as err:
            DTConfig(obs_dim=OBS, act_dim=ACT, **bad)
        assert "\n" not in str(err.value)
