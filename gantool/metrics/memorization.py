"""`memorization`: is the generator copying its training data?

For each generated sample j, find its nearest training sample i and the ratio

    rho_j = d(fake_j, real_i) / r_i,   r_i = distance from real_i to ITS nearest other real sample,

the test behind the authenticity score of Alaa et al. (ICML 2022) and the C_T test of Meehan et
al. (AISTATS 2020): a sample that is much closer to a training image than training images are to
each other is a (near-)copy of it. `memorized` is the share of samples with rho < threshold
(default 0.5: half the training set's own nearest-neighbour distance); `authentic` is the share
with rho >= 1 (Alaa et al.'s authenticity); `nn_ratio` is the median rho. A copy of the training
set gives memorized = 1; fresh samples of the same distribution give about 0 (the real side must
be the TRAINING data). Both sides keep the same seeded random subset as KID and PRDC
(`--max-samples`). `--show-nearest FILE.png` writes the closest (fake, real) pairs as a grid.
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError
from gantool.metrics.base import DEFAULT_MAX_SAMPLES, FeatureBank, Metric, Score
from gantool.metrics.options import Option, declare
from gantool.metrics.prdc import knn_radii
from gantool.registry import register

_BLOCK = 1024


def nearest_real(real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest real row, distance to it) for each fake row, in row blocks."""
    index = torch.empty(len(fake), dtype=torch.int64)
    distance = torch.empty(len(fake), dtype=torch.float64)
    for start in range(0, len(fake), _BLOCK):
        d = torch.cdist(fake[start : start + _BLOCK], real).min(1)
        index[start : start + len(d.indices)] = d.indices
        distance[start : start + len(d.indices)] = d.values
    return index, distance


def nearest_neighbour_ratios(real: torch.Tensor, fake: torch.Tensor):
    """(rho per fake row, index of its nearest real row); rho as in the module docstring.

    A real row with a duplicate has r_i = 0: a fake at distance 0 from it gets rho 0, else inf."""
    real, fake = real.to(torch.float64), fake.to(torch.float64)
    if len(real) < 2 or len(fake) < 1:
        raise GantoolError(
            f"memorization needs at least 2 real and 1 fake sample, got {len(real)}, {len(fake)}"
        )
    radii = knn_radii(real, 1)
    index, distance = nearest_real(real, fake)
    r = radii[index]
    at_duplicate = torch.where(distance > 0, float("inf"), 0.0).to(torch.float64)
    rho = torch.where(r > 0, distance / r.clamp(min=1e-300), at_duplicate)
    return rho, index


class Memorization(Metric):
    name = "memorization"
    keeps_samples = True

    def __init__(
        self, threshold: float = 0.5, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0
    ) -> None:
        self.threshold = threshold
        self.real, self.fake = FeatureBank(max_samples, seed), FeatureBank(max_samples, seed)
        # The samples, kept in the same subsets, for --show-nearest (uint8 images, small).
        self.real_samples = FeatureBank(max_samples, seed)
        self.fake_samples = FeatureBank(max_samples, seed)
        self.sample_shape: tuple[int, ...] | None = None
        self.result: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        (self.real if real else self.fake).add(values)

    def update_samples(self, samples: torch.Tensor, *, real: bool) -> None:
        self.sample_shape = tuple(samples.shape[1:])
        (self.real_samples if real else self.fake_samples).add(samples)

    def compute(self) -> list[Score]:
        rho, index = nearest_neighbour_ratios(self.real.tensor(), self.fake.tensor())
        self.result = (rho, index)
        n, n_real = len(rho), len(self.real)
        return [
            Score("memorized", float((rho < self.threshold).double().mean()), n=n, n_real=n_real),
            Score("authentic", float((rho >= 1).double().mean()), n=n, n_real=n_real),
            Score("nn_ratio", float(rho.median()), n=n, n_real=n_real),
        ]

    def nearest_pairs(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The `count` (fake, real) sample pairs with the smallest rho, as (K, *shape) tensors."""
        if self.result is None:
            self.compute()
        rho, index = self.result
        order = torch.argsort(rho, stable=True)[:count]
        shape = self.sample_shape or ()
        fake = self.fake_samples.tensor()[order].reshape(len(order), *shape)
        real = self.real_samples.tensor()[index[order]].reshape(len(order), *shape)
        return fake, real


@register(
    "metric",
    "memorization",
    "share of samples closer to a training sample than training samples are to each other",
)
@declare(
    Option(
        "threshold",
        "--memorization-threshold",
        0.5,
        "flag a sample as memorized when its nearest-training distance is below this share of "
        "that training sample's own nearest-neighbour distance",
        minimum=0,
        type=float,
    )
)
def memorization(
    *, threshold: float = 0.5, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0
) -> Metric:
    return Memorization(threshold, max_samples, seed)
