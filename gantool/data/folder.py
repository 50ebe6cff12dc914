"""Image files on disk: `folder` (any directory, recursive) and `celeba` (torchvision's layout).

Every file with an image extension Pillow knows is decoded, converted to grey or RGB, resized
(shorter side to image_size, antialiased) and center-cropped. A file that cannot be decoded is
counted and reported in one warning (stderr), never used; so is one over Pillow's pixel limit
(Image.MAX_IMAGE_PIXELS, about 89 megapixels: a decompression bomb). Sorted paths make the
order stable.

Transparency (an alpha band, or a palette / tRNS transparent colour): with 1 or 3 channels each
image is composited onto `background` before resizing, so the colour hidden under transparent
pixels (often garbage) never shows; with channels=4 alpha is kept (resized in premultiplied
alpha, as Pillow does for RGBA) and fully transparent pixels take the background colour.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch

from gantool.data.dataset import Dataset, cache_dir
from gantool.errors import GantoolError, UsageError
from gantool.io import read_arrays, write_arrays
from gantool.registry import register

CELEBA_SPLITS = {"train": 0, "valid": 1, "test": 2, "all": None}
CELEBA_SIZE = 64  # the DCGAN paper's CelebA size


def image_files(directory: Path) -> list[Path]:
    from PIL import Image

    extensions = {ext.lower() for ext in Image.registered_extensions()}
    return sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix.lower() in extensions)


GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "F")
DEFAULT_BACKGROUND = "white"  # emoji and icons are drawn for light pages (docs/datasets.md)
ALPHA_MODES = ("LA", "RGBA")


def _open(path: Path):
    """A decoded PIL image in mode L, LA, RGB or RGBA (alpha only where the file has
    transparency), or None when the file is not a readable image."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            # Over Pillow's pixel limit it only warns (it refuses at twice the limit): a file
            # that claims ~90 megapixels is a decompression bomb or no training image either way.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Palette transparency becomes an alpha band right here; the warning Pillow gives
            # for a palette's transparency bytes asks for exactly that, so it says nothing new.
            warnings.filterwarnings("ignore", "Palette images with Transparency",
                                    UserWarning)
            with Image.open(path) as image:
                image.load()
                grey = image.mode in GREY_MODES
                if image.has_transparency_data:
                    return image.convert("LA" if grey else "RGBA")
                return image.convert("L" if grey else "RGB")
    except Exception:  # Pillow's decoders raise many kinds of errors on crafted files
        return None


def is_transparent(image) -> bool:
    """Whether any pixel of an L/LA/RGB/RGBA image is less than opaque."""
    return image.mode in ALPHA_MODES and image.getchannel("A").getextrema()[0] < 255


def _flatten(image, background: tuple[int, int, int]):
    """An LA/RGBA image composited onto an opaque background (RGB)."""
    from PIL import Image

    base = Image.new("RGBA", image.size, (*background, 255))
    return Image.alpha_composite(base, image.convert("RGBA")).convert("RGB")


def _clear_hidden(pixels: np.ndarray, background: tuple[int, int, int]) -> np.ndarray:
    """RGBA (H, W, 4): fully transparent pixels take the background's colour, so the model is
    not asked to learn what nobody sees."""
    pixels = pixels.copy()
    pixels[pixels[..., 3] == 0, :3] = background
    return pixels


def _fit(image, size: int):
    """Resize the shorter side to `size`, then center-crop to size x size."""
    from PIL import Image

    width, height = image.size
    scale = size / min(width, height)
    if scale != 1:
        new = (max(size, round(width * scale)), max(size, round(height * scale)))
        image = image.resize(new, Image.Resampling.BICUBIC, reducing_gap=3.0)
        width, height = new
    left, top = (width - size) // 2, (height - size) // 2
    return image.crop((left, top, left + size, top + size))


def read_images(
    paths: list[Path], image_size: int | None, channels: int | None, what: str,
    background: tuple[int, int, int] = (255, 255, 255),
) -> tuple[torch.Tensor, int]:
    """uint8 (N, C, S, S) from image files, and how many had transparency; unreadable ones are
    skipped and reported.

    Each image is fitted as soon as it is decoded, so memory holds only the output.
    S defaults to the first readable image's shorter side; C to 3 when any image is in
    colour, else 1; C 4 keeps alpha (RGBA), else transparency is composited onto background.
    """
    fitted, bad, any_colour, transparent = [], [], False, 0
    size = image_size
    for path in paths:
        image = _open(path)
        if image is None:
            bad.append(path)
            continue
        size = size or min(image.size)
        grey = image.mode in ("L", "LA")
        any_colour |= not grey
        transparent += is_transparent(image)
        if channels == 4:
            fitted.append(_clear_hidden(np.asarray(_fit(image.convert("RGBA"), size)),
                                        background))
            continue
        if image.mode in ALPHA_MODES:
            image = _flatten(image, background)  # before resizing: no hidden colour at edges
        mode = "L" if channels == 1 or (channels is None and grey) else "RGB"
        fitted.append(np.asarray(_fit(image.convert(mode), size)))
    if bad:
        shown = ", ".join(str(p) for p in bad[:3]) + (" ..." if len(bad) > 3 else "")
        warnings.warn(f"{what}: skipped {len(bad)} unreadable image(s): {shown}", stacklevel=3)
    if not fitted:
        raise GantoolError(f"{what}: none of the {len(paths)} image file(s) could be read")
    channels = channels or (3 if any_colour else 1)
    out = np.empty((len(fitted), channels, size, size), dtype=np.uint8)
    for i, pixels in enumerate(fitted):
        if pixels.ndim == 2:  # grey: broadcast to every channel
            out[i] = pixels[None]
        else:
            out[i] = pixels.transpose(2, 0, 1)
    return torch.from_numpy(out), transparent


def background_rgb(background: str | None) -> tuple[int, int, int]:
    """--background (a colour name Pillow knows, or #rrggbb) -> (r, g, b); None: the default."""
    from gantool.pictures import parse_colour

    return parse_colour(DEFAULT_BACKGROUND if background is None else background,
                        "--background")


@register("dataset", "folder", "every image under a directory (recursive), resized and cropped")
def folder(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    background: str = DEFAULT_BACKGROUND,
) -> Dataset:
    """`root`: the directory. image_size defaults to the first image's shorter side; channels
    to 3 when any image is in colour, else 1 (4: RGBA, alpha kept). Transparent pixels are
    composited onto `background` (a colour name or #rrggbb)."""
    rgb = background_rgb(background)
    if root is None:
        raise UsageError("dataset 'folder' needs a directory: --data-root DIR")
    directory = Path(root).expanduser()
    if not directory.is_dir():
        raise GantoolError(f"image folder not found: {directory}")
    paths = image_files(directory)
    if not paths:
        raise GantoolError(f"no image files in {directory} (searched recursively)")
    images, transparent = read_images(paths, image_size, channels, str(directory), rgb)
    dataset = Dataset(images, name="folder")
    dataset.transparent, dataset.background = transparent, background
    # What training's first log line says about the data (gantool.train.loop).
    kept = "alpha kept as a 4th channel" if channels == 4 else f"composited on {background}"
    dataset.note = f"; {transparent} with transparency {kept}" if transparent else ""
    return dataset


@register("dataset", "celeba", "CelebA aligned faces via torchvision's layout (64x64 RGB default)")
def celeba(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    split: str = "train",
) -> Dataset:
    """Reads <root>/celeba/img_align_celeba/*.jpg, filtered by list_eval_partition.txt."""
    from gantool.data.torchvision_sets import default_root

    if split not in CELEBA_SPLITS:
        raise UsageError(f"split must be one of {', '.join(CELEBA_SPLITS)}, got {split!r}")
    base = default_root(root) / "celeba"
    images_dir, partition = base / "img_align_celeba", base / "list_eval_partition.txt"
    if download and not (images_dir.is_dir() and partition.is_file()):
        _download_celeba(default_root(root))
    missing = [p for p in (images_dir, partition) if not p.exists()]
    if missing:
        raise GantoolError(
            f"celeba files not found: {', '.join(p.name for p in missing)} in {base}; "
            "pass --download to fetch them, or --data-root DIR holding celeba/"
        )
    names = _partition(partition, CELEBA_SPLITS[split])
    paths = [images_dir / name for name in names]
    absent = [p for p in paths if not p.is_file()]
    if absent:
        raise GantoolError(
            f"celeba: {len(absent)} image(s) listed in {partition.name} are missing from "
            f"{images_dir}, e.g. {absent[0].name}"
        )
    data = _cached_celeba(paths, partition, split, image_size or CELEBA_SIZE, channels)
    return Dataset(data, name="celeba")


def _cached_celeba(paths, partition: Path, split: str, size: int, channels: int | None):
    """Decoding 160k JPEGs takes minutes: keep the converted array in the cache, keyed by the
    split, size, channels and the partition file's identity (so a new copy is re-read)."""
    stat = partition.stat()
    key = f"{partition.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{split}|{size}|{channels}"
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    path = cache_dir() / f"celeba-{split}-{size}px-{digest}.npz"
    if path.is_file():
        try:
            images = read_arrays(path)["images"]
            if images.dtype == np.uint8 and images.ndim == 4 and len(images) == len(paths):
                return torch.from_numpy(images)
        except (GantoolError, KeyError):
            pass
    data, _ = read_images(paths, size, channels, "celeba")  # JPEGs: no transparency
    try:
        write_arrays(path, images=data.numpy())
    except OSError as exc:
        warnings.warn(f"could not cache celeba at {path}: {exc}", stacklevel=3)
    return data


def _partition(path: Path, split: int | None) -> list[str]:
    names = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 2 or not fields[1].isdigit():
            raise GantoolError(f"{path}:{number}: expected 'FILE SPLIT', got {line!r}")
        if split is None or int(fields[1]) == split:
            names.append(fields[0])
    if not names:
        raise GantoolError(f"{path} lists no images for this split")
    return names


def _download_celeba(root: Path) -> None:
    from torchvision.datasets import CelebA

    try:
        CelebA(str(root), split="all", target_type=[], download=True)
    except Exception as exc:  # Google Drive quota, network, corrupt zip: all one message
        raise GantoolError(f"could not download celeba into {root}: {exc}") from None
