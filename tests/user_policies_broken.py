"""Policies that break the `SequencePolicy` contract the way a user's first draft does, each in one way:
the trainer refuses them in one line before training (`lightup.models.factory.check_contract`)."""

from __future__ import annotations

from torch import Tensor, nn

from lightup.models.policy import SequencePolicy


class LinearPolicy(SequencePolicy):
    """Logits from a linear map of the state; ``change`` spoils its output or its sizes."""

    def __init__(self, obs_dim: int, act_dim: int, discrete: bool, change: str = "", context_len: int = 4):
        super().__init__()
        self.obs_dim, self.act_dim, self.discrete, self.context_len = obs_dim, act_dim, discrete, context_len
        self.head = nn.Linear(obs_dim, act_dim if discrete else 2 * act_dim)
        self.change = change
        if change == "frozen":
            self.head.requires_grad_(False)

    def forward(
        self, returns_to_go: Tensor, states: Tensor, prev_actions: Tensor, timesteps: Tensor, mask: Tensor
    ) -> Tensor:
        out = self.head(states)
        if self.change == "one output":
            return out[..., :1]
        if self.change == "nan":
            return out * float("nan")
        if self.change == "integers":
            return out.long()
        return out


class PositionalArguments(LinearPolicy):
    """A forward whose arguments have other names than the contract's."""

    def forward(self, rtg, obs, actions, steps, mask):  # type: ignore[override]
        return super().forward(rtg, obs, actions, steps, mask)


def one_output(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return LinearPolicy(obs_dim, act_dim, discrete, "one output")


def nan_output(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return LinearPolicy(obs_dim, act_dim, discrete, "nan")


def integer_output(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return LinearPolicy(obs_dim, act_dim, discrete, "integers")


def nothing_to_train(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return LinearPolicy(obs_dim, act_dim, discrete, "frozen")


def a_billion_steps_of_context(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return LinearPolicy(obs_dim, act_dim, discrete, context_len=10**9)


def other_argument_names(obs_dim: int, act_dim: int, discrete: bool) -> SequencePolicy:
    return PositionalArguments(obs_dim, act_dim, discrete)
