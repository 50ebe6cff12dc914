"""Every registered loss against values worked out by hand, and the R1 / gradient penalties."""

from __future__ import annotations

import math

import pytest
import torch

from gantool import registry
from gantool.errors import UsageError
from gantool.losses import (
    AdversarialLoss,
    gradient_penalty,
    interpolates,
    squared_gradient_penalty,
)

# Built-ins only: a plugin installed in the environment brings its own tests.
NAMES = [e.name for e in registry.entries("loss") if e.origin == registry.BUILTIN]
REAL = [0.0, 2.0]  # D's logits on two real samples
FAKE = [0.0, -1.0]  # ... and on two fakes


def sig(t: float) -> float:
    return 1 / (1 + math.exp(-t))


def mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


# (d_loss, g_loss) from each paper's formula, written with D = sigmoid(logit) where it applies.
EXPECTED = {
    "minimax": (
        -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE),
        mean(math.log(1 - sig(f)) for f in FAKE),
    ),
    "non-saturating": (
        -mean(math.log(sig(r)) for r in REAL) - mean(math.log(1 - sig(f)) for f in FAKE),
        -mean(math.log(sig(f)) for f in FAKE),
    ),
    "wgan": (mean(FAKE) - mean(REAL), -mean(FAKE)),
    "wgan-gp": (mean(FAKE) - mean(REAL), -mean(FAKE)),
    "hinge": (
        mean(max(0, 1 - r) for r in REAL) + mean(max(0, 1 + f) for f in FAKE),
        -mean(FAKE),
    ),
    "lsgan": (
        0.5 * mean((r - 1) ** 2 for r in REAL) + 0.5 * mean(f**2 for f in FAKE),
        0.5 * mean((f - 1) ** 2 for f in FAKE),
    ),
    "relativistic": (
        -mean(math.log(sig(r - f)) for r, f in zip(REAL, FAKE, strict=True)),
        -mean(math.log(sig(f - r)) for r, f in zip(REAL, FAKE, strict=True)),
    ),
    # R3GAN's RpGAN, written as its paper does: D softplus(-(r - f)), G softplus(-(f - r)).
    "rpgan": (
        mean(math.log1p(math.exp(-(r - f))) for r, f in zip(REAL, FAKE, strict=True)),
        mean(math.log1p(math.exp(-(f - r))) for r, f in zip(REAL, FAKE, strict=True)),
    ),
}


@pytest.mark.parametrize("name", NAMES)
def test_loss_matches_hand_computed_values(name):
    assert name in EXPECTED, f"loss {name!r} is registered but has no hand-computed test values"
    loss = registry.create("loss", name)
    assert isinstance(loss, AdversarialLoss)
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    d_expected, g_expected = EXPECTED[name]
    assert loss.d_loss(real, fake).item() == pytest.approx(d_expected, rel=1e-6)
    assert loss.g_loss(fake, real).item() == pytest.approx(g_expected, rel=1e-6)
    if not loss.g_uses_real:
        assert loss.g_loss(fake, None).item() == pytest.approx(g_expected, rel=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_loss_is_finite_and_differentiable_at_extreme_logits(name):
    loss = registry.create("loss", name)
    real = torch.tensor([-200.0, 0.0, 200.0], requires_grad=True)
    fake = torch.tensor([200.0, 0.0, -200.0], requires_grad=True)
    total = loss.d_loss(real, fake) + loss.g_loss(fake, real)
    total.backward()
    assert torch.isfinite(total)
    assert torch.isfinite(real.grad).all() and torch.isfinite(fake.grad).all()


def test_the_lecture_minimax_loss_saturates_and_non_saturating_does_not():
    """When D rejects fakes confidently (logit -> -inf), minimax's G gradient vanishes."""
    fake = torch.tensor([-10.0], requires_grad=True)
    registry.create("loss", "minimax").g_loss(fake).backward()
    saturating = fake.grad.abs().item()
    fake.grad = None
    registry.create("loss", "non-saturating").g_loss(fake).backward()
    assert saturating < 1e-4
    assert fake.grad.abs().item() > 0.99


def test_wgan_settings():
    assert registry.create("loss", "wgan").weight_clip == 0.01
    assert registry.create("loss", "wgan").default_gp is None
    assert registry.create("loss", "wgan-gp").default_gp == 10.0
    assert registry.create("loss", "wgan-gp").weight_clip is None
    assert registry.create("loss", "relativistic").g_uses_real


def test_relativistic_needs_paired_real_logits():
    loss = registry.create("loss", "relativistic")
    with pytest.raises(UsageError, match="real logits"):
        loss.g_loss(torch.zeros(2), None)
    with pytest.raises(UsageError, match="batch sizes differ"):
        loss.d_loss(torch.zeros(2), torch.zeros(3))


class Linear(torch.nn.Module):
    """D(x) = w . x (+ y-th entry of a table when labelled): its input gradient is exactly w."""

    def __init__(self, w):
        super().__init__()
        self.w = torch.nn.Parameter(torch.tensor(w))
        self.table = torch.nn.Parameter(torch.tensor([5.0, -5.0]))

    def forward(self, x, y=None):
        out = x.flatten(1) @ self.w
        return out if y is None else out + self.table[y]


def r1_penalty(D, real, y=None, *, gamma):
    real = real.detach().requires_grad_(True)
    return squared_gradient_penalty(D(real, y), real, gamma)


def gp(D, real, fake, lam=10.0):
    x_hat = interpolates(real, fake)
    return gradient_penalty(D(x_hat), x_hat, lam)


def test_r1_penalty_is_half_gamma_squared_gradient_norm():
    D = Linear([3.0, 4.0])  # ||w||^2 = 25
    real = torch.randn(5, 2)
    penalty = r1_penalty(D, real, gamma=2.0)
    assert penalty.item() == pytest.approx(25.0)
    assert r1_penalty(D, real, torch.tensor([0, 1, 0, 1, 1]), gamma=0.1).item() == pytest.approx(
        1.25
    )
    penalty.backward()  # the penalty trains D: d/dw of ||w||^2 = 2w
    assert D.w.grad.tolist() == pytest.approx([6.0, 8.0])


def test_gradient_penalty_measures_distance_of_norm_from_one():
    D = Linear([3.0, 4.0])  # ||grad|| = 5 everywhere
    real, fake = torch.randn(4, 2), torch.randn(4, 2)
    penalty = gp(D, real, fake, lam=10.0)
    assert penalty.item() == pytest.approx(10.0 * 16)
    penalty.backward()
    assert D.w.grad.norm().item() > 0
    unit = Linear([0.6, 0.8])
    assert gp(unit, real, fake).item() == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_on_images_and_bad_inputs():
    D = Linear([1.0] * 12)
    real, fake = torch.randn(3, 3, 2, 2), torch.randn(3, 3, 2, 2)
    expected = 10.0 * (math.sqrt(12) - 1) ** 2
    assert gp(D, real, fake).item() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(UsageError, match="shapes"):
        gp(D, real, fake[:2])
    with pytest.raises(UsageError, match=">= 0"):
        r1_penalty(D, real, gamma=-1.0)
