"""`kid`: Kernel Inception Distance (Binkowski et al. 2018), the unbiased MMD^2 estimate with the
cubic polynomial kernel k(x, y) = (x.y / d + 1)^3, averaged over random subsets.

Keeps up to `max_samples` features per side (default 10,000): a seeded uniform random subset,
the same one PRDC keeps (see `base.FeatureBank`).
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError, UsageError
from gantool.metrics.options import Option, declare
from gantool.metrics.base import DEFAULT_MAX_SAMPLES, FeatureBank, Metric, Score
from gantool.registry import register


def polynomial_mmd2(x: torch.Tensor, y: torch.Tensor, degree: int = 3) -> float:
    """Unbiased MMD^2 between two equal-size sets of feature rows, polynomial kernel.

    MMD^2 = sum_{i!=j} k(x_i, x_j) / (m(m-1)) + sum_{i!=j} k(y_i, y_j) / (m(m-1))
            - 2 sum_{i,j} k(x_i, y_j) / m^2
    """
    x, y = x.to(torch.float64), y.to(torch.float64)
    m, d = x.shape
    if m < 2 or y.shape != x.shape:
        raise GantoolError(f"MMD needs two sets of the same size >= 2, got {x.shape} and {y.shape}")
    k_xx = (x @ x.T / d + 1) ** degree
    k_yy = (y @ y.T / d + 1) ** degree
    k_xy = (x @ y.T / d + 1) ** degree
    within = (k_xx.sum() - k_xx.diagonal().sum() + k_yy.sum() - k_yy.diagonal().sum()) / (
        m * (m - 1)
    )
    return float(within - 2 * k_xy.sum() / m**2)


def kernel_inception_distance(
    real: torch.Tensor,
    fake: torch.Tensor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean and (population) std of MMD^2 over `subsets` random subsets of `subset_size` rows per
    side, drawn without replacement within a subset; the size shrinks to the smaller set."""
    size = min(subset_size, len(real), len(fake))
    if size < 2:
        raise GantoolError(
            f"KID needs at least 2 real and 2 fake samples, got {len(real)} and {len(fake)}"
        )
    generator = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        pick_real = torch.randperm(len(real), generator=generator)[:size]
        pick_fake = torch.randperm(len(fake), generator=generator)[:size]
        values.append(polynomial_mmd2(real[pick_real], fake[pick_fake]))
    scores = torch.tensor(values, dtype=torch.float64)
    return float(scores.mean()), float(scores.std(unbiased=False))


class KID(Metric):
    name = "kid"

    def __init__(
        self,
        subsets: int = 100,
        subset_size: int = 1000,
        seed: int = 0,
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        if subsets < 1 or subset_size < 2:
            raise UsageError(
                f"KID needs subsets >= 1 and subset_size >= 2, got {subsets}, {subset_size}"
            )
        self.subsets, self.subset_size, self.seed = subsets, subset_size, seed
        self.real, self.fake = FeatureBank(max_samples, seed), FeatureBank(max_samples, seed)

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        (self.real if real else self.fake).add(values)

    def compute(self) -> list[Score]:
        mean, std = kernel_inception_distance(
            self.real.tensor(), self.fake.tensor(), self.subsets, self.subset_size, self.seed
        )
        return [Score("kid", mean, std, n=len(self.fake), n_real=len(self.real))]


@register("metric", "kid", "Kernel Inception Distance: unbiased cubic-kernel MMD^2 over subsets")
@declare(
    Option("subsets", "--kid-subsets", 100, "KID subsets", minimum=1),
    Option(
        "subset_size",
        "--kid-subset-size",
        1000,
        "samples per KID subset (shrinks to the smaller side)",
        minimum=2,
    ),
)
def kid(
    *,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 0,
    max_samples: int = DEFAULT_MAX_SAMPLES,
) -> Metric:
    return KID(subsets, subset_size, seed, max_samples)
