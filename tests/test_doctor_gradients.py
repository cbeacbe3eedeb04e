"""`gradients_are_the_losses`: each trainable tensor's gradient against central finite differences of the
training loss. Broken models here train and change no output (so every other static check passes them):
a custom backward that flips a gradient's sign, one that halves it, a detach on one of two paths to a
tensor. Each fails because its measured relative error is past the limit; healthy models pass far inside
it, in float64 and, for a model that builds float32 tensors of its own, in float32."""

from __future__ import annotations

import pytest
import torch
from test_doctor_new_kinds import assert_fails_past_limit, only, small
from torch import nn

from lightup.doctor import limits
from lightup.doctor.checks import Subject
from lightup.models import DecisionTransformer

pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

CHECK = "gradients_are_the_losses"


def backward_times(factor: float) -> type[torch.autograd.Function]:
    """The identity forward, whose backward hands on the gradient times ``factor``."""

    class Scaled(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.view_as(x)

        @staticmethod
        def backward(ctx, grad):
            return factor * grad

    return Scaled


Reverse, Half = backward_times(-1.0), backward_times(0.5)


class ReversedLinear(nn.Linear):
    def forward(self, x):
        return Reverse.apply(super().forward(x))


class HalfDetachedLinear(nn.Linear):
    """Half of the output through autograd, half detached: the same values, half the gradient."""

    def forward(self, x):
        y = super().forward(x)
        return 0.5 * y + 0.5 * y.detach()


def with_return_embedding(cls: type[nn.Linear]):
    class Model(DecisionTransformer):
        def __init__(self, config):
            super().__init__(config)
            old = self.embed_return
            self.embed_return = cls(old.in_features, old.out_features)
            self.embed_return.load_state_dict(old.state_dict())

    Model.__name__ = f"ReturnEmbedding{cls.__name__}"
    return Model


class ReversedReturnEmbedding(with_return_embedding(ReversedLinear)):
    pass


class HalfDetachedReturnEmbedding(with_return_embedding(HalfDetachedLinear)):
    pass


class HalfGradientOfTheOutput(DecisionTransformer):
    def forward(self, **kw):
        return Half.apply(super().forward(**kw))


class Float32Inputs(DecisionTransformer):
    """Casts its inputs to float32 itself (so it cannot run in float64): healthy."""

    def forward(self, **kw):
        kw["states"], kw["returns_to_go"] = kw["states"].float(), kw["returns_to_go"].float()
        return super().forward(**kw)


class AssertsFloat32(DecisionTransformer):
    """Refuses any input but float32 (an assert of its own): healthy."""

    def forward(self, **kw):
        assert kw["states"].dtype == torch.float32, "float32 states only"
        return super().forward(**kw)


class Float32InputsReversed(ReversedReturnEmbedding):
    def forward(self, **kw):
        kw["states"], kw["returns_to_go"] = kw["states"].float(), kw["returns_to_go"].float()
        return super().forward(**kw)


@pytest.mark.parametrize("discrete", [True, False])
@pytest.mark.parametrize(
    ("cls", "measured"),
    [(ReversedReturnEmbedding, 2.0), (HalfDetachedReturnEmbedding, 0.5), (HalfGradientOfTheOutput, 0.5)],
)
def test_a_gradient_of_the_wrong_sign_or_size_fails_against_finite_differences(cls, measured, discrete):
    subject = Subject(small(cls, 8), discrete=discrete)
    result = only(subject, CHECK)
    assert_fails_past_limit(result, limits.GRADIENT_EXACT)
    assert result.value == pytest.approx(measured, rel=1e-4)
    assert "float64" in result.detail
    assert only(subject, "gradients").verdict == "pass"  # every gradient there, finite and non-zero


@pytest.mark.parametrize("layout", ["stacked", "interleaved"])
@pytest.mark.parametrize("n_layer", [1, 2])
@pytest.mark.parametrize("discrete", [True, False])
def test_healthy_gradients_agree_with_finite_differences_far_inside_the_limit(layout, n_layer, discrete):
    result = only(Subject(small(DecisionTransformer, 8, n_layer, layout), discrete=discrete), CHECK)
    assert result.verdict == "pass", result.detail
    assert result.value < 1e-5  # measured: 9e-8 to 3.2e-7, the limit 1e-3
    assert result.also["tensors_compared"] >= 10


@pytest.mark.parametrize("cls", [Float32Inputs, AssertsFloat32])
def test_a_model_that_cannot_run_in_float64_is_judged_in_float32(cls):
    healthy = only(Subject(small(cls, 8)), CHECK)
    assert healthy.verdict == "pass" and healthy.quantity == limits.GRADIENT_FLOAT32.quantity, healthy.detail
    assert healthy.limit == limits.GRADIENT_FLOAT32.fail_at and "float32" in healthy.detail
    assert healthy.value < limits.GRADIENT_FLOAT32.pass_at
    broken = only(Subject(small(Float32InputsReversed, 8), discrete=False), CHECK)
    assert_fails_past_limit(broken, limits.GRADIENT_FLOAT32)
