"""torchvision datasets on files the tests write in torchvision's layout, and on the real
MNIST test digits beside the repository."""

from __future__ import annotations

import gzip
import pickle
import struct

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from gantool.data import load_dataset
from gantool.errors import GantoolError, UsageError

IDX_CLASSES = {"mnist": "MNIST", "fashion-mnist": "FashionMNIST", "kmnist": "KMNIST"}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("GANTOOL_CACHE", str(tmp_path / "cache"))


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX format of the MNIST site: magic (0, 0, 0x08 = uint8, ndim), big-endian dims."""
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def write_idx(folder, prefix, images, labels, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in (
        (f"{prefix}-images-idx3-ubyte", images),
        (f"{prefix}-labels-idx1-ubyte", labels),
    ):
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


def digits(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(
        np.uint8
    )


@pytest.mark.parametrize("name", IDX_CLASSES)
def test_idx_family_in_torchvision_layout(tmp_path, name):
    images, labels = digits(7)
    write_idx(tmp_path / IDX_CLASSES[name] / "raw", "train", images, labels)
    test_images, test_labels = digits(3, seed=1)
    write_idx(tmp_path / IDX_CLASSES[name] / "raw", "t10k", test_images, test_labels)
    data = load_dataset(name, root=tmp_path)
    assert data.data.shape == (7, 1, 28, 28) and data.num_classes == 10
    assert np.array_equal(data.data[:, 0].numpy(), images)
    assert data.labels.tolist() == labels.tolist()
    test = load_dataset(name, root=tmp_path, split="test", image_size=32, channels=3)
    assert test.data.shape == (3, 3, 32, 32)


@pytest.mark.parametrize("name", IDX_CLASSES)
def test_idx_family_as_bare_gz_files(tmp_path, name):
    images, labels = digits(5)
    write_idx(tmp_path / "flat", "train", images, labels, gz=True)
    data = load_dataset(name, root=tmp_path / "flat")
    assert np.array_equal(data.data[:, 0].numpy(), images)
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
    ]  # the source folder is left as it was; the unpacked copy lives in the cache


def test_only_test_split_present_is_used_with_a_warning(tmp_path):
    images, labels = digits(4)
    write_idx(tmp_path, "t10k", images, labels, gz=True)
    with pytest.warns(UserWarning, match="only the test split"):
        assert len(load_dataset("mnist", root=tmp_path)) == 4
    with pytest.raises(GantoolError, match="mnist train files not found: train-images-idx3-ubyte"):
        load_dataset("mnist", root=tmp_path, split="train")


@pytest.mark.parametrize("name", IDX_CLASSES)
def test_idx_family_missing_files_name_them(tmp_path, name):
    with pytest.raises(GantoolError) as info:
        load_dataset(name, root=tmp_path)
    message = str(info.value)
    assert "train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert str(tmp_path / IDX_CLASSES[name] / "raw") in message and "--download" in message


def test_corrupt_idx_file_is_a_clear_error(tmp_path):
    images, labels = digits(3)
    write_idx(tmp_path / "MNIST" / "raw", "train", images, labels)
    (tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03abc")
    with pytest.raises(GantoolError, match="MNIST"):
        load_dataset("mnist", root=tmp_path)
    with pytest.raises(UsageError, match="split must be one of train, test"):
        load_dataset("mnist", root=tmp_path, split="valid")


def write_cifar(root, n=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        pixels = rng.integers(0, 256, (n, 3 * 32 * 32), dtype=np.uint8)
        labels = rng.integers(0, 10, n).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": pixels, "labels": labels}, f)
        batches[name] = (pixels, labels)
    return batches


def test_cifar10(tmp_path):
    batches = write_cifar(tmp_path)
    data = load_dataset("cifar10", root=tmp_path)
    assert data.data.shape == (20, 3, 32, 32) and data.num_classes == 10
    pixels, labels = batches["data_batch_1"]
    assert np.array_equal(data.data[:4].numpy(), pixels.reshape(4, 3, 32, 32))
    assert data.labels[:4].tolist() == labels
    test = load_dataset("cifar10", root=tmp_path, split="test", channels=1)
    assert test.data.shape == (4, 1, 32, 32)


def test_cifar10_missing_and_corrupt(tmp_path):
    with pytest.raises(
        GantoolError, match=r"cifar10 files not found: data_batch_1.*cifar-10-batches-py"
    ):
        load_dataset("cifar10", root=tmp_path)
    write_cifar(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "data_batch_3").write_bytes(b"\x80\x04garbage")
    with pytest.raises(GantoolError, match="cifar10"):
        load_dataset("cifar10", root=tmp_path)


def test_svhn(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (32, 32, 3, 6), dtype=np.uint8)  # the .mat layout: H, W, C, N
    y = np.array([[10], [1], [2], [3], [10], [9]], dtype=np.uint8)  # 10 means digit 0
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": x, "y": y})
    data = load_dataset("svhn", root=tmp_path)
    assert data.data.shape == (6, 3, 32, 32)
    assert data.labels.tolist() == [0, 1, 2, 3, 0, 9]
    assert np.array_equal(data.data[2].numpy(), x[..., 2].transpose(2, 0, 1))
    with pytest.raises(GantoolError, match=r"svhn files not found: test_32x32\.mat"):
        load_dataset("svhn", root=tmp_path, split="test")
    (tmp_path / "test_32x32.mat").write_bytes(b"MATLAB garbage")
    with pytest.raises(GantoolError, match="svhn"):
        load_dataset("svhn", root=tmp_path, split="test")


def test_celeba(tmp_path):
    folder = tmp_path / "celeba" / "img_align_celeba"
    folder.mkdir(parents=True)
    lines = []
    for i in range(5):
        face = np.full((218, 178, 3), 40 * i, np.uint8)
        Image.fromarray(face).save(folder / f"{i + 1:06d}.jpg")
        lines.append(f"{i + 1:06d}.jpg {0 if i < 3 else 2}")
    (tmp_path / "celeba" / "list_eval_partition.txt").write_text("\n".join(lines) + "\n")
    train = load_dataset("celeba", root=tmp_path)
    assert train.data.shape == (3, 3, 64, 64) and train.labels is None
    assert train.data[2].float().mean() == pytest.approx(80, abs=2)
    assert len(load_dataset("celeba", root=tmp_path, split="test", image_size=32)) == 2
    cached = list((tmp_path / "cache").glob("celeba-train-64px-*.npz"))
    assert len(cached) == 1  # decoded once; the next load reads the array
    assert torch.equal(load_dataset("celeba", root=tmp_path).data, train.data)
    (folder / "000005.jpg").unlink()
    with pytest.raises(GantoolError, match=r"1 image\(s\) listed in list_eval_partition.txt"):
        load_dataset("celeba", root=tmp_path, split="all")


def test_celeba_missing(tmp_path):
    with pytest.raises(GantoolError, match="celeba files not found: img_align_celeba, list_eval"):
        load_dataset("celeba", root=tmp_path)


def test_real_mnist_test_digits(mnist_dir):
    data = load_dataset("mnist", root=mnist_dir, split="test")
    assert data.data.shape == (10_000, 1, 28, 28) and data.data.dtype == torch.uint8
    assert data.labels.unique().tolist() == list(range(10))
    counts = np.bincount(data.labels.numpy())
    assert counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # the well-known MNIST statistics: mean pixel about 0.13 of white, mostly black background
    assert data.data.float().mean().item() / 255 == pytest.approx(0.13, abs=0.01)
    assert (data.data == 0).float().mean().item() > 0.75
