"""The failure-mode monitor on constructed inputs, DiffAugment, and the rank/batch slicing."""

from __future__ import annotations

import math

import pytest
import torch

from gantool.train.augment import diff_augment
from gantool.train.diagnostics import (
    KL_COLLAPSE,
    WINDOW,
    DigitProbe,
    FailureMonitor,
    advice,
    digit_histogram,
    mode_coverage,
    pairwise_diversity,
    untrained_until,
    within_class_diversity,
)
from gantool.train.distributed import World


def record(step, loss_g=1.0, loss_d=1.0, d_fake=0.4, grad_g=1.0):
    return {"step": step, "loss_g": loss_g, "loss_d": loss_d, "d_real": 0.6, "d_fake": d_fake,
            "grad_g": grad_g, "grad_d": 1.0}


def logits(real, fake, s_real=0.5, s_fake=0.5):
    return {"logit_real": real, "logit_fake": fake, "logit_real_std": s_real,
            "logit_fake_std": s_fake}


def test_diminished_gradient_needs_both_a_winning_d_and_a_collapsed_gradient():
    monitor = FailureMonitor(loss="non-saturating")
    assert monitor.observe(record(1, grad_g=5.0)) == []
    assert monitor.observe(record(2, d_fake=0.01, grad_g=2.0)) == []  # D wins, G still learns
    raised = monitor.observe(record(3, d_fake=0.01, grad_g=0.1))
    assert len(raised) == 1 and raised[0].startswith("diminished gradient at step 3")
    assert "--loss non-saturating" not in raised[0]  # the run already uses it
    assert monitor.observe(record(4, d_fake=0.01, grad_g=0.1)) == []  # shown once, not again
    assert monitor.counts["diminished_gradient"] == 2


def test_minimax_saturates_when_d_wins_whatever_the_gradient_norm():
    monitor = FailureMonitor(loss="minimax")
    assert monitor.observe(record(1, d_fake=0.3, grad_g=5.0)) == []
    r = {**record(2, d_fake=0.02, grad_g=6.0), "d_real": 0.97}
    raised = monitor.observe(r)
    assert len(raised) == 1 and "scales G's gradient down to 2.0%" in raised[0]
    assert "--loss non-saturating" in raised[0]


@pytest.mark.parametrize("loss", ["wgan", "wgan-gp", "lsgan"])
def test_unbounded_critics_win_by_separating_real_and_fake_scores(loss):
    monitor = FailureMonitor(loss=loss)
    # sigmoid(D) would read these scores as "D(G(z)) = 0.007": a 'win' that is not one for a
    # critic whose scores overlap this much
    overlapping = logits(-4.0, -5.0, 2, 2)
    assert monitor.observe({**record(1, grad_g=5.0, d_fake=0.007), **overlapping}) == []
    assert monitor.observe({**record(2, grad_g=0.1, d_fake=0.007), **overlapping}) == []
    raised = monitor.observe({**record(3, grad_g=0.1, d_fake=0.5), **logits(3.0, -1.0, 1, 1)})
    assert len(raised) == 1 and "4.0 standard deviations apart" in raised[0]
    assert "5.0% of its peak" not in raised[0] and "2.0% of its peak" in raised[0]


def test_hinge_wins_when_both_margins_saturate():
    monitor = FailureMonitor(loss="hinge")
    monitor.observe({**record(1, grad_g=5.0), **logits(0.5, -0.5)})
    # far apart, but most fakes still inside the margin: D keeps learning, no flag
    assert monitor.observe({**record(2, grad_g=0.1), **logits(3.0, -0.8, 0.3, 0.3)}) == []
    raised = monitor.observe({**record(3, grad_g=0.1), **logits(3.0, -2.0, 0.3, 0.3)})
    assert len(raised) == 1 and "past the hinge's margin" in raised[0]


@pytest.mark.parametrize("loss", ["relativistic", "rpgan"])
def test_relativistic_wins_on_the_difference_of_logits(loss):
    monitor = FailureMonitor(loss=loss)
    monitor.observe({**record(1, grad_g=5.0), **logits(10.0, 8.0)})
    assert monitor.observe({**record(2, grad_g=0.1), **logits(10.0, 8.0)}) == []  # 0.88
    raised = monitor.observe({**record(3, grad_g=0.1), **logits(10.0, 6.0)})
    assert len(raised) == 1 and "sigmoid(r - f) = 0.982" in raised[0]


def test_unbounded_loss_without_logit_statistics_is_not_judged():
    monitor = FailureMonitor(loss="hinge")
    r = record(1, d_fake=0.001, grad_g=0.0)
    assert monitor.observe(r) == []
    assert "diminished_gradient" not in r["diag"]
    assert monitor.summary(r)[0].startswith("diminished gradient: not judged (hinge needs")


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


def test_mixture_mode_count_is_evaluates_definition():
    """The log's modes_hit is `gantool evaluate --metrics mode-coverage`'s count."""
    from gantool.metrics.mode_coverage import ModeCoverage

    modes = torch.tensor([[float(i), 0.0] for i in range(8)]) * 2
    gen = torch.Generator().manual_seed(0)
    points = torch.cat([modes[:1] + 0.02 * torch.randn(995, 2, generator=gen),
                        modes[1:6] + 0.02 * torch.randn(5, 2, generator=gen)])  # 1 each
    evaluate = ModeCoverage(modes, 0.02)
    evaluate.update(points, real=False)
    scores = {s.name: s.value for s in evaluate.compute()}
    measured = mode_coverage(points, modes, 0.02)
    assert measured["modes_hit"] == scores["modes"] == 6
    assert measured["high_quality"] == pytest.approx(scores["high_quality"])
    assert measured["modes_near"] == 1  # the collapse judgement still sees one mode


@pytest.fixture(scope="module")
def real_digits():
    from conftest import MNIST_DIR

    from gantool.metrics.classifier_training import read_mnist_test

    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST test files not found in {MNIST_DIR}")
    images, labels = read_mnist_test(MNIST_DIR)
    return images.float().div(127.5).sub(1), labels  # model space, [-1, 1]


def digit_monitor(real, labels):
    return FailureMonitor(real_diversity=pairwise_diversity(real), class_probs_fn=DigitProbe(),
                          data_class_hist=digit_histogram(labels))


def test_real_digits_are_not_a_collapse(real_digits):
    images, labels = real_digits
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:512]
    monitor = digit_monitor(images[pick[:256]], labels)
    r = record(1)
    monitor.measure_samples(images[pick[256:]], r)  # another 256 real digits as the "probe"
    assert monitor.observe(r) == []
    assert r["digit_top3_share"] < 0.45 and r["digit_kl"] < 0.1
    assert all(n > 0 for n in r["digit_hist"])


def test_samples_of_only_ones_sevens_and_nines_are_flagged_naming_them(real_digits):
    images, labels = real_digits
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:256]
    monitor = digit_monitor(images[pick], labels)
    few = torch.cat([images[labels == d][:86] for d in (1, 7, 9)])[:256]
    r = record(3000)
    monitor.measure_samples(few, r)
    raised = monitor.observe(r)
    assert len(raised) == 1 and raised[0].startswith("mode collapse at step 3000: digits ")
    assert set(r["digit_top3"]) == {1, 7, 9} and r["digit_top3_share"] > 0.95
    named = raised[0].split("digits ")[1].split(" make")[0]
    assert sorted(named.split(", ")) == ["1", "7", "9"]
    assert "of the samples (the data: 32%)" in raised[0]  # MNIST's share of 1, 7 and 9
    assert monitor.summary(r)[2].startswith("mode collapse: flagged in 1 of 1 checks")


def test_alike_blobs_of_an_untrained_g_are_not_a_collapse(real_digits):
    images, labels = real_digits
    monitor = digit_monitor(images[:256], labels)
    blob = images[:256].mean(0, keepdim=True)
    alike = blob + 0.02 * torch.randn(256, *blob.shape[1:], generator=torch.Generator())
    r = record(1)
    monitor.measure_samples(alike, r)
    assert monitor.observe(r) == []
    assert r["digit_top3_share"] > 0.9 and r["diversity"] < 0.2


def test_stacked_digit_histogram_pools_the_three_digits():
    hist = digit_histogram(torch.tensor([123, 456, 789, 0]), channels=3)
    assert hist == pytest.approx([3 / 12] + [1 / 12] * 9)
    assert digit_histogram(torch.tensor([1, 1, 7, 9])) == [0, 0.5, 0, 0, 0, 0, 0, 0.25, 0, 0.25]


def test_ada_rt_is_the_overfitting_signal():
    from gantool.train.ada import AdaptiveAugment

    ada = AdaptiveAugment(interval=1, kimg_to_full=1)
    monitor = FailureMonitor(ada=ada, loss="non-saturating")
    r = record(1)
    assert monitor.observe(r) == [] and "overfitting" not in r["diag"]  # no r_t measured yet
    ada.observe(torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0]))
    ada.update(64)
    r = record(2)
    raised = monitor.observe(r)
    assert r["ada_rt"] == pytest.approx(0.8) and r["diag"]["overfitting"] is False
    ada.observe(torch.ones(10))
    ada.update(64)
    assert monitor.observe(record(3)) == []  # one log is not yet evidence (below)
    for step in range(4, 7):
        ada.observe(torch.ones(10))
        ada.update(64)
        raised = monitor.observe(record(step))
    # r_t over the last 5 logs: 0.8, 1, 1, 1, 1
    assert len(raised) == 1 and raised[0].startswith("overfitting at step 6: r_t")
    assert "averages 0.96 over the last 5 logs" in raised[0] and "--augment" in raised[0]
    assert "(ADA aims at 0.6)" in raised[0]


def test_the_overfitting_message_names_the_target_ada_was_given():
    from gantool.train.ada import AdaptiveAugment

    ada = AdaptiveAugment(target=0.9, interval=1, kimg_to_full=1)
    monitor = FailureMonitor(ada=ada, loss="relativistic")
    raised = []
    for step in range(1, 8):
        ada.observe(torch.ones(10))
        ada.update(64)
        raised += monitor.observe(record(step))
    assert len(raised) == 1 and "(ADA aims at 0.9)" in raised[0], raised


def rt_records(values):
    return [{**record(50 * (i + 1)), "ada_rt": rt, "ada_p": 0.01 * i}
            for i, rt in enumerate(values)]


def test_overfitting_needs_a_high_rt_over_a_window_not_one_noisy_log():
    # r_t as logged every 50 steps by `gantool train --ada --steps 1000 --log-every 50`: 1.00 at
    # the start (D beats the untrained G), single logs of 0.87 and 0.85 later; never overfitting.
    measured = [1.0, 0.45, 0.75, 0.87, 0.71, 0.63, 0.66, 0.66, 0.68, 0.85,
                0.76, 0.74, 0.55, 0.70, 0.73, 0.62, 0.72, 0.66, 0.77, 0.68]
    monitor = FailureMonitor(loss="non-saturating")
    for r in rt_records(measured):
        assert monitor.observe(r) == [] and r["diag"]["overfitting"] is False
    assert monitor.judged["overfitting"] == 20 and "overfitting" not in monitor.counts


def test_a_d_that_stays_sure_of_the_training_images_is_flagged_after_the_window():
    monitor = FailureMonitor(loss="non-saturating")
    flags = [bool(monitor.observe(r)) for r in rt_records([0.7, 0.9, 0.95, 0.97, 0.98, 0.99])]
    assert flags == [False, False, False, False, True, False]  # warned once, when it appears
    state = monitor.state_dict()
    resumed = FailureMonitor(loss="non-saturating")
    resumed.load_state_dict(state)  # the window survives a resume
    r = rt_records([0.7] * 7)[-1]
    resumed.observe(r)
    assert r["diag"]["overfitting"] is True and r["ada_rt_mean"] == pytest.approx(0.918)


def test_only_drawn_digits_are_named():
    probabilities = torch.zeros(4, 1, 10)
    probabilities[:, 0, 8] = 1.0
    monitor = FailureMonitor(class_probs_fn=lambda x: probabilities)
    r = record(500)
    monitor.measure_samples(torch.zeros(4, 1, 28, 28), r)
    assert r["digit_top3"] == [8] and r["digit_top3_share"] == 1.0
    assert monitor.observe(r)[0].startswith("mode collapse at step 500: digit 8 makes 100%")


def probabilities_for(counts):
    digits = torch.repeat_interleave(torch.arange(10), torch.tensor(counts))
    return torch.nn.functional.one_hot(digits, 10).double()[:, None, :]


def test_the_default_runs_skewed_histogram_is_silent_and_the_ema_runs_fires():
    # classified probe samples, measured: the default mlp run on mnist-5k at steps 4000 and
    # 5000 (top-3 share 0.76 and 0.61), and the --ema 0.999 run at step 5000, visibly 1s, 7s
    # and 9s (0.76, but further from the data's histogram)
    default_4000 = probabilities_for([1, 99, 28, 68, 7, 4, 1, 24, 9, 15])
    default_5000 = probabilities_for([0, 73, 42, 40, 23, 28, 8, 20, 9, 13])
    ema_5000 = probabilities_for([0, 119, 19, 24, 8, 0, 5, 40, 6, 35])
    for probabilities, flagged in ((default_4000, False), (default_5000, False),
                                   (ema_5000, True)):
        monitor = FailureMonitor(class_probs_fn=lambda x, p=probabilities: p)
        r = record(5000)
        monitor.measure_samples(torch.zeros(256, 1, 28, 28), r)
        raised = monitor.observe(r)
        assert r["diag"]["mode_collapse"] is flagged and bool(raised) is flagged
        assert (r["digit_kl"] >= KL_COLLAPSE) is flagged


# Measured on the 256 probe samples of `gantool train --dataset mnist --data-root
# /work/shared/data/mnist --steps 500` (the MNIST integration test's run; CPU, seed 0): its grid at
# step 500 is visibly one shape, all classified "8", with diversity 0.16 of the real data's; at
# step 100 the samples are still the untrained G's blobs (diversity 0.10, "8" and "3").
COLLAPSED_MNIST_500 = {"step": 500, "hist": [0, 0, 0, 0, 0, 0, 0, 0, 256, 0], "diversity": 0.162}
UNTRAINED_MNIST_100 = {"step": 100, "hist": [0, 0, 0, 90, 0, 0, 0, 0, 166, 0], "diversity": 0.098}
# The default dcgan run (mnist-5k, seed 0) at step 100: blobs, yet already more diverse than 0.2.
UNTRAINED_DCGAN_100 = {"step": 100, "hist": [0, 0, 11, 2, 0, 0, 0, 0, 243, 0], "diversity": 0.236}
# The real MNIST test digits' histogram (the data the run trained on), for the KL.
MNIST_TEST_HIST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def judged_probe(measured, monitor=None):
    """A record as the loop makes it, from a probe's measured digit counts and diversity."""
    probabilities = probabilities_for(measured["hist"])
    total = sum(MNIST_TEST_HIST)
    monitor = monitor or FailureMonitor(class_probs_fn=lambda x: probabilities,
                                        data_class_hist=[n / total for n in MNIST_TEST_HIST])
    r = {**record(measured["step"]), "diversity": measured["diversity"]}
    monitor.measure_samples(torch.zeros(256, 1, 28, 28), r)
    return r, monitor.observe(r)


def test_a_collapsed_g_making_one_digit_is_flagged_despite_its_low_diversity():
    r, raised = judged_probe(COLLAPSED_MNIST_500)
    assert r["digit_kl"] == pytest.approx(2.33, abs=0.01)  # what the run's summary said
    assert r["diversity"] < 0.2
    assert r["diag"]["mode_collapse"] is True
    assert len(raised) == 1 and raised[0].startswith("mode collapse at step 500: digit 8 makes "
                                                     "100% of the samples")


def test_an_untrained_gs_blobs_at_step_100_are_not_flagged():
    r, raised = judged_probe(UNTRAINED_MNIST_100)
    assert r["digit_kl"] > KL_COLLAPSE and r["digit_top3_share"] == 1.0  # alike, far from data
    assert r["diag"]["mode_collapse"] is False and raised == []


def test_an_untrained_gs_diverse_blobs_are_not_flagged_either():
    r, raised = judged_probe(UNTRAINED_DCGAN_100)
    assert r["digit_kl"] > KL_COLLAPSE and r["digit_top3_share"] == 1.0
    assert r["diag"]["mode_collapse"] is False and raised == []


def test_advice_leaves_out_what_the_run_already_does():
    assert "--spectral-norm" in advice("mode_collapse")
    tips = advice("mode_collapse", "non-saturating", 0.0, spectral_norm=True)
    assert "--spectral-norm" not in tips and "--r1 10" in tips


def test_real_digits_histogram_is_not_flagged_at_any_step():
    real = {"hist": [26, 27, 26, 25, 24, 23, 25, 27, 26, 27], "diversity": 1.0}
    for step in (100, 500, 5000):
        r, raised = judged_probe({**real, "step": step})
        assert r["diag"]["mode_collapse"] is False and raised == []


def test_the_untrained_stage_lasts_longer_for_the_ema_g_that_is_sampled():
    assert untrained_until(64) == 400
    assert untrained_until(256) == 100  # the same 25,600 images
    assert untrained_until(64, ema=0.999) == 400 + 999  # the EMA's weights are ~999 steps old
    assert 400 < untrained_until(64, ema_kimg=10) < 440  # the ramped half-life trails by <8%
    # The --ema 0.999 run at step 1000: all "8", the EMA still near the untrained G: silent.
    monitor = FailureMonitor(class_probs_fn=lambda x: probabilities_for([0] * 8 + [256, 0]),
                             warmup_step=untrained_until(64, ema=0.999))
    r, raised = judged_probe({**COLLAPSED_MNIST_500, "step": 1000, "diversity": 0.11}, monitor)
    assert raised == [] and r["diag"]["mode_collapse"] is False


def conditional_monitor(images, labels, pick):
    """A digit monitor for a conditional G whose probe cycles through the labels 0..9."""
    monitor = digit_monitor(images[pick], labels)
    monitor.probe_labels = torch.arange(256) % 10
    monitor.real_class_diversity = within_class_diversity(images[pick], labels[pick])
    return monitor


def test_a_conditional_g_that_ignores_z_is_flagged_within_its_classes(real_digits):
    # The conditional default run's samples (docs/howto/diagnostics.md): one real-looking digit
    # per label whatever z, so the class histogram is perfect and the overall diversity high.
    images, labels = real_digits
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:256]
    monitor = conditional_monitor(images, labels, pick)
    one_per_class = torch.stack([images[labels == d][0] for d in range(10)])
    noise = 0.02 * torch.randn(256, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    fake = one_per_class[torch.arange(256) % 10] + noise
    r = record(1000)
    monitor.measure_samples(fake, r)
    raised = monitor.observe(r)
    assert r["digit_kl"] < KL_COLLAPSE and r["diversity"] > 0.8  # what the other checks see
    assert r["class_diversity"] < 0.2
    assert len(raised) == 1 and raised[0].startswith(
        "mode collapse at step 1000: sample diversity within a class is ")
    assert "nearly the same image for every z of a class" in raised[0]
    assert "final sample diversity within a class: " in "\n".join(monitor.summary(r))


def test_a_conditional_g_drawing_varied_digits_of_each_class_is_not_flagged(real_digits):
    images, labels = real_digits
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    monitor = conditional_monitor(images, labels, order[:256])
    rest = order[256:]
    by_class = [rest[labels[rest] == d] for d in range(10)]
    fake = torch.stack([images[by_class[i % 10][i // 10]] for i in range(256)])
    r = record(1000)
    monitor.measure_samples(fake, r)
    assert monitor.observe(r) == []
    assert 0.8 < r["class_diversity"] < 1.2


def test_an_untrained_conditional_gs_blobs_are_not_flagged(real_digits):
    images, labels = real_digits
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))[:256]
    monitor = conditional_monitor(images, labels, pick)
    alike = images[:256].mean(0, keepdim=True) + 0.02 * torch.randn(256, 1, 28, 28)
    r = record(100)
    monitor.measure_samples(alike, r)
    assert r["class_diversity"] < 0.1
    monitor.observe(r)
    assert r["diag"]["mode_collapse"] is False
