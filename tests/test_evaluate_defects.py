"""Evaluation v2's defects, each pinned by a test that failed before its fix (issue 12, part 1)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data import load_dataset
from gantool.errors import UsageError
from gantool.metrics import evaluation, sources


def write_pngs(directory, images: np.ndarray) -> None:
    directory.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(directory / f"{i:04d}.png")


def array_source(data: torch.Tensor, label: str = "array") -> sources.Source:
    shape = tuple(data.shape[1:])

    def batches(size):
        for start in range(0, len(data), size):
            yield data[start : start + size]

    return sources.Source(label, len(data), data.dtype == torch.uint8, shape, batches)


def test_kid_and_prdc_keep_a_random_subset_of_class_sorted_folders(tmp_path, cli):
    """A folder is read sorted; with 40 of 100 kept, the first-rows cap saw one class only."""
    rng = np.random.default_rng(0)
    dark = rng.integers(0, 60, (50, 28, 28), dtype=np.uint8)
    bright = rng.integers(190, 256, (50, 28, 28), dtype=np.uint8)
    images = np.concatenate([dark, bright])
    write_pngs(tmp_path / "real", images)  # 0000-0049 dark, 0050-0099 bright
    np.savez(tmp_path / "fake.npz", data=images[rng.permutation(100)])
    common = ["evaluate", "--fake", str(tmp_path / "fake.npz"), "--real", str(tmp_path / "real"),
              "--metrics", "fid,kid,prdc", "--feature-extractor", "identity",
              "--kid-subset-size", "20", "--json"]
    results = {}
    for kept in ("40", "100"):
        result = cli(*common, "--max-samples", kept)
        assert result.returncode == 0, result.stderr.decode()
        results[kept] = json.loads(result.stdout)["metrics"]
    assert results["40"]["fid"]["value"] == pytest.approx(0, abs=1e-6)
    for kept in ("40", "100"):
        assert abs(results[kept]["kid"]["value"]) < 0.05, results[kept]["kid"]
        assert results[kept]["precision"]["value"] > 0.9
        assert results[kept]["recall"]["value"] > 0.9


def test_inception_score_uses_the_unbiased_logits(tmp_path):
    """IS: softmax(pool3 @ W), without the fc bias (original code, torch-fidelity, torchmetrics)."""
    from test_metrics_inception import random_state_dict

    from gantool.metrics.features import InceptionExtractor

    state = random_state_dict(seed=3)
    state["fc.bias"] = 5 * torch.randn(1008, generator=torch.Generator().manual_seed(4))
    torch.save(state, tmp_path / "w.pth")
    extractor = InceptionExtractor(str(tmp_path / "w.pth"))
    images = torch.randint(0, 256, (2, 3, 32, 32), generator=torch.Generator().manual_seed(5),
                           dtype=torch.uint8)
    out = extractor(images)
    unbiased = (out.features @ state["fc.weight"].double().T).softmax(1)
    biased = (out.features @ state["fc.weight"].double().T + state["fc.bias"].double()).softmax(1)
    assert (biased - unbiased).abs().max() > 1e-3  # the bias matters for this state dict
    assert torch.allclose(out.probabilities, unbiased, atol=1e-6)


def test_mode_coverage_refuses_data_that_is_not_digits_or_a_mixture(tmp_path, cli):
    noise = np.random.default_rng(0).integers(0, 256, (20, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "noise.npz", data=noise)
    result = cli("evaluate", "--fake", str(tmp_path / "noise.npz"), "--metrics", "mode-coverage")
    assert result.returncode == 2
    err = result.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: mode-coverage counts modes of digits")
    assert "stacked-mnist" in err[0] and "ring8, grid25" in err[0] and "3x32x32" in err[0]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--metrics", "prdc", "--prdc-k", "30"], "--prdc-k 30 needs more than 30"),
        (["--metrics", "is", "--is-splits", "30"], "--is-splits 30 needs at least 30"),
        (["--metrics", "kid", "--kid-subset-size", "1"], "--kid-subset-size must be at least 2"),
        (["--metrics", "prdc", "--prdc-k", "0"], "--prdc-k must be at least 1"),
    ],
)
def test_bad_metric_parameters_are_usage_errors(tmp_path, capsys, flags, message):
    from gantool.cli import main

    digits = np.random.default_rng(0).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", data=digits)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--fake", str(tmp_path / "d.npz"), "--real", str(tmp_path / "d.npz"),
              *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2, err
    assert len(err) == 1 and message in err[0]


def test_metric_constructors_raise_usage_errors():
    from gantool import registry

    for name, kwargs in (("kid", {"subset_size": 1}), ("prdc", {"k": 0}), ("is", {"splits": 0})):
        with pytest.raises(UsageError):
            registry.create("metric", name, **kwargs)


def test_real_stats_dimension_is_checked_before_any_fake_sample(tmp_path):
    np.savez(tmp_path / "small.npz", mu=np.zeros(64), sigma=np.eye(64))
    drawn = []
    data = torch.randint(0, 256, (50, 1, 28, 28), dtype=torch.uint8)

    def batches(size):
        for start in range(0, len(data), size):
            drawn.append(start)
            yield data[start : start + size]

    fake = sources.Source("generator", len(data), True, (1, 28, 28), batches)
    with pytest.raises(UsageError, match="64-d statistics but the digits features are 128-d"):
        evaluation.evaluate(fake, None, evaluation.Options(metrics=["fid"]),
                            real_stats=str(tmp_path / "small.npz"))
    assert drawn == []


def test_train_classifier_leaves_deterministic_algorithms_as_found():
    from gantool.metrics import classifier_training as ct

    images = torch.randint(0, 256, (16, 1, 28, 28), dtype=torch.uint8)
    labels = torch.arange(16) % 10
    before = torch.are_deterministic_algorithms_enabled()
    try:
        torch.use_deterministic_algorithms(False)
        ct.train_classifier(images, labels, ct.TrainOptions(epochs=1, batch_size=16))
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.use_deterministic_algorithms(before)


def test_every_metric_is_independent_of_the_batch_size():
    digits = load_dataset("mnist-5k").data
    pick = torch.randperm(len(digits), generator=torch.Generator().manual_seed(0))[:700]
    real, fake = array_source(digits[pick[:400]]), array_source(digits[pick[400:]])
    values = {}
    for batch_size in (1, 500):
        opts = evaluation.Options(
            metrics=["fid", "kid", "prdc", "is", "mode-coverage", "memorization"],
            batch_size=batch_size,
            max_samples=250,
            metric_flags={"--kid-subset-size": 50, "--is-splits": 3},
        )
        report = evaluation.evaluate(fake, real, opts)
        values[batch_size] = {s.name: (s.value, s.std) for s in report.scores}
    assert values[1].keys() == values[500].keys()
    for name, (value, std) in values[1].items():
        other_value, other_std = values[500][name]
        assert value == pytest.approx(other_value, rel=1e-9, abs=1e-12), name
        if std is not None:
            assert std == pytest.approx(other_std, rel=1e-9, abs=1e-12), name
