"""Mode coverage: samples of the true mixture cover every mode; a collapsed generator covers one."""

from __future__ import annotations

import math

import pytest
import torch

from gantool.data import load_dataset
from gantool.errors import UsageError
from gantool.metrics.features import DigitsExtractor
from gantool.metrics.mode_coverage import ModeCoverage, kl_from_uniform


def scores(metric: ModeCoverage) -> dict:
    return {s.name: s for s in metric.compute()}


@pytest.mark.parametrize(("name", "k"), [("ring8", 8), ("grid25", 25)])
def test_true_mixture_covers_every_mode_with_high_quality(name, k):
    data = load_dataset(name, size=5000, seed=3)
    metric = ModeCoverage(data.modes, data.mode_std)
    for chunk in data.data.split(1000):
        metric.update(chunk, real=False)
    result = scores(metric)
    assert result["modes"].value == k and result["modes"].total == k
    assert result["high_quality"].value > 0.99  # 3 std holds 98.9% of a 2-D Gaussian
    assert result["mode_kl"].value < 0.02


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_collapsed_generator_covers_one_mode(name):
    data = load_dataset(name, size=10, seed=0)
    generator = torch.Generator().manual_seed(0)
    collapsed = data.modes[3] + data.mode_std * torch.randn(2000, 2, generator=generator)
    metric = ModeCoverage(data.modes, data.mode_std)
    metric.update(collapsed, real=False)
    result = scores(metric)
    assert result["modes"].value == 1
    assert result["mode_kl"].value == pytest.approx(math.log(len(data.modes)))


def test_samples_far_from_every_mode_are_not_high_quality():
    data = load_dataset("ring8", size=10)
    metric = ModeCoverage(data.modes, data.mode_std)
    metric.update(torch.zeros(100, 2), real=False)  # the ring's centre
    result = scores(metric)
    assert result["modes"].value == 0 and result["high_quality"].value == 0
    assert result["mode_kl"].value is None


def test_kl_from_uniform():
    assert kl_from_uniform(torch.tensor([5, 5, 5, 5])) == pytest.approx(0)
    assert kl_from_uniform(torch.tensor([10, 0, 0, 0])) == pytest.approx(math.log(4))
    assert kl_from_uniform(torch.tensor([0, 0])) is None


def probabilities(images: torch.Tensor) -> torch.Tensor:
    """What the evaluation feeds mode coverage for images: the digits extractor's classes."""
    return DigitsExtractor()(images).probabilities


def test_digits_cover_ten_classes_and_a_repeated_digit_one():
    digits = load_dataset("mnist-5k")
    metric = ModeCoverage()
    metric.update(probabilities(digits.data[::10]), real=False)  # 500 digits, 50 per class
    result = scores(metric)
    assert result["modes"].value == 10 and result["modes"].total == 10
    assert result["mode_kl"].value < 0.05
    collapsed = ModeCoverage()
    collapsed.update(probabilities(digits.data[:1].repeat(64, 1, 1, 1)), real=False)
    result = scores(collapsed)
    assert result["modes"].value == 1
    assert result["mode_kl"].value == pytest.approx(math.log(10))


def test_stacked_mnist_counts_digit_triples():
    stacked = load_dataset("stacked-mnist", size=1500, seed=1)
    metric = ModeCoverage()
    for chunk in stacked.data.split(500):
        metric.update(probabilities(chunk), real=False)
    result = scores(metric)
    assert result["modes"].total == 1000
    # 1500 uniform draws over 1000 triples hit about 78% of them (1 - e^-1.5).
    assert 700 < result["modes"].value < 850
    collapsed = ModeCoverage()
    collapsed.update(probabilities(stacked.data[:1].repeat(50, 1, 1, 1)), real=False)
    assert scores(collapsed)["modes"].value == 1


def test_points_without_known_modes_are_refused():
    with pytest.raises(UsageError, match="ring8, grid25"):
        ModeCoverage().update(torch.zeros(4, 2), real=False)
