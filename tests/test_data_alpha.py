"""Transparency in image folders: alpha composited onto --background, or kept with --channels 4.

Each test writes its own small PNGs whose fully transparent pixels hide a garbage colour (red),
the way real icon and emoji files do, so a loader that drops alpha shows it.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gantool.data import load_dataset
from gantool.errors import GantoolError, UsageError

HIDDEN = (255, 0, 0)  # the colour transparent pixels hold in the files (nobody sees it)
GREEN = (0, 128, 0)  # the opaque shape
SIZE = 16
EMOJI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "emoji-noto-64"


def _shape_mask() -> np.ndarray:
    """An opaque 8x8 square in the middle of a transparent 16x16 image."""
    mask = np.zeros((SIZE, SIZE), bool)
    mask[4:12, 4:12] = True
    return mask


def write_rgba(path: Path) -> None:
    pixels = np.zeros((SIZE, SIZE, 4), np.uint8)
    pixels[..., :3] = HIDDEN
    pixels[_shape_mask()] = (*GREEN, 255)
    Image.fromarray(pixels, "RGBA").save(path)


def write_palette(path: Path) -> None:
    """Mode P with a tRNS chunk of per-entry alphas (bytes): the file Pillow warns about. The
    third entry (half transparent, unused) keeps Pillow from storing one transparent index."""
    image = Image.fromarray(_shape_mask().astype(np.uint8), "P")
    image.putpalette([*HIDDEN, *GREEN, 0, 0, 255] + [0] * 759)
    image.save(path, transparency=bytes([0, 255, 128]))


def write_grey_alpha(path: Path) -> None:
    pixels = np.zeros((SIZE, SIZE, 2), np.uint8)
    pixels[..., 0] = 37  # a hidden grey
    pixels[_shape_mask()] = (100, 255)
    Image.fromarray(pixels, "LA").save(path)


@pytest.fixture
def alpha_dir(tmp_path) -> Path:
    """a.png RGBA, b.png palette with tRNS, c.png grey + alpha: each a transparent background
    hiding a garbage colour around an opaque square."""
    root = tmp_path / "icons"
    root.mkdir()
    write_rgba(root / "a.png")
    write_palette(root / "b.png")
    write_grey_alpha(root / "c.png")
    return root


def _corners(images: np.ndarray) -> np.ndarray:
    """(N, C, 4) the four corner pixels of each image."""
    return images[:, :, [0, 0, -1, -1], [0, -1, 0, -1]]


@pytest.mark.parametrize(("background", "rgb"), [("white", (255, 255, 255)),
                                                 ("black", (0, 0, 0)),
                                                 ("#102030", (16, 32, 48))])
def test_transparent_pixels_take_the_background(alpha_dir, background, rgb):
    data = load_dataset("folder", root=alpha_dir, channels=3, background=background).data
    images = data.numpy()
    assert images.shape == (3, 3, SIZE, SIZE)
    assert (_corners(images) == np.array(rgb)[None, :, None]).all()
    centre = images[:, :, SIZE // 2, SIZE // 2]
    assert centre[:2].tolist() == [list(GREEN)] * 2  # RGBA and palette
    assert centre[2].tolist() == [100] * 3  # grey + alpha


def test_default_background_is_white_in_grey_too(alpha_dir):
    grey = load_dataset("folder", root=alpha_dir, channels=1).data.numpy()
    assert grey.shape == (3, 1, SIZE, SIZE)
    assert (_corners(grey) == 255).all()
    assert grey[2, 0, SIZE // 2, SIZE // 2] == 100


def test_resizing_drags_no_hidden_colour_into_edges(alpha_dir):
    """Downscaled to 6 px (bicubic), edge pixels blend green and white only: R == B there.
    The hidden red would make R > B."""
    images = load_dataset("folder", root=alpha_dir, channels=3, image_size=6).data.numpy()
    red, blue = images[:2, 0].astype(int), images[:2, 2].astype(int)
    assert np.abs(red - blue).max() <= 1


def test_channels_4_keeps_alpha(alpha_dir):
    data = load_dataset("folder", root=alpha_dir, channels=4, background="black")
    images = data.data.numpy()
    assert data.sample_shape == (4, SIZE, SIZE)
    mask = _shape_mask()
    assert (images[:, 3][:, mask] == 255).all() and (images[:, 3][:, ~mask] == 0).all()
    # the hidden colour is not kept where nobody sees it: fully transparent pixels take the
    # background, so G is not asked to learn garbage
    assert (images[:, :3][:, :, ~mask] == 0).all()
    assert images[0, :3, 8, 8].tolist() == list(GREEN)
    assert images[2, :3, 8, 8].tolist() == [100] * 3  # grey + alpha as RGBA


def test_channels_4_resizes_in_premultiplied_alpha(alpha_dir):
    images = load_dataset("folder", root=alpha_dir, channels=4, image_size=6).data.numpy()
    seen = images[:2, 3] > 0
    red, blue = images[:2, 0].astype(int), images[:2, 2].astype(int)
    assert np.abs(red - blue)[seen].max() <= 1  # no red bled into the half-transparent edge


def test_no_pillow_palette_warning(alpha_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_dataset("folder", root=alpha_dir, channels=3)


def test_bad_background_is_a_usage_error(alpha_dir):
    with pytest.raises(UsageError, match="--background 'nocolour'"):
        load_dataset("folder", root=alpha_dir, background="nocolour")


def test_opaque_folder_is_unchanged_by_background(tmp_path):
    root = tmp_path / "opaque"
    root.mkdir()
    Image.fromarray(np.full((SIZE, SIZE, 3), 77, np.uint8), "RGB").save(root / "x.png")
    for background in ("white", "black"):
        data = load_dataset("folder", root=root, background=background)
        assert (data.data.numpy() == 77).all()
        assert data.transparent == 0


def test_the_dataset_counts_images_with_transparency(alpha_dir):
    opaque = alpha_dir / "opaque.png"
    Image.fromarray(np.full((SIZE, SIZE, 4), 255, np.uint8), "RGBA").save(opaque)  # alpha all 255
    data = load_dataset("folder", root=alpha_dir, background="black")
    assert data.transparent == 3
    assert data.background == "black"


def test_channels_4_elsewhere(alpha_dir):
    from gantool.data.convert import to_channels

    rgba = load_dataset("folder", root=alpha_dir, channels=4).data
    with pytest.raises(UsageError, match="alpha"):
        to_channels(rgba, 3)
    digits = load_dataset("array", root=str(_digits_file(alpha_dir.parent)), channels=4).data
    assert digits.shape[1] == 4 and (digits[:, 3] == 255).all()  # opaque alpha added
    assert (digits[:, 0] == digits[:, 2]).all()


def _digits_file(directory: Path) -> Path:
    path = directory / "grey.npy"
    np.save(path, np.random.default_rng(0).integers(0, 256, (5, 8, 8), dtype=np.uint8))
    return path


# --- pictures and sample output ---------------------------------------------------------

def test_rgba_grid_is_drawn_over_a_checkerboard():
    from gantool import pictures

    images = np.zeros((1, 4, 16, 16), np.uint8)  # fully transparent
    images[0, :, 4:12, 4:12] = np.array([0, 128, 0, 255])[:, None, None]
    grid = pictures.grid_image(images, scale=1)
    assert grid.shape[2] == 3  # drawn, so any viewer shows it the same
    inside = grid[2:18, 2:18]
    assert inside[8, 8].tolist() == list(GREEN)
    checker = inside[:4, :].reshape(-1, 3)
    assert len({tuple(p) for p in checker}) == 2  # two greys alternate where it is transparent


def test_png_samples_of_rgba_are_rgba(tmp_path):
    from gantool.sample_output import write_samples

    array = np.zeros((2, 8, 8, 4), np.uint8)
    array[..., 3] = 128
    write_samples(array, str(tmp_path / "out"), "png")
    with Image.open(tmp_path / "out" / "sample-000000.png") as image:
        assert image.mode == "RGBA"
        assert np.asarray(image)[..., 3].max() == 128


# --- the commands: the real CLI (cli), or its main() in this process (cli_here) -----------

def _train(cli, alpha_dir: Path, runs: Path, *extra: str):
    return cli("train", "--dataset", "folder", "--data-root", str(alpha_dir), "--steps", "1",
               "--batch-size", "2", "--image-size", "32", "--runs-root", str(runs),
               "--name", "r", "--no-tensorboard",
               "--sample-every", "1", "--checkpoint-every", "1", *extra)


def test_train_on_transparent_folder_says_background_and_no_pillow_warning(cli, alpha_dir,
                                                                          tmp_path):
    result = _train(cli, alpha_dir, tmp_path / "runs", "--background", "black")
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Palette images" not in stderr and "Warning" not in stderr, stderr
    assert "3 with transparency composited on black" in stderr
    config = json.loads((tmp_path / "runs" / "r" / "config.json").read_text())
    assert config["options"]["background"] == "black"


def test_train_and_sample_rgba(cli_here, alpha_dir, tmp_path):
    result = _train(cli_here, alpha_dir, tmp_path / "runs", "--channels", "4")
    assert result.returncode == 0, result.stderr.decode()
    assert "alpha kept as a 4th channel" in result.stderr.decode()
    run = tmp_path / "runs" / "r"
    with Image.open(sorted((run / "samples").glob("*.png"))[-1]) as grid:
        assert grid.mode == "RGB"  # drawn over a checkerboard
    out = tmp_path / "pngs"
    sampled = cli_here("sample", "--run", str(run), "--format", "png", "--n", "2", "--out",
                       str(out))
    assert sampled.returncode == 0, sampled.stderr.decode()
    with Image.open(out / "sample-000000.png") as image:
        assert image.mode == "RGBA"
    refused = cli_here("evaluate", "--run", str(run), "--n", "20")
    lines = refused.stderr.decode().strip().splitlines()
    assert refused.returncode == 2 and len(lines) == 1
    assert lines[0].startswith("Error: ") and "4 channels" in lines[0]


@pytest.mark.parametrize("command", ["train", "prepare"])
def test_bad_background_one_error_line(cli_here, alpha_dir, tmp_path, command):
    if command == "train":
        result = _train(cli_here, alpha_dir, tmp_path / "runs", "--background", "nocolour")
    else:
        result = cli_here("prepare", str(alpha_dir), str(tmp_path / "out"), "--background",
                     "nocolour")
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "nocolour" in lines[0]
    assert not (tmp_path / "runs").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize(("channels", "encoding"), [("3", "raw"), ("4", "png")])
def test_prepare_gives_the_same_pixels(cli_here, alpha_dir, tmp_path, channels, encoding):
    from gantool.data.shards import read_manifest, read_shard

    out = tmp_path / "shards"
    result = cli_here("prepare", str(alpha_dir), str(out), "--background", "black",
                      "--channels", channels, "--encoding", encoding)
    stderr = result.stderr.decode()
    assert result.returncode == 0, stderr
    assert "Palette images" not in stderr and "Warning" not in stderr
    manifest = read_manifest(out)
    assert manifest["source"]["background"] == "black"
    prepared = np.concatenate([read_shard(out, e, manifest)[0] for e in manifest["shards"]])
    expected = load_dataset("folder", root=alpha_dir, channels=int(channels),
                            background="black").data.numpy()
    np.testing.assert_array_equal(prepared, expected)
    streamed = load_dataset("prepared", root=str(out))
    assert streamed.sample_shape == (int(channels), SIZE, SIZE)


def test_prepare_background_is_part_of_the_resume_key(alpha_dir, tmp_path):
    from gantool.data.preparing import open_source, prepare

    out = tmp_path / "shards"

    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(open_source(str(alpha_dir), background="white"), out, shard_size=1,
                progress=stop)
    with pytest.raises(GantoolError, match="another source or other options"):
        prepare(open_source(str(alpha_dir), background="black"), out, shard_size=1)


def test_prepare_refuses_jpeg_with_alpha(alpha_dir, tmp_path):
    from gantool.data.preparing import open_source, prepare

    with pytest.raises(UsageError, match="jpeg"):
        prepare(open_source(str(alpha_dir), channels=4), tmp_path / "out", encoding="jpeg")
    assert not (tmp_path / "out").exists()


# --- the real emoji folder ---------------------------------------------------------------

def test_emoji_corners_take_the_background():
    folder = EMOJI / "activities"
    if not folder.is_dir():
        pytest.skip(f"emoji folder not found: {folder}")
    paths = sorted(folder.glob("*.png"))
    data = load_dataset("folder", root=folder, background="#204060").data.numpy()
    assert data.shape == (len(paths), 3, 64, 64)
    checked = 0
    for path, image in zip(paths, data):
        with Image.open(path) as source:
            alpha = np.asarray(source.convert("RGBA"))[..., 3]
        clear = alpha == 0
        checked += clear.sum()
        assert (image[:, clear] == np.array([32, 64, 96])[:, None]).all(), path.name
    assert checked > 0


def test_diff_augment_changes_the_colour_of_rgb_only():
    """DiffAugment's brightness, saturation and contrast are colour changes: on RGBA they act on
    RGB exactly as on an RGB image, and alpha (the shape) passes through."""
    import torch

    from gantool.train.augment import BatchDraws, _color

    x = torch.rand(3, 4, 8, 8) * 2 - 1
    rgba = _color(x, BatchDraws.of(torch.Generator().manual_seed(1), 3))
    rgb = _color(x[:, :3], BatchDraws.of(torch.Generator().manual_seed(1), 3))
    assert torch.equal(rgba[:, 3], x[:, 3])
    assert torch.equal(rgba[:, :3], rgb)
