"""The Frechet distance: closed forms, pytorch-fid agreement, singular covariances, streaming."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gantool.errors import GantoolError
from gantool.metrics.frechet import GaussianStats, frechet_distance


def random_spd(rng: np.random.Generator, d: int, n: int | None = None) -> np.ndarray:
    x = rng.standard_normal((n or 3 * d, d)) @ rng.standard_normal((d, d))
    return np.cov(x, rowvar=False)


def test_identical_statistics_give_zero():
    rng = np.random.default_rng(0)
    mu, sigma = rng.standard_normal(32), random_spd(rng, 32)
    assert frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0, abs=1e-9)


def test_closed_form_for_commuting_gaussians():
    # Diagonal covariances: W2^2 = |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
    rng = np.random.default_rng(1)
    a, b = rng.uniform(0.1, 4, 16), rng.uniform(0.1, 4, 16)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(expected, rel=1e-12)


def test_closed_form_in_one_dimension_and_scaled_covariance():
    assert frechet_distance([0.0], [[4.0]], [3.0], [[1.0]]) == pytest.approx(9 + (2 - 1) ** 2)
    rng = np.random.default_rng(2)
    sigma = random_spd(rng, 20)
    # S2 = c^2 S1 -> tr(S1) + c^2 tr(S1) - 2c tr(S1) = (1 - c)^2 tr(S1)
    got = frechet_distance(np.zeros(20), sigma, np.zeros(20), 9 * sigma)
    assert got == pytest.approx(4 * np.trace(sigma), rel=1e-10)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_matches_pytorch_fid_on_well_conditioned_statistics():
    fid_score = pytest.importorskip("pytorch_fid.fid_score")
    rng = np.random.default_rng(3)
    for d in (8, 64, 256):
        mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
        s1, s2 = random_spd(rng, d), random_spd(rng, d)
        reference = fid_score.calculate_frechet_distance(mu1, s1, mu2, s2)
        assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(reference, rel=1e-6)


def test_singular_covariances_are_exact():
    # Rank-deficient S1 = B B^T (fewer samples than dimensions): the eigenvalues of S1 S2 are those
    # of the small matrix B^T S2 B plus exact zeros, which gives an exact reference.
    rng = np.random.default_rng(4)
    d = 30
    basis = rng.standard_normal((d, 5))
    s1 = basis @ basis.T  # rank 5
    s2 = random_spd(rng, d)
    small = np.linalg.eigvalsh(basis.T @ s2 @ basis)
    expected = np.trace(s1) + np.trace(s2) - 2 * np.sqrt(small).sum()
    assert frechet_distance(np.zeros(d), s1, np.zeros(d), s2) == pytest.approx(expected, rel=1e-12)
    # Both singular, and the order of the arguments does not matter.
    other = rng.standard_normal((d, 3))
    s3 = other @ other.T
    small = np.linalg.svd(basis.T @ other, compute_uv=False)  # sqrt of eig(B^T S3 B)
    expected = np.trace(s1) + np.trace(s3) - 2 * small.sum()
    assert frechet_distance(np.zeros(d), s1, np.zeros(d), s3) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(np.zeros(d), s3, np.zeros(d), s1) == pytest.approx(expected, rel=1e-12)
    # A point mass against a Gaussian: W2^2 = tr(S2).
    zero = np.zeros((d, d))
    assert frechet_distance(np.zeros(d), zero, np.zeros(d), s2) == pytest.approx(np.trace(s2))
    assert frechet_distance(np.ones(d), s1, np.ones(d), s1) == pytest.approx(0, abs=1e-9)


def test_mismatched_shapes_fail_clearly():
    with pytest.raises(GantoolError, match="do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_streaming_stats_equal_numpy_and_do_not_depend_on_batching():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1000, 12)) * 0.01 + 1e4  # large mean, small spread
    stats = GaussianStats()
    for chunk in np.array_split(x, 7):
        stats.update(torch.from_numpy(chunk))
    mu, cov = stats.mean_cov()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-7, atol=1e-12)
    assert stats.n == 1000


def test_streaming_stats_need_two_samples():
    stats = GaussianStats()
    stats.update(torch.zeros(1, 3))
    with pytest.raises(GantoolError, match="at least 2"):
        stats.mean_cov()


def test_fid_state_does_not_grow_with_the_number_of_samples():
    from gantool.metrics.fid import FID

    def state_numbers(metric: FID) -> int:
        tensors = [t for s in (metric.real, metric.fake) for t in vars(s).values()
                   if isinstance(t, torch.Tensor)]
        return sum(t.numel() for t in tensors)

    metric = FID()
    batch = torch.randn(50, 16)
    metric.update(batch, real=True)
    metric.update(batch, real=False)
    after_one = state_numbers(metric)
    for _ in range(40):  # 2,000 more samples per side
        metric.update(torch.randn(50, 16), real=True)
        metric.update(torch.randn(50, 16), real=False)
    assert state_numbers(metric) == after_one == 2 * (16 + 16 + 16 * 16)
    assert metric.compute()[0].n == 2050
