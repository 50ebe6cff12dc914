"""Gaussian statistics of features, accumulated in float64, and the Frechet distance between them.

FID = ||mu1 - mu2||^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2)

The eigenvalues of S1 S2 are those of the symmetric positive semi-definite matrix A^T S2 A for any
factor S1 = A A^T, so tr((S1 S2)^1/2) needs no general matrix square root (scipy's `sqrtm`, what
pytorch-fid uses). A is the Cholesky factor L of S1; LAPACK's `sygst` forms L^T S2 L exploiting
symmetry (a quarter of the work of two general products), and one symmetric `eigvalsh` gives the
eigenvalues. When S1 is singular (fewer samples than dimensions, constant features), Cholesky
fails or meets a pivot at round-off level, and A = V diag(sqrt(w)) from `eigh` is used instead:
exact for any positive semi-definite S1 (null directions stay exactly null), no inverse needed.
Eigenvalues at round-off level (negative ones included) count as 0.
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
            f"statistics do not match: means {mu1.shape} and {mu2.shape}, "
            f"covariances {sigma1.shape} and {sigma2.shape}"
        )
    eigenvalues = product_eigenvalues(sigma1, sigma2)
    # Eigenvalues at round-off level are zeros (singular covariances); sqrt would magnify them.
    tiny = 100 * d * np.finfo(float).eps * max(float(np.max(eigenvalues, initial=0)), 0)
    trace_sqrt = np.sqrt(np.where(eigenvalues > tiny, eigenvalues, 0)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt
    return max(float(value), 0.0)  # a distance: round-off must not make it negative


def product_eigenvalues(sigma1: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    """Eigenvalues of sigma1 @ sigma2 for symmetric positive semi-definite inputs (all real)."""
    from scipy.linalg import lapack

    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2
    lower, info = lapack.dpotrf(sigma1, lower=1, clean=1)
    if info == 0 and _numerically_singular(np.diagonal(lower) ** 2, sigma1):
        info = -1  # Cholesky "succeeded" on round-off: the eigh route keeps null spaces exact
    if info == 0:
        middle, info = lapack.dsygst(sigma2, lower, itype=2, lower=1)  # L^T S2 L, lower half
    if info == 0:
        # `middle` is Fortran-ordered with its lower half valid: as a C array, the upper half.
        return torch.linalg.eigvalsh(torch.from_numpy(middle.T), UPLO="U").numpy()
    w, v = torch.linalg.eigh(torch.from_numpy(sigma1))
    w[w <= _round_off(sigma1)] = 0  # null directions exactly null: sqrt would amplify noise
    factor = v * w.sqrt()
    middle = factor.T @ torch.from_numpy(sigma2) @ factor
    return torch.linalg.eigvalsh(middle).numpy()


def _round_off(matrix: np.ndarray) -> float:
    """Eigenvalues (and Cholesky pivots) at or below this are round-off, not variance."""
    return 100 * len(matrix) * np.finfo(float).eps * float(np.max(np.diagonal(matrix), initial=0))


def _numerically_singular(pivots: np.ndarray, matrix: np.ndarray) -> bool:
    return float(pivots.min()) <= _round_off(matrix)


def _as_float64(array) -> np.ndarray:
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().numpy()
    return np.ascontiguousarray(array, dtype=np.float64)


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
