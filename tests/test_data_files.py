"""`folder` and `array` datasets on files the tests write."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data import load_dataset
from gantool.errors import GantoolError, UsageError


def write_image(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode).save(path)


@pytest.fixture
def image_dir(tmp_path):
    """A nested folder: 2 grey PNGs, 1 RGB JPEG (non-square), 1 corrupt PNG, 1 text file."""
    root = tmp_path / "images"
    write_image(root / "a.png", np.full((20, 20), 10, np.uint8))
    write_image(root / "sub" / "b.png", np.full((40, 40), 250, np.uint8))
    rgb = np.zeros((30, 50, 3), np.uint8)
    rgb[..., 0] = 200
    write_image(root / "sub" / "deeper" / "c.jpg", rgb)
    (root / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    (root / "notes.txt").write_text("not an image")
    return root


def test_folder_reads_recursively_and_reports_unreadable(image_dir):
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image\(s\): .*broken.png"):
        data = load_dataset("folder", root=image_dir, image_size=16)
    assert data.data.shape == (3, 3, 16, 16)  # any colour image -> 3 channels
    assert data.labels is None and data.num_classes == 0
    # sorted order: a.png, sub/b.png, sub/deeper/c.jpg
    assert data.data[0].float().mean() == pytest.approx(10, abs=1)
    assert data.data[1].float().mean() == pytest.approx(250, abs=1)
    red = data.data[2].float().mean(dim=(1, 2))
    assert red[0] > 180 and red[1] < 20 and red[2] < 20


def test_folder_channels_and_default_size(image_dir):
    with pytest.warns(UserWarning):
        grey = load_dataset("folder", root=image_dir, channels=1)
    assert grey.sample_shape == (1, 20, 20)  # the first image's shorter side
    assert grey.data[2].float().mean() == pytest.approx(0.299 * 200, abs=2)
    only_grey = image_dir.parent / "grey"
    write_image(only_grey / "x.png", np.zeros((8, 8), np.uint8))
    assert load_dataset("folder", root=only_grey).sample_shape == (1, 8, 8)


def test_folder_errors(tmp_path):
    with pytest.raises(UsageError, match="needs a directory"):
        load_dataset("folder")
    with pytest.raises(GantoolError, match="image folder not found"):
        load_dataset("folder", root=tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GantoolError, match="no image files"):
        load_dataset("folder", root=tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"nope")
    with pytest.raises(GantoolError, match="none of the 1 image file"), pytest.warns(UserWarning):
        load_dataset("folder", root=tmp_path / "bad")


LAYOUTS = {
    "NHW": lambda a: a[:, 0],
    "NHWC": lambda a: a.transpose(0, 2, 3, 1),
    "NCHW": lambda a: a,
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    ("encode", "tolerance"),
    [
        (lambda u: u, 0),
        (lambda u: u.astype(np.int64), 0),
        (lambda u: (u / 255.0).astype(np.float32), 0),
        (lambda u: u / 127.5 - 1.0, 0),
    ],
)
def test_array_layouts_and_value_ranges(tmp_path, layout, encode, tolerance):
    rng = np.random.default_rng(0)
    channels = 1 if layout == "NHW" else 3
    pixels = rng.integers(0, 256, size=(5, channels, 6, 6), dtype=np.uint8)
    pixels[0, 0, 0, 0], pixels[0, 0, 0, 1] = 0, 255  # the full range is present
    path = tmp_path / "images.npy"
    np.save(path, encode(LAYOUTS[layout](pixels)))
    data = load_dataset("array", root=path)
    assert data.data.dtype == torch.uint8 and data.sample_shape == (channels, 6, 6)
    assert (data.data.numpy().astype(int) - pixels).__abs__().max() <= tolerance


def test_array_npz_with_labels_and_conversion(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, images=np.zeros((4, 28, 28), np.uint8), labels=np.array([0, 1, 2, 1]))
    data = load_dataset("array", root=path, image_size=32, channels=3)
    assert data.sample_shape == (3, 32, 32) and data.num_classes == 3
    assert data.labels.tolist() == [0, 1, 2, 1]


def test_array_points(tmp_path):
    path = tmp_path / "p.npy"
    np.save(path, np.array([[0.5, -3.0], [1.0, 2.0]]))
    data = load_dataset("array", root=path)
    assert not data.is_image and data.data.dtype == torch.float32
    assert data.data.tolist() == [[0.5, -3.0], [1.0, 2.0]]


@pytest.mark.parametrize(
    ("array", "error", "message"),
    [
        (np.full((2, 4, 4), np.nan, np.float32), UsageError, "NaN or infinite"),
        (np.array([[1.0, np.inf]]), UsageError, "finite"),
        (np.full((2, 4, 4), 3.0), UsageError, r"\[0, 1\] or \[-1, 1\]"),
        (np.full((2, 4, 4), 300), UsageError, "0..255"),
        (np.zeros((2, 5, 4, 4), np.uint8), UsageError, "1 or 3 channels"),
        (np.zeros((2,), np.uint8), UsageError, r"\(N,H,W\)"),
        (np.zeros((0, 4, 4), np.uint8), UsageError, "empty"),
        (np.zeros((2, 4, 4), bool), UsageError, "numbers"),
    ],
)
def test_array_bad_inputs(tmp_path, array, error, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(error, match=message):
        load_dataset("array", root=path)


def test_array_bad_files(tmp_path):
    with pytest.raises(UsageError, match="needs a file"):
        load_dataset("array")
    with pytest.raises(GantoolError, match="not found"):
        load_dataset("array", root=tmp_path / "missing.npz")
    corrupt = tmp_path / "c.npz"
    np.savez(corrupt, data=np.zeros((50, 4, 4)))
    corrupt.write_bytes(corrupt.read_bytes()[:100])
    with pytest.raises(GantoolError, match="not a readable"):
        load_dataset("array", root=corrupt)
    labels = tmp_path / "l.npz"
    np.savez(labels, data=np.zeros((2, 4, 4), np.uint8), labels=np.array([1.5, 2.0]))
    with pytest.raises(UsageError, match="'labels' must be 2 non-negative integers"):
        load_dataset("array", root=labels)
