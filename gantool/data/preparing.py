"""`prepare`: any image dataset gantool reads -> WebDataset shards + manifest (see shards.py).

Resumable: after each shard is written (atomically) its entry goes into OUT/.prepare-progress.json;
a rerun with the same source and options checks the finished shards' sha256 and writes only the
rest, so an interrupted prepare ends with the same bytes and checksum as an uninterrupted one.
The manifest is written last: a directory with a manifest is complete.

A folder is read one shard of files at a time (bounded memory); arrays and torchvision sets are
read by their own loaders, which hold them in memory (they are in-memory formats already).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gantool.data import shards
from gantool.errors import GantoolError, UsageError
from gantool.io import atomic_write

DEFAULT_SHARD_SAMPLES = 1000
MAX_SHARD_BYTES = 64 << 20  # raw pixels per shard: big images get fewer samples per shard
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


class Source:
    """What to prepare: its geometry, labels, and its samples one shard at a time."""

    def __init__(self, describe: dict, shape: tuple[int, int, int], num_classes: int,
                 count_hint: int, chunk: Callable[[int, int], tuple]):
        self.describe, self.shape, self.num_classes = describe, shape, num_classes
        self.count_hint = count_hint  # items to read (files or samples)
        self.chunk = chunk  # (start, stop) -> (uint8 (n, C, H, W), labels or None)


def open_source(source: str, *, data_root=None, image_size=None, channels=None,
                download=False, background=None) -> Source:
    """A directory is a folder of images, a file an array, anything else a dataset name.
    `background`: an image folder's transparency is composited onto it (folder.py)."""
    if channels not in (None, 1, 3, 4):
        raise UsageError(f"--channels must be 1, 3 or 4, got {channels}")
    path = Path(source).expanduser()
    if path.is_dir():
        return _folder_source(path, image_size, channels, background)
    from gantool.data import load_dataset

    if path.is_file():
        dataset = load_dataset("array", root=str(path), image_size=image_size,
                               channels=channels, background=background)
        describe = {"dataset": "array", "path": str(path.resolve())}
    else:
        if source == "prepared":
            raise UsageError("the source is already a prepared dataset; name another source")
        dataset = load_dataset(source, root=data_root, image_size=image_size,
                               channels=channels, download=download, background=background)
        describe = {"dataset": source, "data_root": str(data_root) if data_root else None}
    if not dataset.is_image:
        raise UsageError(f"{source}: prepare is for images; {dataset.name!r} is 2-D points, "
                         "which train from memory")
    data = dataset.data.numpy()
    labels = dataset.labels.numpy() if dataset.labels is not None else None
    return Source(describe, tuple(dataset.sample_shape), dataset.num_classes, len(data),
                  lambda a, b: (data[a:b], None if labels is None else labels[a:b]))


def _folder_source(directory: Path, image_size, channels, background) -> Source:
    from gantool.data.folder import DEFAULT_BACKGROUND, background_rgb, image_files, read_images

    background = background or DEFAULT_BACKGROUND
    rgb = background_rgb(background)  # a bad colour fails before OUT is created
    paths = image_files(directory)
    if not paths:
        raise GantoolError(f"no image files in {directory} (searched recursively)")
    # read_images picks size and channels per call; fix them once for all shards, as the
    # folder dataset would for the whole folder (first readable image's size, RGB if any is).
    size, any_colour = _scan(paths)
    if size is None:
        raise GantoolError(f"{directory}: none of the {len(paths)} image file(s) could be read")
    size, channels = image_size or size, channels or (3 if any_colour else 1)

    def chunk(start: int, stop: int):
        try:
            images, _ = read_images(paths[start:stop], size, channels, str(directory), rgb)
            return images.numpy(), None
        except GantoolError:  # every file of this chunk unreadable (already warned): no samples
            return np.empty((0, channels, size, size), np.uint8), None

    # The resume key and the manifest's source: a rerun with another background or channels
    # is another prepare, never a mix of both in one directory.
    describe = {"dataset": "folder", "path": str(directory.resolve()), "files": len(paths),
                "image_size": size, "channels": channels, "background": background}
    return Source(describe, (channels, size, size), 0, len(paths), chunk)


def _scan(paths: list[Path]) -> tuple[int | None, bool]:
    """The first readable image's shorter side and whether any image is in colour (headers
    only: nothing is decoded)."""
    from PIL import Image

    size, colour = None, False
    for path in paths:
        try:
            with Image.open(path) as image:
                size = size or min(image.size)
                colour |= image.mode not in GREY_MODES
        except (OSError, ValueError, Image.DecompressionBombError, SyntaxError):
            continue
    return size, colour


def prepare(source: Source, out: Path, *, encoding: str = "raw", shard_size: int | None = None,
            force: bool = False, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write `source` into `out` as shards + manifest; returns the manifest."""
    if encoding not in shards.ENCODINGS:
        raise UsageError(f"unknown encoding {encoding!r}; use one of: "
                         f"{', '.join(shards.ENCODINGS)}")
    if shard_size is not None and shard_size < 1:
        raise UsageError(f"--shard-size must be a positive integer, got {shard_size}")
    if encoding == "jpeg" and source.shape[0] == 4:
        raise UsageError("--encoding jpeg has no alpha channel; RGBA images (--channels 4) "
                         "use raw or png")
    sample_bytes = int(np.prod(source.shape))
    per_shard = shard_size or max(1, min(DEFAULT_SHARD_SAMPLES, MAX_SHARD_BYTES // sample_bytes))
    key = {**source.describe, "shape": list(source.shape), "encoding": encoding,
           "shard_size": per_shard}
    done = _claim(out, key, force)
    entries = []
    chunks = range(0, source.count_hint, per_shard)
    for index, start in enumerate(chunks):
        entry = done.get(index)
        if entry is None:
            images, labels = source.chunk(start, start + per_shard)
            if len(images):
                entry = shards.write_shard(out / shards.shard_name(index), images, labels,
                                           start, encoding)
                if labels is not None:
                    entry["class_counts"] = np.bincount(
                        labels, minlength=source.num_classes).tolist()
                done[index] = entry
                _save_progress(out, key, done)
        if entry is not None:
            entries.append(entry)
        if progress is not None:
            progress(index + 1, len(chunks))
    if not entries:
        raise GantoolError(f"{out}: the source gave no samples")
    manifest = {"format": shards.FORMAT, "version": shards.VERSION, "reader": "webdataset",
                "count": sum(e["count"] for e in entries), "shape": list(source.shape),
                "num_classes": source.num_classes, "encoding": encoding,
                "class_counts": (np.sum([e["class_counts"] for e in entries], axis=0).tolist()
                                 if source.num_classes else None),
                "checksum": shards.combined_checksum(entries), "source": source.describe,
                "shard_size": per_shard, "shards": entries}
    shards.write_manifest(out, manifest)
    (out / shards.PROGRESS).unlink(missing_ok=True)
    return manifest


def _claim(out: Path, key: dict, force: bool) -> dict[int, dict]:
    """Make `out` ours to write; return the shards an interrupted prepare already finished."""
    if out.exists() and not out.is_dir():
        raise GantoolError(f"{out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    if force:
        _remove_ours(out)
        return {}
    if (out / shards.MANIFEST).exists():
        raise GantoolError(f"{out} already holds a prepared dataset; pass --force to replace it")
    progress = out / shards.PROGRESS
    if not progress.exists():
        if any(out.iterdir()):
            raise GantoolError(f"{out} is not empty; name a new directory or pass --force")
        return {}
    try:
        saved = json.loads(progress.read_text())
        same = saved["key"] == key
        done = {int(i): e for i, e in saved["done"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        raise GantoolError(f"{progress} is corrupt; pass --force to start again") from None
    if not same:
        raise GantoolError(f"{out} holds an interrupted prepare of another source or other "
                           "options; rerun it as before, or pass --force to start again")
    _remove_temps(out)
    # A shard is kept only if it is still exactly what was written (else it is rewritten).
    return {i: e for i, e in done.items() if _intact(out, e)}


def _intact(out: Path, entry: dict) -> bool:
    path = out / str(entry.get("name", ""))
    return (path.is_file() and path.parent == out
            and shards.file_sha256(path) == entry.get("sha256"))


def _save_progress(out: Path, key: dict, done: dict[int, dict]) -> None:
    with atomic_write(out / shards.PROGRESS, "w") as handle:
        json.dump({"key": key, "done": {str(i): e for i, e in sorted(done.items())}}, handle)


def _remove_temps(out: Path) -> None:
    """The temp files of atomic writes a killed prepare left: its shards' and its progress
    file's (a kill while the progress file was being replaced leaves one of those too)."""
    for pattern in (".shard-*.tar.*.tmp", f".{shards.PROGRESS}.*.tmp"):
        for temp in out.glob(pattern):
            temp.unlink(missing_ok=True)


def _remove_ours(out: Path) -> None:
    """--force: remove what a prepare writes (shards, manifest, progress), nothing else."""
    _remove_temps(out)
    for path in [*out.glob("shard-*.tar"), out / shards.MANIFEST, out / shards.PROGRESS]:
        path.unlink(missing_ok=True)

