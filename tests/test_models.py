"""Every registered architecture: shapes at each supported size, conditional and spectral-norm
variants, gradients reaching every parameter, and clear errors for unsupported shapes."""

from __future__ import annotations

import pytest
import torch

from gantool import registry
from gantool.errors import UsageError
from gantool.models import Discriminator, Generator

# Per architecture: the sample shapes it supports, tiny options that keep tests fast,
# and shapes it must refuse with a UsageError.
CASES = {
    "mlp": {
        "shapes": [(1, 28, 28), (3, 32, 32), (1, 8, 12), (4, 8, 8)],  # 4: RGBA
        "tiny": {"width": 8},
        "refused": [(2,), (2, 8, 8), (5, 8, 8)],
    },
    "gan-mlp": {"shapes": [(1, 28, 28), (3, 8, 8)], "tiny": {},
                "refused": [(2,), (2, 8, 8), (5, 8, 8)]},
    "mlp2d": {"shapes": [(2,), (5,)], "tiny": {"width": 8, "depth": 2}, "refused": [(1, 28, 28)]},
    "dcgan": {
        "shapes": [(1, 28, 28), (3, 28, 28), (1, 32, 32), (3, 32, 32), (3, 64, 64)],
        "tiny": {"width": 4},
        "refused": [(3, 48, 48), (1, 28, 32), (2,)],
    },
    "resnet": {
        "shapes": [(3, 32, 32), (1, 32, 32)],
        "tiny": {"width": 8},
        "refused": [(3, 64, 64), (1, 28, 28), (2,)],
    },
    "r3gan": {
        "shapes": [(3, 16, 16), (1, 32, 32), (3, 64, 64)],
        "tiny": {"width": 8, "min_width": 4, "blocks": 1, "group_size": 4},
        "refused": [(1, 28, 28), (3, 8, 8), (3, 512, 512), (3, 32, 64), (2,)],
    },
}
# Built-ins only: a plugin installed in the environment brings its own tests.
NAMES = [e.name for e in registry.entries("architecture") if e.origin == registry.BUILTIN]
SHAPED = [(name, shape) for name in NAMES for shape in CASES.get(name, {}).get("shapes", [None])]


def build(name, shape, **kwargs):
    assert name in CASES, f"architecture {name!r} is registered but has no test cases"
    options = {**CASES[name]["tiny"], "z_dim": 6, **kwargs}
    return registry.create("architecture", name, sample_shape=shape, **options)


@pytest.mark.parametrize(("name", "shape"), SHAPED)
@pytest.mark.parametrize("num_classes", [0, 3])
@pytest.mark.parametrize("spectral_norm", [False, True])
def test_shapes_and_gradients(name, shape, num_classes, spectral_norm):
    torch.manual_seed(0)
    G, D = build(name, shape, num_classes=num_classes, spectral_norm=spectral_norm)
    assert isinstance(G, Generator) and isinstance(D, Discriminator)
    assert G.z_dim == 6
    y = torch.tensor([0, 2, 1]) if num_classes else None
    x = G(torch.randn(3, 6), y)
    assert x.shape == (3, *shape)
    if len(shape) == 3:  # images live in [-1, 1]
        assert x.abs().max() <= 1
    logits = D(x, y)
    assert logits.shape == (3,)
    (logits.sum()).backward()
    for part, model in (("G", G), ("D", D)):
        for pname, p in model.named_parameters():
            assert p.grad is not None, f"{part}.{pname} got no gradient"
    wrapped = any(hasattr(m, "parametrizations") for m in D.modules())
    assert wrapped == spectral_norm
    assert not any(hasattr(m, "parametrizations") for m in G.modules())


@pytest.mark.parametrize("name", NAMES)
def test_refuses_unsupported_shapes(name):
    for shape in CASES[name]["refused"]:
        with pytest.raises(UsageError, match=name):
            build(name, shape)


@pytest.mark.parametrize("name", NAMES)
def test_labels_are_checked(name):
    shape = CASES[name]["shapes"][0]
    G, D = build(name, shape)
    with pytest.raises(UsageError, match="unconditional"):
        G(torch.randn(2, 6), torch.tensor([0, 1]))
    G, D = build(name, shape, num_classes=4)
    with pytest.raises(UsageError, match="pass labels"):
        G(torch.randn(2, 6))
    with pytest.raises(UsageError, match="pass labels"):
        D(torch.zeros(2, *shape))


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_weights_and_class_changes_output(name):
    shape = CASES[name]["shapes"][0]
    torch.manual_seed(1)
    G1, _ = build(name, shape, num_classes=2)
    torch.manual_seed(1)
    G2, _ = build(name, shape, num_classes=2)
    G1.eval()
    G2.eval()
    z = torch.randn(2, 6)
    same = torch.tensor([0, 0])
    assert torch.equal(G1(z, same), G2(z, same))
    assert not torch.equal(G1(z, same), G1(z, torch.tensor([1, 1])))


@pytest.mark.parametrize("name", NAMES)
def test_sample_shape_may_be_a_list_as_stored_in_checkpoints(name):
    shape = CASES[name]["shapes"][0]
    G, D = build(name, list(shape))
    assert D(G(torch.randn(2, 6))).shape == (2,)
    assert G(torch.randn(2, 6)).shape == (2, *shape)


def test_bad_options():
    with pytest.raises(UsageError, match="z_dim"):
        build("mlp", (1, 28, 28), z_dim=0)
    with pytest.raises(UsageError, match="num_classes"):
        build("mlp", (1, 28, 28), num_classes=-1)
    with pytest.raises(UsageError, match="width"):
        build("dcgan", (1, 28, 28), width=0)
    with pytest.raises(UsageError, match="no option 'no_such_option'; its options are: "):
        registry.create("architecture", "mlp", sample_shape=(1, 28, 28), no_such_option=1)
    G, _ = registry.create("architecture", "mlp", sample_shape=(1, 28, 28), z_dim=None, width=4)
    assert G.z_dim == 100  # None keeps the default


def test_dcgan_discriminator_batch_norm_follows_spectral_norm():
    def has_bn(D):
        return any(isinstance(m, torch.nn.BatchNorm2d) for m in D.modules())

    assert has_bn(build("dcgan", (1, 28, 28))[1])
    assert not has_bn(build("dcgan", (1, 28, 28), spectral_norm=True)[1])
    assert not has_bn(build("dcgan", (1, 28, 28), d_batch_norm=False)[1])


def test_r3gan_builds_at_256_px_and_refuses_bad_options():
    G, D = build("r3gan", (3, 256, 256))
    assert D(G(torch.randn(1, 6))).shape == (1,)
    with pytest.raises(UsageError, match="power of two from 16 to 256"):
        build("r3gan", (3, 48, 48))
    with pytest.raises(UsageError, match="blocks must be a positive integer"):
        build("r3gan", (3, 16, 16), blocks=0)
    with pytest.raises(UsageError, match="does not split into groups of 3"):
        build("r3gan", (3, 16, 16), group_size=3)


def test_r3gan_is_normalisation_free_with_grouped_convolutions():
    from gantool.models.r3gan import ResidualBlock

    G, D = build("r3gan", (3, 32, 32), width=16, group_size=4)
    norms = (torch.nn.BatchNorm2d, torch.nn.GroupNorm, torch.nn.LayerNorm, torch.nn.InstanceNorm2d)
    assert not any(isinstance(m, norms) for m in [*G.modules(), *D.modules()])
    blocks = [m for m in [*G.modules(), *D.modules()] if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 * 4  # one block per stage (4, 8, 16, 32 px) in each network
    # widths 16, 16, 16, 8 (halved above 16 px), expanded x2, in groups of 4 channels
    assert [b.conv2.in_channels for b in blocks[:4]] == [32, 32, 32, 16]
    assert all(b.conv2.groups == b.conv2.in_channels // 4 and b.conv2.kernel_size == (3, 3)
               for b in blocks)


def test_r3gan_residual_branches_start_at_zero():
    """Fix-up: at initialisation every block returns its input unchanged."""
    from gantool.models.r3gan import ResidualBlock

    torch.manual_seed(0)
    G, D = build("r3gan", (3, 32, 32), spectral_norm=True)
    blocks = [m for m in [*G.modules(), *D.modules()] if isinstance(m, ResidualBlock)]
    assert blocks
    for block in blocks:
        x = torch.randn(2, block.conv1.in_channels, 4, 4)
        assert torch.equal(block(x), x)
        branch = block.conv3(torch.nn.functional.leaky_relu(block.conv2(block.conv1(x)), 0.2))
        assert branch.abs().sum() > 0  # the branch itself is live; only its gain is zero


def test_r3gan_conditional_projection_uses_the_label():
    torch.manual_seed(0)
    _, D = build("r3gan", (3, 16, 16), num_classes=4)
    x = torch.randn(2, 3, 16, 16)
    assert not torch.allclose(D(x, torch.tensor([0, 0])), D(x, torch.tensor([3, 3])))
    assert D.embed is not None and D.embed.embedding_dim == D.head.in_features


def test_r3gan_trains_a_few_steps_with_finite_losses():
    torch.manual_seed(0)
    G, D = build("r3gan", (1, 16, 16))
    loss = registry.create("loss", "relativistic")
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.0, 0.99))
    real = torch.rand(8, 1, 16, 16) * 2 - 1
    gains = []
    for _ in range(3):
        fake = G(torch.randn(8, 6))
        loss_d = loss.d_loss(D(real), D(fake.detach()))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = loss.g_loss(D(fake), D(real).detach())
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        assert torch.isfinite(loss_d) and torch.isfinite(loss_g)
        gains.append(float(D.trunk[1].gain.detach()))
    assert gains[-1] != 0.0  # the zero-initialised gains do learn


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("num_classes", [0, 3])
def test_bf16_autocast_forward_and_backward(name, num_classes):
    """`gantool train --amp`'s passes: G and D under bfloat16 autocast, D's loss with an R1
    penalty (double backward), gradients finite for every parameter. CPU autocast runs on any
    CPU (slowly without bf16 instructions), so every op's bf16 kernel is checked here."""
    from gantool.losses import squared_gradient_penalty

    torch.manual_seed(0)
    shape = CASES[name]["shapes"][0]
    G, D = build(name, shape, num_classes=num_classes)
    y = torch.tensor([0, 2, 1, 0]) if num_classes else None
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fake = G(torch.randn(4, 6), y)
        real = torch.randn(4, *shape).requires_grad_(True)
        real_logits, fake_logits = D(real, y).float(), D(fake, y).float()
        loss = registry.create("loss", "non-saturating").d_loss(real_logits, fake_logits)
    loss = loss + squared_gradient_penalty(real_logits, real, 0.05)
    loss.backward()
    assert torch.isfinite(loss)
    for part, model in (("G", G), ("D", D)):
        for pname, p in model.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), f"{part}.{pname}"
