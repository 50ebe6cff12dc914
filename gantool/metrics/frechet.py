"""Gaussian statistics of features, accumulated in float64, and the Frechet distance between them.

FID = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2)

The eigenvalues of S1 S2 are those of the symmetric positive semi-definite matrix A^T S2 A for any
factor S1 = A A^T, so tr((S1 S2)^1/2) needs no general matrix square root (scipy's `sqrtm`, what
pytorch-fid uses): A is the Cholesky factor of S1 (cheap), and the eigenvalues come from one
symmetric `eigvalsh`. When S1 is singular (fewer samples than dimensions, constant features)
Cholesky fails and A = V diag(sqrt(w)) from `eigh` is used instead, which is exact for any positive
semi-definite S1 and needs no inverse; tiny negative eigenvalues from round-off are clipped to 0.
"""

from __future__ import annotations

import numpy as np
import torch

from gantool.errors import GantoolError


def frechet_distance(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray
) -> float:
    """Frechet (2-Wasserstein) distance squared between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2 = _as_float64(mu1).reshape(-1), _as_float64(mu2).reshape(-1)
    sigma1, sigma2 = _as_float64(sigma1), _as_float64(sigma2)
    d = len(mu1)
    if len(mu2) != d or sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise GantoolError(
            f"statistics do not match: means {tuple(mu1.shape)} and {tuple(mu2.shape)}, "
            f"covariances {tuple(sigma1.shape)} and {tuple(sigma2.shape)}"
        )
    factor = psd_factor(sigma1)
    middle = factor.T @ sigma2 @ factor
    eigenvalues = torch.linalg.eigvalsh((middle + middle.T) / 2)
    trace_sqrt = eigenvalues.clamp(min=0).sqrt().sum()
    diff = mu1 - mu2
    value = diff @ diff + sigma1.trace() + sigma2.trace() - 2 * trace_sqrt
    return max(float(value), 0.0)  # a distance: round-off must not make it negative


def psd_factor(matrix: torch.Tensor) -> torch.Tensor:
    """A with A A^T = matrix, for a symmetric positive semi-definite matrix (singular allowed)."""
    symmetric = (matrix + matrix.T) / 2
    lower, info = torch.linalg.cholesky_ex(symmetric)
    if int(info) == 0:
        return lower
    eigenvalues, vectors = torch.linalg.eigh(symmetric)
    return vectors * eigenvalues.clamp(min=0).sqrt()


def _as_float64(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array, dtype=np.float64))


class GaussianStats:
    """Running mean and covariance of feature vectors in float64; memory independent of N.

    Sums are kept about a shift (the first batch's mean) so that the covariance does not lose
    precision to cancellation when features have a large mean and a small spread.
    """

    def __init__(self) -> None:
        self.n = 0
        self._shift: torch.Tensor | None = None
        self._sum: torch.Tensor | None = None
        self._outer: torch.Tensor | None = None

    def update(self, features: torch.Tensor) -> None:
        x = features.detach().to("cpu", torch.float64).reshape(len(features), -1)
        if len(x) == 0:
            return
        if self._shift is None:
            self._shift = x.mean(0)
            self._sum = torch.zeros_like(self._shift)
            self._outer = torch.zeros(x.shape[1], x.shape[1], dtype=torch.float64)
        if x.shape[1] != len(self._shift):
            raise GantoolError(f"feature size changed from {len(self._shift)} to {x.shape[1]}")
        x = x - self._shift
        self._sum += x.sum(0)
        self._outer += x.T @ x
        self.n += len(x)

    @property
    def dim(self) -> int:
        return 0 if self._shift is None else len(self._shift)

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """The sample mean and the unbiased (n - 1) covariance; needs at least 2 vectors."""
        if self.n < 2:
            raise GantoolError(f"need at least 2 samples for a covariance, got {self.n}")
        centred_mean = self._sum / self.n
        cov = (self._outer - self.n * torch.outer(centred_mean, centred_mean)) / (self.n - 1)
        return (centred_mean + self._shift).numpy(), cov.numpy()
