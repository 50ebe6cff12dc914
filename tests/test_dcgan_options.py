"""dcgan's g_width (G's capacity apart from D's), mbstd (ProGAN's minibatch standard
deviation in D) and g_extra / d_extra (3x3 layers for depth), the architecture options the
digits search tries (issue 24)."""

from __future__ import annotations

import pytest
import torch

from gantool.errors import UsageError
from gantool.models.base import MinibatchStd
from gantool.models.dcgan import dcgan
from gantool.train.objective import couples_samples

SHAPE = (1, 28, 28)


def _channels(module, kind):
    return [m.out_channels for m in module.modules() if isinstance(m, kind)]


def test_g_width_widens_g_only():
    G, D = dcgan(sample_shape=SHAPE, width=32, g_width=64)
    assert _channels(G, torch.nn.ConvTranspose2d) == [128, 64, 1]
    assert _channels(D, torch.nn.Conv2d) == [32, 64]
    G32, _ = dcgan(sample_shape=SHAPE, width=32)
    assert _channels(G32, torch.nn.ConvTranspose2d) == [64, 32, 1]


@pytest.mark.parametrize("option", [{"g_width": 0}, {"g_width": 2.5}, {"mbstd": -1},
                                    {"mbstd": True}])
def test_bad_values_are_refused(option):
    with pytest.raises(UsageError, match=next(iter(option))):
        dcgan(sample_shape=SHAPE, **option)


def test_minibatch_std_is_the_std_within_each_group():
    x = torch.randn(8, 3, 2, 2)
    out = MinibatchStd(4)(x)
    assert out.shape == (8, 4, 2, 2)
    torch.testing.assert_close(out[:, :3], x)
    # Groups of 4 take every 2nd sample: {0, 2, 4, 6} and {1, 3, 5, 7}.
    for first in (0, 1):
        group = x[first::2]
        expected = (group.var(0, unbiased=False) + 1e-8).sqrt().mean()
        assert torch.allclose(out[first::2, 3], expected.expand(4, 2, 2))


def test_minibatch_std_ties_a_sample_to_its_group_only():
    torch.manual_seed(0)
    _, D = dcgan(sample_shape=SHAPE, spectral_norm=True, mbstd=4)
    D.eval()  # no power iteration between the two calls
    x = torch.randn(8, *SHAPE)
    changed = x.clone()
    changed[2] += 1.0  # in sample 0's group ({0, 2, 4, 6}), not in sample 1's
    before, after = D(x), D(changed)
    assert not torch.allclose(before[0], after[0])
    assert torch.equal(before[1], after[1])


def test_any_batch_size_works_and_identical_samples_read_zero_spread():
    x = torch.ones(6, 2, 3, 3)  # 6 samples: groups of gcd(4, 6) = 2
    stat = MinibatchStd(4)(x)[:, 2]
    assert torch.allclose(stat, torch.full_like(stat, 1e-4))


def test_the_loop_keeps_real_and_fake_apart_for_a_coupling_d():
    _, plain = dcgan(sample_shape=SHAPE, spectral_norm=True)
    _, with_std = dcgan(sample_shape=SHAPE, spectral_norm=True, mbstd=4)
    assert not couples_samples(plain)
    assert couples_samples(with_std)


def test_conditional_d_with_mbstd_projects_the_extra_channel_too():
    G, D = dcgan(sample_shape=SHAPE, spectral_norm=True, num_classes=10, mbstd=4)
    y = torch.arange(8) % 10
    assert D(G(torch.randn(8, 100), y), y).shape == (8,)


def test_extra_layers_are_3x3_convolutions_at_each_hidden_size():
    G, D = dcgan(sample_shape=SHAPE, width=32, g_width=64, g_extra=1, d_extra=2)
    g_convs = [(m.in_channels, m.out_channels) for m in G.modules() if type(m) is torch.nn.Conv2d]
    assert g_convs == [(128, 128), (64, 64)]  # one at 7x7, one at 14x14
    d_3x3 = [(m.out_channels, m.kernel_size) for m in D.modules()
             if isinstance(m, torch.nn.Conv2d) and m.stride == (1, 1)]
    assert d_3x3 == [(32, (3, 3))] * 2 + [(64, (3, 3))] * 2  # two at 14x14, two at 7x7
    assert G(torch.randn(3, 100)).shape == (3, *SHAPE)
    assert D(torch.randn(3, *SHAPE)).shape == (3,)


def test_no_extra_layers_keep_the_paper_layout_so_old_checkpoints_load():
    G, D = dcgan(sample_shape=SHAPE, spectral_norm=True)
    weights = [k for k in G.state_dict() if "running" not in k and "num_batches" not in k]
    assert weights == ["body.1.weight", "body.2.weight", "body.2.bias", "body.4.weight",
                       "body.5.weight", "body.5.bias", "body.7.weight", "body.7.bias"]
    assert [k for k in D.state_dict() if k.endswith("original")] == [
        "trunk.0.parametrizations.weight.original", "trunk.2.parametrizations.weight.original",
        "head.parametrizations.weight.original"]


@pytest.mark.parametrize("option", [{"g_extra": -1}, {"d_extra": 1.5}, {"d_extra": True}])
def test_bad_extra_layers_are_refused(option):
    with pytest.raises(UsageError, match=next(iter(option))):
        dcgan(sample_shape=SHAPE, **option)
