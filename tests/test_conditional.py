"""Class-conditional models must use z: a G that draws one image per label passes every shape
test and still fails its users. SNGAN's projection cGAN (Miyato & Koyama 2018) is the design:
labels in every BatchNorm of G, and D's class term on pooled features."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gantool import registry
from gantool.models import base

CONV = {
    "dcgan": ((1, 28, 28), {"width": 4}),
    "resnet": ((3, 32, 32), {"width": 8}),
    "r3gan": ((3, 16, 16), {"width": 8, "min_width": 4, "blocks": 1, "group_size": 4}),
}


def bars(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Three classes of 28 px images that differ within a class only by position: a vertical
    bar, a horizontal bar, a square, each anywhere in the frame."""
    labels = torch.arange(n) % 3
    images = -torch.ones(n, 1, 28, 28)
    corners = torch.randint(0, 16, (n, 2), generator=gen).tolist()
    for image, label, (row, col) in zip(images, labels.tolist(), corners, strict=True):
        height, width = [(12, 3), (3, 12), (6, 6)][label]
        image[0, row:row + height, col:col + width] = 1
    return images, labels


def within_class(x: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean pairwise L2 distance of samples sharing a label, averaged over the labels."""
    values = []
    for c in labels.unique():
        flat = x[labels == c].flatten(1)
        values.append(float(torch.cdist(flat, flat).sum() / (len(flat) * (len(flat) - 1))))
    return sum(values) / len(values)


def test_a_short_conditional_run_keeps_the_diversity_within_a_class():
    """100 steps of the default dcgan (spectral norm) on bars(): the old design (label
    concatenated to z, projection on D's flattened 7x7 map) drew ~one image per class,
    within-class diversity 5-7% of the real data's at seeds 0-2; this design 14-59%."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    G, D = registry.create("architecture", "dcgan", sample_shape=(1, 28, 28), z_dim=16,
                           num_classes=3, spectral_norm=True, width=8)
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    data, labels = bars(3000, gen)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same float sums on every machine count
    try:
        for _ in range(100):
            idx = torch.randint(0, len(data), (32,), generator=gen)
            z, y = torch.randn(32, 16, generator=gen), torch.randint(0, 3, (32,), generator=gen)
            fake = G(z, y)
            d_loss = (F.softplus(-D(data[idx], labels[idx])).mean()
                      + F.softplus(D(fake.detach(), y)).mean())
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            opt_g.zero_grad()
            F.softplus(-D(fake, y)).mean().backward()
            opt_g.step()
        G.eval()
        with torch.no_grad():
            y = torch.arange(96) % 3
            share = within_class(G(torch.randn(96, 16, generator=gen), y), y)
    finally:
        torch.set_num_threads(threads)
    share /= within_class(*bars(96, gen))
    print(f"within-class diversity after 100 steps: {100 * share:.0f}% of the real data's")
    assert share > 0.25


@pytest.mark.parametrize("name", ["dcgan", "resnet"])
def test_batch_norm_generators_take_labels_in_every_block_and_z_alone(name):
    shape, tiny = CONV[name]
    torch.manual_seed(0)
    G, _ = registry.create("architecture", name, sample_shape=shape, z_dim=6, num_classes=3,
                           **tiny)
    norms = [m for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    conditional = [m for m in G.modules() if isinstance(m, base.ClassBatchNorm2d)]
    assert norms and len(conditional) == len(norms)  # each BatchNorm sits in a ClassBatchNorm2d
    assert all(not m.affine for m in norms)  # the per-class gain and shift replace its own
    assert G.embed is None  # z enters alone: nothing is concatenated to it
    x = G(torch.randn(4, 6), torch.tensor([0, 1, 2, 0]))
    x.square().sum().backward()
    for m in conditional:  # every block's per-class scale and shift gets a gradient
        assert m.gain.weight.grad.abs().sum() > 0 and m.shift.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(CONV))
def test_projection_reads_pooled_features_not_a_per_position_map(name):
    """<embed(y), phi(x)> with phi pooled over space: the class term's width is a channel
    count, and it does not change when D's last map is permuted over its positions."""
    shape, tiny = CONV[name]
    torch.manual_seed(0)
    _, D = registry.create("architecture", name, sample_shape=shape, z_dim=6, num_classes=3,
                           spectral_norm=True, **tiny)
    D.eval()  # spectral norm's power iteration would move the weights between the calls
    x = torch.randn(2, *shape)
    h = D.trunk(x)
    phi = h if D.class_features is None else D.class_features(h)
    assert phi.shape[1] == D.embed.embedding_dim <= 32  # channels, not C*H*W (the old dcgan's: 392)
    if name == "dcgan":  # its head keeps the flattened 7x7 map; the class term pools it
        maps = h.reshape(2, D.embed.embedding_dim, -1)
        shuffled = maps[:, :, torch.randperm(maps.shape[2])].reshape(h.shape)
        assert torch.allclose(D.class_features(shuffled), phi)
    y = torch.tensor([0, 2])
    class_term = D(x, y) - D.head(h).squeeze(1)
    assert torch.allclose(class_term, (D.embed(y) * phi).sum(1), atol=1e-5)
    class_term.sum().backward()
    assert D.embed.parametrizations.weight.original.grad.abs().sum() > 0
    # the class term trains the trunk too
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in D.trunk.parameters())


def test_a_conditional_checkpoint_of_the_old_layout_is_refused_saying_why(tmp_path):
    from gantool.models.dcgan import dcgan
    """The old conditional G took z concatenated with a 50-d label embedding (150 inputs)."""
    from gantool.errors import GantoolError
    from gantool.train.checkpoint import load_weights

    G, _ = dcgan(sample_shape=(1, 28, 28), num_classes=10)
    old = {k: v.clone() for k, v in G.state_dict().items()}
    old["body.1.weight"] = torch.zeros(150, *old["body.1.weight"].shape[1:])
    with pytest.raises(GantoolError) as info:
        load_weights(G, old, "dcgan", tmp_path / "step-000002.pt")
    message = str(info.value)
    assert "has shape (150, 64, 7, 7) in the file" in message and "\n" not in message
    assert "retrain a conditional run made before it" in message
    plain, _ = dcgan(sample_shape=(1, 28, 28))
    weights = {k: v.clone() for k, v in plain.state_dict().items()}
    weights["body.1.weight"] = torch.zeros(7, *weights["body.1.weight"].shape[1:])
    with pytest.raises(GantoolError) as info:
        load_weights(plain, weights, "dcgan", tmp_path / "step-000002.pt")
    assert "retrain" not in str(info.value)  # unconditional models never changed
