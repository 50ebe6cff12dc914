"""`prdc`: precision, recall (Kynkaanniemi et al. 2019), density and coverage (Naeem et al. 2020)
from k-nearest-neighbour balls in feature space.

r_i = distance from real feature i to its k-th nearest other real feature (same for fake).
precision = share of fakes inside some real ball; recall = share of reals inside some fake ball;
density = (1 / kM) sum_j #{i : fake j inside real ball i}; coverage = share of real balls holding
at least one fake. "Inside" is a strict <, as in the reference implementation (prdc package).
Keeps up to `max_samples` features per side (default 10,000), the same seeded random subset
as KID; distances come in row blocks, so
memory stays at one block of the distance matrix.
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError, UsageError
from gantool.metrics.base import DEFAULT_MAX_SAMPLES, FeatureBank, Metric, Score
from gantool.metrics.options import Option, declare
from gantool.registry import register

_BLOCK = 1024


def _blocks(x: torch.Tensor, y: torch.Tensor):
    """(start, distances of rows x[start:start+B] to every row of y), float64."""
    for start in range(0, len(x), _BLOCK):
        yield start, torch.cdist(x[start : start + _BLOCK], y)


def knn_radii(x: torch.Tensor, k: int) -> torch.Tensor:
    """Distance from each row to its k-th nearest other row (the row itself is at distance 0)."""
    radii = torch.empty(len(x), dtype=torch.float64)
    for start, d in _blocks(x, x):
        radii[start : start + len(d)] = d.kthvalue(k + 1, dim=1).values
    return radii


def precision_recall_density_coverage(
    real: torch.Tensor, fake: torch.Tensor, k: int = 5
) -> dict[str, float]:
    real, fake = real.to(torch.float64), fake.to(torch.float64)
    if len(real) <= k or len(fake) <= k:
        raise GantoolError(
            f"PRDC with k={k} needs more than {k} real and fake samples, "
            f"got {len(real)} and {len(fake)}"
        )
    real_radii, fake_radii = knn_radii(real, k), knn_radii(fake, k)
    inside_count = torch.zeros(len(fake), dtype=torch.float64)  # real balls holding each fake
    covered = torch.zeros(len(real), dtype=torch.bool)
    for start, d in _blocks(real, fake):  # d: (block of real, all fake)
        inside = d < real_radii[start : start + len(d), None]
        inside_count += inside.sum(0)
        covered[start : start + len(d)] = d.min(1).values < real_radii[start : start + len(d)]
    recalled = torch.zeros(len(real), dtype=torch.bool)
    for start, d in _blocks(real, fake):
        recalled[start : start + len(d)] = (d < fake_radii[None, :]).any(1)
    return {
        "precision": float((inside_count > 0).double().mean()),
        "recall": float(recalled.double().mean()),
        "density": float(inside_count.mean() / k),
        "coverage": float(covered.double().mean()),
    }


class PRDC(Metric):
    name = "prdc"

    def __init__(self, k: int = 5, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0) -> None:
        if k < 1:
            raise UsageError(f"PRDC needs k >= 1, got {k}")
        self.k, self.max_samples = k, max_samples
        self.real, self.fake = FeatureBank(max_samples, seed), FeatureBank(max_samples, seed)

    def check_counts(self, n_fake: int, n_real: int | None) -> None:
        kept = min(n_fake, n_real if n_real is not None else n_fake, self.max_samples)
        if kept <= self.k:
            raise UsageError(
                f"--prdc-k {self.k} needs more than {self.k} real and fake samples, "
                f"got {n_real} real and {n_fake} fake (at most --max-samples {self.max_samples})"
            )

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        (self.real if real else self.fake).add(values)

    def compute(self) -> list[Score]:
        values = precision_recall_density_coverage(self.real.tensor(), self.fake.tensor(), self.k)
        return [
            Score(name, value, n=len(self.fake), n_real=len(self.real))
            for name, value in values.items()
        ]


@register("metric", "prdc", "precision, recall, density, coverage with k-NN balls (k=5)")
@declare(Option("k", "--prdc-k", 5, "nearest neighbours for prdc", minimum=1))
def prdc(*, k: int = 5, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0) -> Metric:
    return PRDC(k, max_samples, seed)
