"""Metrics against reference implementations (torchmetrics, prdc) and known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gantool import registry
from gantool.errors import GantoolError
from gantool.metrics.fid import FID
from gantool.metrics.inception_score import InceptionScore
from gantool.metrics.kid import KID, polynomial_mmd2
from gantool.metrics.prdc import PRDC, precision_recall_density_coverage


class RandomFeatures(torch.nn.Module):
    """A fixed custom feature extractor: (N, 1, 8, 8) images -> (N, 16) features."""

    num_features = 16

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(64, 16)
        with torch.no_grad():
            generator = torch.Generator().manual_seed(0)
            self.linear.weight.copy_(torch.randn(16, 64, generator=generator))
            self.linear.bias.zero_()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.linear(images.float().flatten(1) / 255))


def images(n: int, seed: int, shift: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randint(0, 200, (n, 1, 8, 8), generator=generator) + shift).to(torch.uint8)


def feed(metric, module, real: torch.Tensor, fake: torch.Tensor, batch: int = 64) -> None:
    for x, is_real in ((real, True), (fake, False)):
        for start in range(0, len(x), batch):
            metric.update(module(x[start : start + batch]).double(), real=is_real)


def test_every_metric_is_registered():
    assert {"fid", "kid", "is", "prdc", "mode-coverage"} <= set(registry.names("metric"))
    assert {"inception", "digits", "identity"} <= set(registry.names("feature-extractor"))


def test_fid_matches_torchmetrics_with_the_same_feature_extractor():
    tm = pytest.importorskip("torchmetrics.image.fid")
    module = RandomFeatures()
    real, fake = images(300, 1), images(250, 2, shift=40)
    reference = tm.FrechetInceptionDistance(feature=module)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    ours = FID()
    feed(ours, module, real, fake)
    (score,) = ours.compute()
    assert score.value == pytest.approx(float(reference.compute()), rel=1e-5)
    assert (score.n, score.n_real) == (250, 300)


@pytest.mark.filterwarnings("ignore:Metric `Kernel Inception Distance`")
def test_kid_matches_torchmetrics_on_the_full_sets():
    tm = pytest.importorskip("torchmetrics.image.kid")
    module = RandomFeatures()
    real, fake = images(200, 3), images(200, 4, shift=30)
    # One subset of all samples: no randomness left, so the two must agree exactly.
    reference = tm.KernelInceptionDistance(feature=module, subsets=1, subset_size=200)
    reference.update(real, real=True)
    reference.update(fake, real=False)
    ref_mean, _ = reference.compute()
    ours = KID(subsets=1, subset_size=200)
    feed(ours, module, real, fake)
    (score,) = ours.compute()
    assert score.value == pytest.approx(float(ref_mean), rel=1e-5)


def test_kid_subset_mmd_matches_torchmetrics_poly_mmd():
    tm = pytest.importorskip("torchmetrics.image.kid")
    generator = torch.Generator().manual_seed(5)
    x, y = torch.randn(50, 7, generator=generator), torch.randn(50, 7, generator=generator) + 0.3
    ref = tm.poly_mmd(x.double(), y.double())
    assert polynomial_mmd2(x, y) == pytest.approx(float(ref), rel=1e-10)


def test_kid_mean_and_std_over_subsets():
    generator = torch.Generator().manual_seed(6)
    real = torch.randn(400, 8, generator=generator)
    fake = torch.randn(400, 8, generator=generator) + 0.5
    metric = KID(subsets=20, subset_size=100, seed=1)
    metric.update(real, real=True)
    metric.update(fake, real=False)
    (score,) = metric.compute()
    assert score.value > 0 and score.std > 0
    again = KID(subsets=20, subset_size=100, seed=1)
    again.update(real, real=True)
    again.update(fake, real=False)
    assert again.compute()[0] == score  # same seed, same subsets


def test_prdc_matches_the_prdc_package():
    prdc_ref = pytest.importorskip("prdc")
    rng = np.random.default_rng(7)
    real = rng.standard_normal((300, 10)).astype(np.float32)
    fake = (rng.standard_normal((250, 10)) * 1.2 + 0.3).astype(np.float32)
    expected = prdc_ref.compute_prdc(real, fake, nearest_k=5)
    got = precision_recall_density_coverage(torch.from_numpy(real), torch.from_numpy(fake), k=5)
    for key in ("precision", "recall", "density", "coverage"):
        assert got[key] == pytest.approx(float(expected[key]), abs=1e-9), key


def test_prdc_metric_streams_in_batches_and_blocks(monkeypatch):
    import gantool.metrics.prdc as prdc_module

    monkeypatch.setattr(prdc_module, "_BLOCK", 37)  # exercise block boundaries
    rng = np.random.default_rng(8)
    real, fake = torch.from_numpy(rng.standard_normal((120, 4))), torch.from_numpy(
        rng.standard_normal((90, 4)) + 0.2
    )
    metric = PRDC(k=3)
    for chunk in real.split(50):
        metric.update(chunk, real=True)
    for chunk in fake.split(40):
        metric.update(chunk, real=False)
    got = {s.name: s.value for s in metric.compute()}
    expected = precision_recall_density_coverage(real.float(), fake.float(), k=3)
    monkeypatch.setattr(prdc_module, "_BLOCK", 4096)
    assert got == pytest.approx(expected)


def test_identical_inputs_give_zero_distance_and_full_precision_recall():
    generator = torch.Generator().manual_seed(9)
    x = torch.randn(300, 6, generator=generator)
    fid, prdc = FID(), PRDC()
    for metric in (fid, prdc):
        metric.update(x, real=True)
        metric.update(x, real=False)
    assert fid.compute()[0].value == pytest.approx(0, abs=1e-9)
    # KID of the very same rows is not 0 (the unbiased estimate drops only the within-set
    # diagonals), but two independent draws of one distribution give ~0, far below a shift.
    same, shifted = KID(subsets=10, subset_size=200), KID(subsets=10, subset_size=200)
    y = torch.randn(300, 6, generator=generator)
    for metric, fake in ((same, y), (shifted, y + 0.5)):
        metric.update(x, real=True)
        metric.update(fake, real=False)
    near_zero, far = same.compute()[0].value, shifted.compute()[0].value
    assert abs(near_zero) < 0.05 * far
    values = {s.name: s.value for s in prdc.compute()}
    assert values["precision"] == values["recall"] == values["coverage"] == 1.0


def test_feature_caps_keep_at_most_max_samples():
    metric = KID(subsets=1, subset_size=10, max_samples=25)
    metric.update(torch.randn(20, 3), real=True)
    metric.update(torch.randn(20, 3), real=True)
    metric.update(torch.randn(30, 3), real=False)
    assert len(metric.real) == 25 and metric.real.seen == 40
    assert metric.compute()[0].n == 25


def direct_inception_score(p: np.ndarray, splits: int,
                           sizes: list[int] | None = None) -> tuple[float, float]:
    """IS over consecutive parts of p: `splits` nearly equal ones, or of the given sizes."""
    scores = []
    bounds = np.cumsum(sizes)[:-1] if sizes else splits
    for part in np.array_split(p, bounds):
        marginal = part.mean(0)
        kl = (part * (np.log(part) - np.log(marginal))).sum(1).mean()
        scores.append(math.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


def test_inception_score_matches_the_direct_formula_on_its_random_splits():
    rng = np.random.default_rng(10)
    logits = rng.standard_normal((203, 10)) * 3
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    metric = InceptionScore(splits=4, seed=3)
    for chunk in np.array_split(p, 7):
        metric.update(torch.from_numpy(chunk), real=False)
    (score,) = metric.compute()
    # Each run of 4 samples is dealt to the 4 splits by a permutation from the seeded generator.
    generator = torch.Generator().manual_seed(3)
    dealt = torch.cat([torch.randperm(4, generator=generator) for _ in range(51)])[:203].numpy()
    assert sorted(np.bincount(dealt)) == [50, 51, 51, 51]
    parts = [p[dealt == s] for s in range(4)]
    mean, std = direct_inception_score(np.concatenate(parts), 4, [len(x) for x in parts])
    assert score.value == pytest.approx(mean, rel=1e-10)
    assert score.std == pytest.approx(std, rel=1e-8)


def test_inception_score_does_not_depend_on_the_batch_size():
    p = torch.softmax(torch.randn(1000, 10, generator=torch.Generator().manual_seed(0)) * 3, 1)
    scores = []
    for batch in (1, 7, 1000):
        metric = InceptionScore(splits=10)
        for chunk in p.double().split(batch):
            metric.update(chunk, real=False)
        scores.append(metric.compute()[0])
    assert len({s.value for s in scores}) == 1 and len({s.std for s in scores}) == 1


def test_inception_score_of_samples_in_label_order_is_that_of_shuffled_ones():
    # A conditional G is sampled with labels 0..9 in turn; each sample is sure of its class.
    # An interleaved split (i mod 10) held one class each and scored 1 instead of 10.
    ordered = torch.eye(10, dtype=torch.float64).repeat(500, 1) * 0.99 + 0.001
    shuffled = ordered[torch.randperm(5000, generator=torch.Generator().manual_seed(1))]
    scores = []
    for p in (ordered, shuffled):
        metric = InceptionScore(splits=10)
        metric.update(p, real=False)
        scores.append(metric.compute()[0].value)
    assert scores[0] == pytest.approx(scores[1], rel=0.02) and scores[0] > 9


def test_inception_score_extremes():
    confident = torch.eye(10, dtype=torch.float64).repeat_interleave(20, 0)  # sure of each class
    metric = InceptionScore(splits=2)
    metric.update(confident, real=False)
    assert metric.compute()[0].value == pytest.approx(10)
    same = torch.full((100, 10), 0.1, dtype=torch.float64)
    metric = InceptionScore(splits=2)
    metric.update(same, real=False)
    assert metric.compute()[0].value == pytest.approx(1)


def test_too_few_samples_fail_with_a_clear_message():
    fid = FID()
    fid.update(torch.randn(1, 4), real=True)
    fid.update(torch.randn(5, 4), real=False)
    with pytest.raises(GantoolError, match="at least 2 real"):
        fid.compute()
    prdc = PRDC(k=5)
    prdc.update(torch.randn(5, 2), real=True)
    prdc.update(torch.randn(50, 2), real=False)
    with pytest.raises(GantoolError, match="more than 5"):
        prdc.compute()
    metric = InceptionScore(splits=10)
    metric.update(torch.full((3, 10), 0.1), real=False)
    with pytest.raises(GantoolError, match="at least 10"):
        metric.compute()


def test_metric_option_declarations_match_the_cli_help(capsys):
    """Options are declared where each metric is registered; --help states the same defaults."""
    import re

    from gantool import registry
    from gantool.cli import main
    from gantool.metrics.options import declared

    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    flags = 0
    for entry in registry.entries("metric"):
        for option in declared(entry.factory):
            flags += 1
            assert option.flag in help_text, option.flag
            after = help_text[help_text.index(option.flag):]
            default = re.search(r"\(default: ([^ ),]+)", after).group(1)
            expected = "2500" if option.default is None else str(option.default)
            assert default == expected, option.flag
    assert flags >= 7


def test_declared_options_are_checked():
    from gantool import registry
    from gantool.errors import UsageError
    from gantool.metrics.options import resolve

    factory = registry.get("metric", "prdc").factory
    assert resolve(factory, {}) == {"k": 5}
    assert resolve(factory, {"--prdc-k": 3}) == {"k": 3}
    for bad in (0, 2.5, "x"):
        with pytest.raises(UsageError, match="--prdc-k"):
            resolve(factory, {"--prdc-k": bad})
    with pytest.raises(UsageError, match="one of vits14"):
        resolve(registry.get("metric", "fd-dinov2").factory, {"--dinov2-arch": "vitg14"})


def test_list_metric_shows_the_declared_options(cli):
    import json

    result = cli("list", "metric", "--json")
    assert result.returncode == 0, result.stderr.decode()
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["prdc"]["options"] == ["--prdc-k (default 5): nearest neighbours for prdc"]
    assert "options" not in rows["fid"]  # only components that declare options list them
