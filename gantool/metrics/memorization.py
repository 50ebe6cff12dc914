"""`memorization`: is the generator copying its training data?

For each generated sample j, find its nearest training sample i and the ratio

    rho_j = d(fake_j, real_i) / r_i,   r_i = distance from real_i to ITS nearest other real sample,

the test behind the authenticity score of Alaa et al. (ICML 2022) and the C_T test of Meehan et
al. (AISTATS 2020): a sample that is much closer to a training image than training images are to
each other is a (near-)copy of it. `memorized` is the share of samples with rho < threshold
(default 0.5: half the training set's own nearest-neighbour distance); `authentic` is the share
with rho >= 1 (Alaa et al.'s authenticity); `nn_ratio` is the median rho. A copy of the training
set gives memorized = 1; fresh samples of the same distribution give about 0 (the real side must
be the TRAINING data). The fake side keeps the same seeded random subset as KID and PRDC
(`--max-samples`); the real side keeps every training feature, because a copy of a training
sample outside any subset would have nothing to match and the radii would be measured between
subset rows (too long). Distances come in blocks, so memory stays at the features plus one block.
`--show-nearest FILE.png` writes the closest (fake, real) pairs as a grid.
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError
from gantool.metrics.base import DEFAULT_MAX_SAMPLES, FeatureBank, Metric, Score
from gantool.metrics.options import Option, declare
from gantool.registry import register

_FAKE_BLOCK = 1024
_REAL_BLOCK = 8192  # a distance block is at most 1024 x 8192 float64 (64 MiB)


def _real_blocks(real: torch.Tensor):
    """(start, float64 block) over the real rows, so the whole set is never float64 at once."""
    for start in range(0, len(real), _REAL_BLOCK):
        yield start, real[start : start + _REAL_BLOCK].to(torch.float64)


def _exact_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise ||a_k - b_k||. cdist's matrix-product form leaves a rounding residue (an exact
    copy at about 1e-7 instead of 0), so the chosen pairs are measured again directly."""
    return (a.to(torch.float64) - b.to(torch.float64)).norm(dim=1)


def nearest_rows(queries: torch.Tensor, real: torch.Tensor, exclude: torch.Tensor | None = None):
    """(index of the nearest real row, distance to it) for each query row, searched over every
    real row in blocks; `exclude[k]` is a real index query k may not match (itself), or None."""
    best = torch.full((len(queries),), float("inf"), dtype=torch.float64)
    index = torch.zeros(len(queries), dtype=torch.int64)
    for q in range(0, len(queries), _FAKE_BLOCK):
        block = queries[q : q + _FAKE_BLOCK].to(torch.float64)
        rows = torch.arange(q, q + len(block))
        for start, real_block in _real_blocks(real):
            d = torch.cdist(block, real_block)
            if exclude is not None:
                own = exclude[rows] - start
                inside = (own >= 0) & (own < len(real_block))
                d[inside.nonzero().flatten(), own[inside]] = float("inf")
            values, found = d.min(1)
            better = values < best[rows]
            best[rows] = torch.where(better, values, best[rows])
            index[rows] = torch.where(better, found + start, index[rows])
    return index, _exact_distances(queries, real[index])


def nearest_neighbour_ratios(real: torch.Tensor, fake: torch.Tensor):
    """(rho per fake row, index of its nearest real row); rho as in the module docstring.

    Only the radii of the real rows some fake is nearest to are computed (against every real
    row): at most one per fake, not the whole training set's. A real row with a duplicate has
    r_i = 0: a fake at distance 0 from it gets rho 0, else inf."""
    if len(real) < 2 or len(fake) < 1:
        raise GantoolError(
            f"memorization needs at least 2 real and 1 fake sample, got {len(real)}, {len(fake)}"
        )
    index, distance = nearest_rows(fake, real)
    matched = index.unique()
    _, radius = nearest_rows(real[matched], real, exclude=matched)
    r = torch.zeros(len(real), dtype=torch.float64)
    r[matched] = radius
    r = r[index]
    at_duplicate = torch.where(distance > 0, float("inf"), 0.0).to(torch.float64)
    rho = torch.where(r > 0, distance / r.clamp(min=1e-300), at_duplicate)
    return rho, index


class _AllRows:
    """Every row fed to it, kept as given (uint8 images stay uint8)."""

    def __init__(self) -> None:
        self._chunks: list[torch.Tensor] = []

    def add(self, values: torch.Tensor) -> None:
        self._chunks.append(values.detach().cpu().reshape(len(values), -1))

    def tensor(self) -> torch.Tensor:
        if len(self._chunks) > 1:
            self._chunks = [torch.cat(self._chunks)]
        return self._chunks[0] if self._chunks else torch.empty(0, 0)

    def __len__(self) -> int:
        return sum(len(chunk) for chunk in self._chunks)


class Memorization(Metric):
    name = "memorization"
    keeps_samples = True

    def __init__(
        self, threshold: float = 0.5, max_samples: int = DEFAULT_MAX_SAMPLES, seed: int = 0
    ) -> None:
        self.threshold = threshold
        self.real, self.fake = _AllRows(), FeatureBank(max_samples, seed)
        # The samples behind the kept features, for --show-nearest.
        self.real_samples, self.fake_samples = _AllRows(), FeatureBank(max_samples, seed)
        self.sample_shape: tuple[int, ...] | None = None
        self.result: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        (self.real if real else self.fake).add(values.to(torch.float32) if real else values)

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
        real = self.real_samples.tensor()[index[order]].reshape(len(order), *shape).float()
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
