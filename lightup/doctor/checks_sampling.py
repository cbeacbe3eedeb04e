"""The static check of what rollouts draw: the actions ``policy.distribution(params).sample()`` gives follow
the law the loss trains, and continuous ones stay in the action box.

`sampling_matches_loss` compares log-densities only: a distribution whose ``log_prob`` is right but whose
``sample`` is not (an argmax left from debugging, a Gumbel-max trick with the noise's sign flipped, a
tanh-Gaussian that returns the Gaussian draw without its tanh) passes it, and rollouts then explore with
another policy than the one the loss fits. Here the policy's sampler draws many actions from a few fixed
parameter rows, one ``sample()`` call as a rollout makes it (one draw per row of a (n, P) batch), and the
draws are compared with the trainer's law (`lightup.models.policy.action_distribution`): discrete actions
by the total variation distance between their frequencies and the probabilities; continuous actions by
the share of them outside [-1, 1] (exact: none may be) and by the largest distance between their
distribution function and that of draws from the trainer's law, per dimension (a two-sample
Kolmogorov-Smirnov distance). The continuous sampler is the subject's own, or its factory's
continuous-action twin (`checks_continuous.twin`), as the other checks of continuous actions.
"""

from __future__ import annotations

import torch
from torch import Tensor

from lightup.doctor import limits
from lightup.doctor.check_base import (
    Finding,
    Limit,
    Subject,
    all_rngs,
    build,
    check,
    inputs,
    random_batch,
    window,
)
from lightup.doctor.checks_continuous import plays_continuous, twin
from lightup.models.policy import SequencePolicy, action_distribution

ROWS = 8  # parameter rows, each a distribution of its own


def _params(policy: SequencePolicy, seed: int) -> Tensor:
    """(ROWS, P) parameters: logits of a spread a trained policy has (std 1.5), or means of std 1 and
    log-stds in [-1.5, 0.5] (some actions near the box's edges, some near its middle)."""
    g = torch.Generator().manual_seed(seed)
    if policy.discrete:
        return torch.randn(ROWS, policy.act_dim, generator=g) * 1.5
    mean = torch.randn(ROWS, policy.act_dim, generator=g)
    log_std = torch.rand(ROWS, policy.act_dim, generator=g) * 2 - 1.5
    return torch.cat([mean, log_std], dim=-1)


def _draw(policy: SequencePolicy, params: Tensor, draws: int, seed: int) -> Tensor:
    """``draws`` samples of each row, from one ``sample()`` call over the rows repeated (as a rollout calls
    it on a batch of envs): (draws, ROWS) actions, or (draws, ROWS, A)."""
    with torch.no_grad(), all_rngs(seed):
        samples = policy.distribution(params.repeat(draws, 1)).sample()
    return samples.reshape(draws, ROWS, *samples.shape[1:])


def discrete_distance(policy: SequencePolicy) -> float:
    """The largest total variation distance, over the rows, between the frequencies of the sampled actions
    and the trainer's probabilities (a draw outside 0..A-1 counts as mass on no action)."""
    params = _params(policy, seed=40)
    samples = _draw(policy, params, limits.SAMPLE_DRAWS, seed=41).long()
    if samples.shape != (limits.SAMPLE_DRAWS, ROWS):
        raise ValueError(f"sample() gave shape {tuple(samples.shape[1:])} per draw for {ROWS} rows")
    probs = action_distribution(params, True).probs
    real = (samples >= 0) & (samples < policy.act_dim)
    counts = torch.zeros(ROWS, policy.act_dim)
    counts.scatter_add_(1, samples.clamp(0, policy.act_dim - 1).T, real.T.float())
    freq = counts / limits.SAMPLE_DRAWS
    outside = 1.0 - freq.sum(-1)
    return float((0.5 * ((freq - probs).abs().sum(-1) + outside)).max())


GRID = torch.linspace(-1.0, 1.0, 201)
"""Where the distribution functions of continuous draws are compared: steps of 0.01 over the action box."""


def _cdf(x: Tensor) -> Tensor:
    """The empirical distribution function of each column of (n, m) draws at the points of GRID: (m, 201)."""
    bins = torch.bucketize(x.T.contiguous(), GRID)  # the first grid point at or above each draw
    counts = torch.zeros(x.shape[1], len(GRID) + 1).scatter_add_(1, bins, torch.ones_like(x.T))
    return counts.cumsum(-1)[:, :-1] / x.shape[0]


def _ks(x: Tensor, y: Tensor) -> Tensor:
    """Kolmogorov-Smirnov distances between the columns of (n, m) draws x and y, read on GRID: (m,)."""
    return (_cdf(x) - _cdf(y)).abs().amax(-1)


def continuous_distances(policy: SequencePolicy) -> tuple[float, float]:
    """(the share of sampled actions outside [-1, 1] or not finite, the largest Kolmogorov-Smirnov distance
    per row and dimension between the policy's draws and the trainer's law's)."""
    params = _params(policy, seed=42)
    drawn = _draw(policy, params, limits.SAMPLE_DRAWS, seed=43).float()
    if drawn.shape != (limits.SAMPLE_DRAWS, ROWS, policy.act_dim):
        raise ValueError(f"sample() gave shape {tuple(drawn.shape[1:])} per draw for {ROWS} rows")
    outside = float((~torch.isfinite(drawn) | (drawn.abs() > 1.0)).float().mean())
    with torch.no_grad(), all_rngs(44):
        law = action_distribution(params.repeat(limits.SAMPLE_DRAWS, 1), False).sample()
    flat = limits.SAMPLE_DRAWS, ROWS * policy.act_dim
    distance = float(_ks(drawn.nan_to_num().reshape(flat), law.float().reshape(flat)).max())
    return outside, distance


def continuous_policy(subject: Subject) -> SequencePolicy | None:
    """The continuous-action policy whose sampler rollouts use: the subject's own, or its factory's twin
    where the factory builds one that plays, declared so by its config or with a head of 2A outputs (a
    factory that ignores ``discrete``, a discrete-only model, builds none); else None."""
    policy = build(subject)
    if not policy.discrete:
        return policy
    other = twin(subject) if plays_continuous(subject) is None else None
    if other is None or getattr(getattr(other, "config", None), "discrete", None) is False:
        return other
    batch = inputs(random_batch(other, 2, window(other, 2), seed=45))
    with torch.no_grad():
        return other if other.eval()(**batch).shape[-1] == other.n_params else None


@check
def sampling_frequencies(subject: Subject) -> Finding:
    """Actions drawn by ``policy.distribution(params).sample()`` follow the law the loss trains: discrete
    frequencies within a total variation distance of 0.025 of the probabilities (50,000 draws a row:
    sampling noise is ~0.003); continuous draws inside [-1, 1] and within a Kolmogorov-Smirnov distance of
    0.05 of the trainer's tanh-Gaussian, per dimension (noise 0.007 to 0.012). The continuous sampler is the
    subject's own or its factory's continuous-action twin."""
    found: list[tuple[Limit, float, str, str]] = []
    policy = build(subject).eval()
    if policy.discrete:
        why = (
            "sampled actions do not follow the probabilities the loss trains: sample() is not the law of "
            "log_prob (an argmax, a Gumbel-max with the wrong sign, a temperature of its own)"
        )
        found.append((limits.SAMPLE_TV, discrete_distance(policy), "discrete actions", why))
    continuous = continuous_policy(subject)
    if continuous is not None:
        outside, distance = continuous_distances(continuous.eval())
        why = "sampled actions leave the action box: sample() is missing the tanh that log_prob assumes"
        found.append((limits.SAMPLE_OUTSIDE, outside, "continuous actions", why))
        why = (
            "sampled actions do not follow the tanh-Gaussian the loss trains: sample() is not the law of "
            "log_prob (the mean or the std of another law, a greedy draw)"
        )
        found.append((limits.SAMPLE_KS, distance, "continuous actions", why))
    # The first failure, else the measure nearest its limit; the others as extra quantities.
    worst = min(
        range(len(found)),
        key=lambda i: (found[i][0].judge(found[i][1]) != "fail", found[i][0].margin(found[i][1])),
    )
    limit, value, where, why = found[worst]
    finding = Finding.measured(limit, value, where, why, "sampled actions follow the trained law")
    finding.also = {f"{f[2]}: {f[0].quantity}": f[1] for i, f in enumerate(found) if i != worst}
    return finding
