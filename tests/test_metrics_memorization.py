"""memorization: copies of the training set are flagged, fresh digits are not; --show-nearest."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data import load_dataset
from gantool.metrics.memorization import Memorization, nearest_neighbour_ratios


def test_ratios_against_a_brute_force_count():
    gen = torch.Generator().manual_seed(0)
    real, fake = torch.randn(50, 3, generator=gen), torch.randn(20, 3, generator=gen)
    rho, index = nearest_neighbour_ratios(real, fake)
    d_real = torch.cdist(real.double(), real.double()) + torch.diag(torch.full((50,), 1e9))
    d_fake = torch.cdist(fake.double(), real.double())
    expected_index = d_fake.argmin(1)
    expected = d_fake.min(1).values / d_real.min(1).values[expected_index]
    assert torch.equal(index, expected_index) and torch.allclose(rho, expected)


def scores(metric) -> dict:
    return {s.name: s.value for s in metric.compute()}


def test_copies_are_memorized_and_duplicates_do_not_break_it():
    real = torch.randn(30, 4, generator=torch.Generator().manual_seed(1))
    real[5] = real[4]  # a duplicated training sample: its radius is 0
    metric = Memorization()
    metric.update(real, real=True)
    metric.update(real[torch.randperm(30)], real=False)
    result = scores(metric)
    assert result["memorized"] == 1.0 and result["authentic"] == 0.0 and result["nn_ratio"] == 0


def test_copies_outside_the_kept_subset_are_memorized():
    """Issue 22 section 2: the training set is larger than max_samples. Each kept fake's nearest
    neighbour (and that neighbour's own radius) is searched over EVERY training row, so copies
    of rows that no seeded subset would keep still score 1.0."""
    real = torch.randn(600, 8, generator=torch.Generator().manual_seed(2))
    metric = Memorization(max_samples=100)
    for chunk in real.split(64):
        metric.update(chunk, real=True)
    metric.update(real.flip(0), real=False)  # exact copies, fed in another order
    result = {s.name: s for s in metric.compute()}
    assert result["memorized"].value == 1.0 and result["authentic"].value == 0.0
    assert result["nn_ratio"].value == 0.0
    assert (result["memorized"].n, result["memorized"].n_real) == (100, 600)


def test_a_copying_generator_on_a_set_larger_than_the_cap(cli, tmp_path):
    """The real CLI: 600 training digits, --max-samples 100, the fakes copies of all 600."""
    import json

    digits = load_dataset("mnist-5k").data[:600, 0].numpy()
    np.savez(tmp_path / "real.npz", data=digits)
    np.savez(tmp_path / "copies.npz", data=digits[np.random.default_rng(0).permutation(600)])
    result = cli("evaluate", "--fake", str(tmp_path / "copies.npz"), "--real",
                 str(tmp_path / "real.npz"), "--metrics", "memorization", "--max-samples", "100",
                 "--json")
    assert result.returncode == 0, result.stderr.decode()
    memorized = json.loads(result.stdout)["metrics"]["memorized"]
    assert memorized == {"value": 1.0, "std": None, "n": 100, "n_real": 600}


def test_real_digits_vs_themselves_and_mnist_test_vs_mnist_5k(cli, mnist_dir, tmp_path):
    """On the digits features: the bundled set against itself is all copies; the 10,000 real
    MNIST test digits (never in training) are nearly never flagged."""
    import json

    from gantool.metrics.classifier_training import read_mnist_test

    images, _ = read_mnist_test(mnist_dir)
    np.savez(tmp_path / "test.npz", data=images[:500, 0].numpy())
    values = {}
    for fake in ("mnist-5k", str(tmp_path / "test.npz")):
        result = cli("evaluate", "--fake", fake, "--real", "mnist-5k", "--metrics",
                     "memorization", "--json")
        assert result.returncode == 0, result.stderr.decode()
        values[fake] = json.loads(result.stdout)["metrics"]
    assert values["mnist-5k"]["memorized"]["value"] == 1.0
    assert values[str(tmp_path / "test.npz")]["memorized"]["value"] < 0.01


def test_show_nearest_writes_the_closest_pairs(tmp_path, cli):
    digits = load_dataset("mnist-5k").data[:300, 0].numpy()
    fake = digits[:40].copy()
    fake[20:] = 255 - fake[20:]  # half copies, half inverted (far from everything)
    np.savez(tmp_path / "fake.npz", data=fake)
    np.savez(tmp_path / "real.npz", data=digits)
    out = tmp_path / "pairs.png"
    args = ["evaluate", "--fake", str(tmp_path / "fake.npz"), "--real", str(tmp_path / "real.npz"),
            "--metrics", "memorization", "--show-nearest", str(out)]
    result = cli(*args)
    assert result.returncode == 0, result.stderr.decode()
    grid = np.asarray(Image.open(out))
    assert grid.ndim == 2 and grid.shape[1] > 4 * 56  # four (fake, real) pairs per row
    first_fake, first_real = grid[2:30, 2:30], grid[2:30, 31:59]
    assert np.array_equal(first_fake, first_real)  # the closest pair: a copy and its original
    before = out.read_bytes()
    again = cli(*args)
    assert again.returncode == 2 and b"exists; use --force" in again.stderr
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "fid", "--show-nearest", "x.png"], "add it to --metrics"),
        (["--metrics", "memorization", "--show-nearest", "x.jpg"], "must end in .png"),
        (["--metrics", "memorization", "--memorization-threshold", "-1"], "at least 0"),
    ],
)
def test_bad_memorization_options(tmp_path, capsys, extra, message):
    from gantool.cli import main

    np.savez(tmp_path / "d.npz", data=np.zeros((10, 28, 28), np.uint8))
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--fake", str(tmp_path / "d.npz"), "--real", str(tmp_path / "d.npz"),
              *[a.replace("x.", str(tmp_path / "x.")) for a in extra]])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_info.value.code == 2 and len(err) == 1 and message in err[0]
    assert not (tmp_path / "x.png").exists()
