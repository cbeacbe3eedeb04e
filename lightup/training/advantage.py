"""Advantage weighting (AWR, Peng et al. 2019): the value net, its inputs, and the weights exp(A / beta)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def build_value_net(obs_dim: int, n_out: int = 1, hidden: int = 128) -> torch.nn.Module:
    """The values of a state for advantage weighting: an MLP from the observation to ``n_out`` numbers (the
    state's value, then Q(s, a) of each action when the baseline is the policy's)."""
    return torch.nn.Sequential(  # in place: the same values, without a copy of each hidden layer
        torch.nn.Linear(obs_dim, hidden),
        torch.nn.ReLU(inplace=True),
        torch.nn.Linear(hidden, hidden),
        torch.nn.ReLU(inplace=True),
        torch.nn.Linear(hidden, n_out),
    )


BEST_SEED_OFFSET = 0x5EED_BE57  # the best action's value draws its weights from the run's seed plus this


class ValuePair(torch.nn.Module):
    """Two values of the state, fit side by side, and the choice of the one advantages are taken against;
    with ``best``, a third that learns the best action's values.

    ``nets[0]`` reads the value's whole row (the observation, then the steps before it: `history_inputs`)
    and learns TD(lambda) returns; ``nets[1]`` reads the observation alone (the row's first ``obs_dim``
    numbers) and learns one-step TD targets. Neither is right everywhere: a state the observation does not
    tell apart (a count of presses, a cue seen earlier) needs the history, while on a slippery, Markov task
    one-step values of the observation pool every transition seen from a state and the history's values
    chase the luck of single episodes. So the data chooses: before a round's episodes are trained on, each
    value predicts their discounted returns (`score`), and the advantages use the one whose running mean
    squared error is lower (`chosen`; the history's until both are scored). The running mean forgets at
    ``decay`` a round (0.7: a memory of about three rounds, so a choice follows a value that falls behind
    within a few rounds). Its forward gives (..., 2, ``n_out``): the two nets' outputs for the same rows.

    ``best`` (``n_out`` above 1: a state's value, then Q of each action): ``nets[2]`` reads the observation
    too and learns one-step targets bootstrapped from the best action's Q, r + gamma max Q(s', .) (a max
    backup, Q-learning's), and the forward gives (..., 3, ``n_out``). Where the observation's value is
    chosen, the observation is Markov enough for one-step backups, and the advantages take this Q in place
    of ``nets[1]``'s: Q of the policy's own actions cannot tell a better action from the one the policy
    already prefers once its data comes from that policy (on a slippery lake, the luckiest episodes of a
    policy are made of its own actions), while the best action's Q points past it. It is kept apart from
    ``nets[1]`` because the choice scores each value against the returns of the policy's own episodes, which
    the best action's value overestimates by design. Its weights are drawn from a stream of their own, so
    the other two start, and train, as they would without it."""

    def __init__(
        self, n_in: int, obs_dim: int, n_out: int, hidden: int, decay: float = 0.7, best: bool = False
    ):
        super().__init__()
        assert not best or n_out > 1, "the best action's values need Q of each action"
        self.obs_dim, self.decay, self.best = obs_dim, decay, best
        nets = [build_value_net(n_in, n_out, hidden), build_value_net(obs_dim, n_out, hidden)]
        if best:
            with torch.random.fork_rng(devices=[]):  # leaves torch's stream where it was
                torch.manual_seed(torch.initial_seed() + BEST_SEED_OFFSET)
                nets.append(build_value_net(obs_dim, n_out, hidden))
        self.nets = torch.nn.ModuleList(nets)
        # the running mean squared errors of the first two on fresh episodes (NaN: none scored yet); kept in
        # the checkpoint with the weights, so a resumed run chooses as the uninterrupted one
        self.register_buffer("errors", torch.full((2,), float("nan"), dtype=torch.float64))

    def forward(self, rows: Tensor) -> Tensor:
        observations = rows[..., : self.obs_dim]
        outs = [self.nets[0](rows), self.nets[1](observations)]
        if self.best:
            outs.append(self.nets[2](observations))
        return torch.stack(outs, dim=-2)

    @property
    def chosen(self) -> int:
        """The index of the value the advantages use (0 or 1)."""
        errors = self.errors.tolist()
        return 1 if errors[1] < errors[0] else 0  # False while either is NaN

    @property
    def advantage_index(self) -> int:
        """The net whose Q the advantages take: the chosen one, or with ``best`` the best action's Q
        (``nets[2]``) where the observation's value is chosen."""
        chosen = self.chosen
        return 2 if self.best and chosen == 1 else chosen

    def bootstrap(self, out: Tensor) -> Tensor:
        """What each net's targets bootstrap from, from the forward's ``out`` (..., nets, n_out): the state's
        value (..., nets), the best action's Q for ``nets[2]``."""
        values = out[..., 0]
        if self.best:
            values = torch.cat([values[..., :2], out[..., 2, 1:].amax(-1, keepdim=True)], dim=-1)
        return values

    def score(self, errors: Tensor) -> None:
        """Fold the first two values' mean squared errors (2,) on a fresh round into their running means."""
        errors = errors.to(self.errors)
        old = self.errors
        self.errors.copy_(torch.where(old.isnan(), errors, self.decay * old + (1 - self.decay) * errors))


def advantage_weights(advantages: Tensor, mask: Tensor, beta: float, max_weight: float = 20.0) -> Tensor:
    """AWR's weights exp(A / beta) (B, T), with A normalised to mean 0 and std 1 over the real steps and the
    weights capped at ``max_weight`` (Peng et al. 2019 cap at 20); 0 at padded steps."""
    n = mask.sum().clamp(min=1)
    mean = (advantages * mask).sum() / n
    std = (((advantages - mean) ** 2 * mask).sum() / n).sqrt()
    normalised = (advantages - mean) / (std + 1e-8)
    return torch.exp(normalised / beta).clamp(max=max_weight) * mask


def history_inputs(
    observations: np.ndarray,
    actions: np.ndarray,
    t: np.ndarray,
    idx: np.ndarray,
    history: int,
    n_actions: int | None,
) -> np.ndarray:
    """The value net's input (float32 (..., F)) at the steps ``idx`` (any shape) of consecutive episodes:
    the step's observation, then for each of the ``history`` steps before it, that step's observation, its
    action (one-hot of ``n_actions`` for discrete actions, else as taken) and a 1 (all 0 before the
    episode's first step).

    ``observations`` (N, S), ``actions`` (N,) or (N, A) and ``t`` (N,), each step's index within its
    episode, hold the episodes one after another. Only the rows asked for are built: the buffer's steps
    times F can be far larger than a batch. A value of the observation alone (``history`` 0) cannot tell
    apart states that look alike but differ in what came before (a count of presses, a cue seen earlier),
    which the sequence policy can: its advantages would then push every such state toward the same action.
    """
    idx = np.asarray(idx)
    flat = idx.reshape(-1)
    s = observations.shape[-1]
    a = n_actions if n_actions is not None else int(np.prod(actions.shape[1:], dtype=int))
    width = s + history * (s + a + 1)
    # Written in place into one array of zeros (each step back fills only its rows that have that step):
    # the same numbers as stacking the parts, without a temporary per part.
    out = np.zeros((flat.size, width), dtype=np.float32)
    out[:, :s] = observations[flat]
    t_at = t[flat]
    for back in range(1, history + 1):
        rows = np.flatnonzero(t_at >= back)
        before = flat[rows] - back
        at = s + (back - 1) * (s + a + 1)  # this step back's first column
        out[rows, at : at + s] = observations[before]
        if n_actions is not None:
            out[rows, at + s + actions[before]] = 1.0
        else:
            out[rows, at + s : at + s + a] = actions[before].reshape(len(rows), a)
        out[rows, at + s + a] = 1.0
    return out.reshape(*idx.shape, width)
