"""The failure-mode monitor on constructed inputs, DiffAugment, and the rank/batch slicing."""

from __future__ import annotations

import math

import torch

from gantool.train.augment import diff_augment
from gantool.train.diagnostics import WINDOW, FailureMonitor, mode_coverage, pairwise_diversity
from gantool.train.distributed import World


def record(step, loss_g=1.0, loss_d=1.0, d_fake=0.4, grad_g=1.0):
    return {"step": step, "loss_g": loss_g, "loss_d": loss_d, "d_real": 0.6, "d_fake": d_fake,
            "grad_g": grad_g, "grad_d": 1.0}


def test_diminished_gradient_needs_both_a_confident_d_and_a_collapsed_gradient():
    monitor = FailureMonitor(loss="hinge")
    assert monitor.observe(record(1, grad_g=5.0)) == []
    assert monitor.observe(record(2, d_fake=0.01, grad_g=2.0)) == []  # D wins, G still learns
    raised = monitor.observe(record(3, d_fake=0.01, grad_g=0.1))
    assert len(raised) == 1 and raised[0].startswith("diminished gradient at step 3")
    assert "--loss non-saturating" in raised[0]
    assert monitor.observe(record(4, d_fake=0.01, grad_g=0.1)) == []  # shown once, not again
    assert monitor.counts["diminished_gradient"] == 2


def test_minimax_saturates_when_d_wins_whatever_the_gradient_norm():
    monitor = FailureMonitor(loss="minimax")
    assert monitor.observe(record(1, d_fake=0.3, grad_g=5.0)) == []
    r = {**record(2, d_fake=0.02, grad_g=6.0), "d_real": 0.97}
    raised = monitor.observe(r)
    assert len(raised) == 1 and "scales G's gradient down to 2.0%" in raised[0]
    assert "--loss non-saturating" in raised[0]


def test_non_convergence_is_oscillation_without_trend():
    oscillating = FailureMonitor()
    flags = [oscillating.observe(record(i, loss_g=1.0 + (0.8 if i % 2 else -0.8)))
             for i in range(WINDOW)]
    assert any("non-convergence" in w for w in flags[-1])
    trending = FailureMonitor()
    for i in range(WINDOW):  # a steady fall with small noise is progress, not oscillation
        result = trending.observe(record(i, loss_g=3.0 - 0.1 * i + 0.05 * (-1) ** i))
        assert not any("non-convergence" in w for w in result)
    calm = FailureMonitor()
    for i in range(WINDOW):
        calm.observe(record(i, loss_g=0.69 + 0.01 * (-1) ** i))
    assert not calm.active["non_convergence"]


def test_mode_collapse_on_points_counts_the_modes():
    modes = torch.tensor([[math.cos(a), math.sin(a)] for a in
                          torch.arange(8) * 2 * math.pi / 8]) * 2
    gen = torch.Generator().manual_seed(0)
    spread = modes[torch.arange(1000) % 8] + 0.02 * torch.randn(1000, 2, generator=gen)
    one_mode = modes[:1] + 0.02 * torch.randn(1000, 2, generator=gen)
    blob = torch.randn(1000, 2, generator=gen) * 0.3  # not near any mode yet: immature, not
    full = mode_coverage(spread, modes, 0.02)
    assert (full["modes_hit"], full["modes_near"]) == (8, 8) and full["high_quality"] > 0.95
    monitor = FailureMonitor(modes=modes, mode_std=0.02)
    for step, points, collapsed in ((1, blob, False), (2, spread, False), (3, one_mode, True)):
        r = record(step)
        monitor.measure_samples(points, r)
        monitor.observe(r)
        assert r["diag"]["mode_collapse"] is collapsed, step
    assert r["modes_hit"] == 1


def test_mode_collapse_on_images_is_a_fall_in_diversity():
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 8, 8, generator=gen) * 2 - 1
    monitor = FailureMonitor(real_diversity=pairwise_diversity(real))
    untrained = 0.01 * torch.randn(64, 1, 8, 8, generator=gen)  # alike, but never diverse
    varied = torch.rand(64, 1, 8, 8, generator=gen) * 2 - 1
    collapsed = varied[:1].repeat(64, 1, 1, 1) + 0.01 * torch.randn(64, 1, 8, 8, generator=gen)
    for step, fake, expected in ((1, untrained, False), (2, varied, False), (3, collapsed, True)):
        r = record(step)
        monitor.measure_samples(fake, r)
        monitor.observe(r)
        assert r["diag"]["mode_collapse"] is expected, (step, r["diversity"])
    summary = monitor.summary(r)
    assert summary[2].startswith("mode collapse: flagged in 1 of 3 checks, first at step 3")


def test_monitor_state_round_trips():
    a = FailureMonitor()
    for i in range(5):
        a.observe(record(i, loss_g=float(i)))
    b = FailureMonitor()
    b.load_state_dict(a.state_dict())
    assert b.state_dict() == a.state_dict()


def test_diff_augment_is_seeded_differentiable_and_keeps_shape():
    x = torch.rand(6, 3, 16, 16, requires_grad=True)
    a = diff_augment(x, torch.Generator().manual_seed(1))
    b = diff_augment(x, torch.Generator().manual_seed(1))
    c = diff_augment(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    a.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    # cutout blanks about a quarter of each image (half the height times half the width)
    zero = (diff_augment(torch.ones(50, 1, 16, 16) * 5, torch.Generator().manual_seed(0)) == 0)
    assert 0.1 < zero.float().mean() < 0.35


def test_batch_slices_partition_the_global_batch():
    for size in (1, 2, 3, 5):
        rows = [World(rank, size).batch_slice(10) for rank in range(size)]
        covered = [i for s in rows for i in range(10)[s]]
        assert covered == list(range(10)), size
