"""`fid`: Frechet distance between Gaussians fitted to real and fake features (Heusel et al. 2017).

Memory is independent of the number of samples: each side keeps float64 running sums only.
The real side can instead come from precomputed statistics (`set_real_stats`).
"""

from __future__ import annotations

import numpy as np
import torch

from gantool.errors import GantoolError
from gantool.metrics.base import Metric, Score
from gantool.metrics.frechet import GaussianStats, frechet_distance
from gantool.metrics.options import Option, declare
from gantool.registry import register


class FID(Metric):
    """FID in the evaluation's features (`extractor` None: whichever --feature-extractor picks)."""

    name = "fid"
    frechet = True  # served by --real-stats of the same extractor
    extractor: str | None = None

    def __init__(self) -> None:
        self.real = GaussianStats()
        self.fake = GaussianStats()
        self._real_stats: tuple[np.ndarray, np.ndarray] | None = None
        self._real_n: int | None = None

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        (self.real if real else self.fake).update(values)

    def set_real_stats(self, mu: np.ndarray, sigma: np.ndarray, n: int | None = None) -> None:
        """Use precomputed real statistics (pytorch-fid's mu / sigma) instead of real features."""
        self._real_stats = (np.asarray(mu, np.float64), np.asarray(sigma, np.float64))
        self._real_n = n

    def real_stats(self) -> tuple[np.ndarray, np.ndarray]:
        return self._real_stats if self._real_stats is not None else self.real.mean_cov()

    def compute(self) -> list[Score]:
        for side, stats in (("real", self.real), ("fake", self.fake)):
            if side == "real" and self._real_stats is not None:
                continue
            if stats.n < 2:
                raise GantoolError(f"FID needs at least 2 {side} samples, got {stats.n}")
        mu_r, sigma_r = self.real_stats()
        mu_f, sigma_f = self.fake.mean_cov()
        value = frechet_distance(mu_f, sigma_f, mu_r, sigma_r)
        n_real = self._real_n if self._real_stats is not None else self.real.n
        return [Score(self.name, value, n=self.fake.n, n_real=n_real)]


class FDDINOv2(FID):
    """FD_DINOv2 (Stein et al. 2023, EDM2): the same Frechet distance in DINOv2 ViT features,
    whatever --feature-extractor the other metrics use."""

    name = "fd-dinov2"

    def __init__(self, arch: str = "vitl14") -> None:
        super().__init__()
        self.extractor = f"dinov2-{arch}"


@register("metric", "fid", "Frechet distance of feature Gaussians (FID); lower is better")
def fid() -> Metric:
    return FID()


@register("metric", "fd-dinov2", "Frechet distance in DINOv2 ViT features (FD_DINOv2, Stein 2023)")
@declare(
    Option(
        "arch",
        "--dinov2-arch",
        "vitl14",
        "DINOv2 ViT for fd-dinov2",
        type=str,
        choices=("vits14", "vitb14", "vitl14"),
    )
)
def fd_dinov2(*, arch: str = "vitl14") -> Metric:
    return FDDINOv2(arch)
