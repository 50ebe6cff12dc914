"""Frechet distance on 2048-d statistics: gantool's symmetric route vs scipy's sqrtm.

Run: python bench/bench_fid.py [--dim 2048] [--repeats 3] [--threads 1]
Prints the median time of each and their ratio, measured in this one run, plus their agreement.
The baseline is pytorch-fid's calculate_frechet_distance: scipy.linalg.sqrtm of sigma1 @ sigma2.
Both run with the same number of BLAS/LAPACK threads (default 1: on a shared machine,
multi-threaded timings mostly measure the other processes).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    return parser.parse_args()


def frechet_sqrtm(mu1, sigma1, mu2, sigma2) -> float:
    """The baseline, as pytorch-fid computes it (without its retry-on-singular branch)."""
    import numpy as np
    from scipy import linalg

    covmean = linalg.sqrtm(sigma1.dot(sigma2)).real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def random_stats(dim: int, n: int, rng):
    """Mean and covariance of n random vectors (like real features: correlated, full rank)."""
    import numpy as np

    mixing = rng.standard_normal((dim, dim)) / np.sqrt(dim)
    x = np.abs(rng.standard_normal((n, dim)) @ mixing)  # non-negative, like post-ReLU pool features
    return x.mean(0), np.cov(x, rowvar=False)


def median_time(fn, repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def main() -> None:
    args = parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy, scipy and torch load their BLAS
    import numpy as np
    import torch

    from gantool.metrics.frechet import frechet_distance

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    mu1, s1 = random_stats(args.dim, args.samples, rng)
    mu2, s2 = random_stats(args.dim, args.samples, rng)
    t_ours, ours = median_time(lambda: frechet_distance(mu1, s1, mu2, s2), args.repeats)
    t_sqrtm, base = median_time(lambda: frechet_sqrtm(mu1, s1, mu2, s2), args.repeats)
    print(f"dim {args.dim}, {args.threads} thread(s), median of {args.repeats}")
    print(f"gantool (cholesky, sygst, eigvalsh): {t_ours:8.3f} s  FID {ours:.6f}")
    print(f"scipy sqrtm (pytorch-fid baseline) : {t_sqrtm:8.3f} s  FID {base:.6f}")
    print(f"relative difference                : {abs(ours - base) / abs(base):.2e}")
    print(f"speed-up                           : {t_sqrtm / t_ours:.1f}x")


if __name__ == "__main__":
    main()
