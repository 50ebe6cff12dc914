"""Reference (real-side) feature statistics: pytorch-fid's mu / sigma files, gantool's own, and
the ones shipped for the bundled data, so scoring a run against them needs no real-side pass.

Shipped (in gantool/weights/): every image of the set through the shipped `digits` extractor,
written by `save_stats` (tests/test_evaluate_reference.py recomputes them and checks equality):
- `mnist-5k`: the 5,000 bundled digits (the default training set);
- `mnist-test`: the 10,000 real MNIST test digits.
A file gantool writes also records its extractor, count, reference name and the SHA-256 of the
weights that made it, so statistics from other weights are refused instead of silently used.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gantool.errors import UsageError
from gantool.metrics.frechet import GaussianStats

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
SHIPPED = {"mnist-5k": "stats-mnist-5k-digits.npz", "mnist-test": "stats-mnist-test-digits.npz"}


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class RealStats:
    """Precomputed real feature statistics (pytorch-fid's mu / sigma, plus what gantool adds)."""

    path: str
    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    feature_extractor: str | None = None
    reference: str | None = None
    weights_sha256: str | None = None

    def check_weights(self, name: str, extractor) -> None:
        """Refuse statistics made with other weights than the extractor's (when recorded)."""
        if self.weights_sha256 is None:
            return
        own = getattr(extractor, "sha256", None)  # a classifier file (metrics/folder_classifier)
        if own is not None and own != self.weights_sha256:
            raise UsageError(
                f"{self.path} was made with another classifier file than {extractor.path}; "
                "recompute it with --save-stats"
            )
        weights = getattr(extractor, "weights", None)
        if name != "digits":
            return
        from gantool.metrics.digits import WEIGHTS_PATH

        path = weights if weights is not None else WEIGHTS_PATH
        if Path(path).is_file() and sha256(path) != self.weights_sha256:
            raise UsageError(
                f"{self.path} was made with other digit classifier weights than {path}; "
                "recompute it with --save-stats"
            )


def stats_path(spec: str | Path) -> Path:
    """A file path, or the shipped statistics of a bundled reference name."""
    path = Path(spec)
    if not path.exists() and str(spec) in SHIPPED:
        return WEIGHTS_DIR / SHIPPED[str(spec)]
    return path


def load_stats(spec: str | Path) -> RealStats:
    """mu, sigma (pytorch-fid's keys), and what gantool records when it wrote them."""
    from gantool.io import read_arrays

    path = stats_path(spec)
    arrays = read_arrays(path)
    if "mu" not in arrays or "sigma" not in arrays:
        raise UsageError(
            f"{path} must hold arrays 'mu' and 'sigma' (pytorch-fid's layout), "
            f"has: {', '.join(arrays) or 'nothing'}"
        )
    mu, sigma = arrays["mu"].astype(np.float64).reshape(-1), arrays["sigma"].astype(np.float64)
    if sigma.shape != (len(mu), len(mu)) or not (
        np.isfinite(mu).all() and np.isfinite(sigma).all()
    ):
        raise UsageError(f"{path}: sigma must be a finite {len(mu)}x{len(mu)} matrix matching mu")

    def text(key: str) -> str | None:
        return str(arrays[key]) if key in arrays else None

    n = int(arrays["n"]) if "n" in arrays else None
    return RealStats(
        str(spec),
        mu,
        sigma,
        n,
        text("feature_extractor"),
        text("reference"),
        text("weights_sha256"),
    )


def save_stats(
    path: str | Path,
    stats: GaussianStats,
    extractor: str,
    reference: str | None = None,
    weights: str | None = None,
) -> None:
    """Write mu, sigma (pytorch-fid's layout) with the count, extractor, reference and, for the
    digits extractor or a classifier file (`weights`), the SHA-256 of its weights."""
    from gantool.io import write_arrays

    mu, sigma = stats.mean_cov()
    extra = {}
    if reference is not None:
        extra["reference"] = np.str_(reference)
    if extractor == "digits":
        from gantool.metrics.digits import WEIGHTS_PATH

        extra["weights_sha256"] = np.str_(sha256(weights or WEIGHTS_PATH))
    elif weights is not None:  # a classifier file
        extra["weights_sha256"] = np.str_(sha256(weights))
    write_arrays(
        path, mu=mu, sigma=sigma, n=np.int64(stats.n), feature_extractor=extractor, **extra
    )
