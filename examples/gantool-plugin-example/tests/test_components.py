"""The plugin's own tests: run `python -m pytest` in this folder after `pip install -e .`."""

from __future__ import annotations

from importlib import metadata

import pytest
import torch

from gantool import registry
from gantool.errors import UsageError

try:  # the entry point only exists once the package is installed
    metadata.distribution("gantool-plugin-example")
except metadata.PackageNotFoundError:
    pytest.fail("gantool-plugin-example is not installed: pip install -e "
                "'examples/gantool-plugin-example[test]' first", pytrace=False)


def test_registered_through_the_entry_point():
    arch = registry.get("architecture", "maxout-mlp")
    loss = registry.get("loss", "ra-hinge")
    assert arch.origin == loss.origin == "gantool-plugin-example"


@pytest.mark.parametrize("shape", [(2,), (1, 28, 28), (3, 32, 32)])
@pytest.mark.parametrize("num_classes", [0, 10])
def test_architecture_contract(shape, num_classes):
    torch.manual_seed(0)
    G, D = registry.create("architecture", "maxout-mlp", sample_shape=shape, z_dim=16,
                           num_classes=num_classes, hidden=32, pieces=3)
    assert G.z_dim == 16
    z = torch.randn(5, 16)
    y = torch.arange(5) % 10 if num_classes else None
    x = G(z, y)
    assert x.shape == (5, *shape)
    if len(shape) == 3:  # images live in [-1, 1]
        assert x.abs().max() <= 1
    logits = D(x, y)
    assert logits.shape == (5,)
    assert torch.isfinite(logits).all()


def test_conditional_without_labels_is_a_clear_error():
    G, _ = registry.create("architecture", "maxout-mlp", sample_shape=(2,), num_classes=3)
    with pytest.raises(UsageError, match="needs class labels"):
        G(torch.randn(2, G.z_dim))


def test_bad_option_is_a_clear_error():
    with pytest.raises(UsageError, match="pieces must be a positive integer"):
        registry.create("architecture", "maxout-mlp", sample_shape=(2,), pieces=0)


def test_ra_hinge_by_hand():
    loss = registry.create("loss", "ra-hinge")
    real = torch.tensor([2.0, 0.0])  # mean 1
    fake = torch.tensor([-1.0, 1.0])  # mean 0
    # D_real = real - 0 = [2, 0]; D_fake = fake - 1 = [-2, 0]
    # d: mean relu(1 - [2, 0]) + mean relu(1 + [-2, 0]) = 0.5 + 0.5
    assert loss.d_loss(real, fake).item() == pytest.approx(1.0)
    # g: mean relu(1 - [-2, 0]) + mean relu(1 + [2, 0]) = 2.0 + 2.0
    assert loss.g_loss(fake, real).item() == pytest.approx(4.0)
    assert loss.weight_clip is None and loss.default_gp is None and loss.g_uses_real


def test_ra_hinge_gives_the_generator_a_gradient_when_d_is_confident():
    loss = registry.create("loss", "ra-hinge")
    fake = torch.full((4,), -10.0, requires_grad=True)  # D is sure these are fake
    loss.g_loss(fake, torch.full((4,), 10.0)).backward()
    assert fake.grad.abs().sum() > 0
