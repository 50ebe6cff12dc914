"""Shipped reference statistics and results that carry their protocol (evaluate --compare)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from gantool.cli import main
from gantool.data import load_dataset
from gantool.metrics.features import DigitsExtractor
from gantool.metrics.frechet import GaussianStats
from gantool.metrics.reference import load_stats


def stats_of(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    extractor, acc = DigitsExtractor(), GaussianStats()
    for start in range(0, len(images), 1000):
        acc.update(extractor(images[start : start + 1000]).features)
    return acc.mean_cov()


@pytest.mark.parametrize("name", ["mnist-5k", "mnist-test"])
def test_shipped_statistics_equal_a_fresh_pass(name, mnist_dir):
    from gantool.metrics.classifier_training import read_mnist_test

    images = load_dataset("mnist-5k").data if name == "mnist-5k" else read_mnist_test(mnist_dir)[0]
    shipped = load_stats(name)
    assert shipped.feature_extractor == "digits" and shipped.reference == name
    assert shipped.n == len(images)
    mu, sigma = stats_of(images)
    np.testing.assert_allclose(shipped.mu, mu, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(shipped.sigma, sigma, rtol=1e-10, atol=1e-10)


def run_json(capsys, *args: str) -> dict:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", *args, "--json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code in (0, None), err
    return json.loads(out)


def test_shipped_name_gives_the_same_fid_as_the_real_pass(tmp_path, capsys):
    digits = load_dataset("mnist-5k").data[::25, 0].numpy()
    np.savez(tmp_path / "fake.npz", data=digits)
    fake = str(tmp_path / "fake.npz")
    with_stats = run_json(capsys, "--fake", fake, "--real-stats", "mnist-5k", "--metrics", "fid")
    with_pass = run_json(capsys, "--fake", fake, "--real", "mnist-5k", "--metrics", "fid")
    assert with_stats["metrics"]["fid"]["value"] == pytest.approx(
        with_pass["metrics"]["fid"]["value"], rel=1e-9)
    assert with_stats["protocol"]["reference"] == with_pass["protocol"]["reference"] == "mnist-5k"
    (tmp_path / "a.json").write_text(json.dumps(with_stats))
    (tmp_path / "b.json").write_text(json.dumps(with_pass))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--compare", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
              "--json"])
    out, _ = capsys.readouterr()
    assert exit_info.value.code in (0, None)
    (row,) = json.loads(out)
    assert row["metric"] == "fid" and abs(row["difference"]) < 1e-6


def test_results_carry_their_protocol_and_compare_refuses_mismatches(tmp_path, capsys):
    digits = load_dataset("mnist-5k").data[::25, 0].numpy()
    np.savez(tmp_path / "fake.npz", data=digits[:100])
    np.savez(tmp_path / "real.npz", data=digits[100:])
    fake, real = str(tmp_path / "fake.npz"), str(tmp_path / "real.npz")
    a = run_json(capsys, "--fake", fake, "--real", real, "--metrics", "fid,prdc")
    b = run_json(capsys, "--fake", fake, "--real", real, "--metrics", "fid,prdc", "--prdc-k", "3")
    protocol = a["protocol"]
    assert protocol["feature_extractor"] == "digits" and protocol["n_fake"] == 100
    assert protocol["n_real"] == 100 and protocol["reference"] == real
    assert protocol["gantool"] and protocol["options"]["--prdc-k"] == 5
    for name, result in (("a", a), ("b", b)):
        (tmp_path / f"{name}.json").write_text(json.dumps(result))
    old = {k: v for k, v in a.items() if k != "protocol"}
    (tmp_path / "old.json").write_text(json.dumps(old))
    for other, message in (("b", "--prdc-k"), ("old", "records no protocol")):
        with pytest.raises(SystemExit) as exit_info:
            main(["evaluate", "--compare", str(tmp_path / "a.json"),
                  str(tmp_path / f"{other}.json")])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_info.value.code == 2 and len(err) == 1 and message in err[0], err


def test_statistics_from_other_classifier_weights_are_refused(tmp_path, capsys):
    from safetensors.torch import save_file

    from gantool.metrics.digits import DigitClassifier

    torch.manual_seed(0)
    save_file(DigitClassifier().state_dict(), str(tmp_path / "other.safetensors"))
    np.savez(tmp_path / "fake.npz", data=np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--fake", str(tmp_path / "fake.npz"), "--real-stats", "mnist-5k",
              "--metrics", "fid", "--classifier-weights", str(tmp_path / "other.safetensors")])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and "other digit classifier weights" in err[-1]
