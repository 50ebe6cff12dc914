"""The digit classifier: shipped weights reach >= 98% on the 10,000 real MNIST test digits;
training is reproducible; the command writes loadable weights."""

from __future__ import annotations

import json

import pytest
import torch

from gantool.errors import GantoolError
from gantool.metrics import classifier_training as ct
from gantool.metrics.digits import WEIGHTS_PATH, load_digit_classifier


def test_shipped_weights_reach_98_percent_on_real_mnist_test_digits(mnist_dir):
    images, labels = ct.read_mnist_test(mnist_dir)
    assert images.shape == (10_000, 1, 28, 28) and images.dtype == torch.uint8
    model = load_digit_classifier()
    assert ct.accuracy(model, images, labels) >= 0.98


def test_shipped_weights_record_how_they_were_made():
    from safetensors import safe_open

    with safe_open(str(WEIGHTS_PATH), framework="pt") as handle:
        metadata = handle.metadata()
    assert metadata["trained_on"] == "mnist-5k" and metadata["seed"] == "0"
    assert float(metadata["mnist_test_accuracy"]) >= 0.98


def test_training_is_reproducible_with_a_seed():
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (96, 1, 28, 28), generator=generator, dtype=torch.uint8)
    labels = torch.arange(96) % 10
    opts = ct.TrainOptions(epochs=1, batch_size=32, seed=7)
    first = ct.train_classifier(images, labels, opts).state_dict()
    second = ct.train_classifier(images, labels, opts).state_dict()
    other = ct.train_classifier(images, labels, ct.TrainOptions(epochs=1, batch_size=32, seed=8))
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not all(torch.equal(first[k], other.state_dict()[k]) for k in first)


def test_augmentation_keeps_shape_and_range():
    x = torch.rand(8, 1, 28, 28)
    out = ct.augment(x, torch.Generator().manual_seed(0), ct.TrainOptions())
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1 + 1e-6
    assert not torch.equal(out, x)


def test_bad_weight_files_fail_clearly(tmp_path):
    with pytest.raises(GantoolError, match="not found"):
        load_digit_classifier(tmp_path / "missing.safetensors")
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(GantoolError, match="does not hold digit classifier weights"):
        load_digit_classifier(tmp_path / "other.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(GantoolError, match="cannot read"):
        load_digit_classifier(tmp_path / "junk.safetensors")


def test_mnist_reader_refuses_a_truncated_file(tmp_path):
    import gzip

    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2)
    )
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(10))
    )
    with pytest.raises(GantoolError, match="truncated"):
        ct.read_mnist_test(tmp_path)


@pytest.mark.slow
def test_train_classifier_command_writes_weights_the_extractor_loads(tmp_path, cli, mnist_dir):
    out = tmp_path / "d.safetensors"
    result = cli(
        "train-classifier",
        "--epochs",
        "1",
        "--out",
        str(out),
        "--mnist-test",
        str(mnist_dir),
        "--json",
    )
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["out"] == str(out) and 0.5 < report["mnist_test_accuracy"] <= 1
    load_digit_classifier(out)


def test_train_classifier_refuses_a_bad_out_name(tmp_path, cli):
    result = cli("train-classifier", "--out", str(tmp_path / "x.pt"))
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        f"Error: --out must end in .safetensors, got {tmp_path / 'x.pt'}"
    ]
