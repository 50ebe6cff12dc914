"""The on-disk format of a prepared dataset: WebDataset tar shards plus one manifest.json.

A shard is a plain POSIX tar in WebDataset's layout: sample `000000042` is the members
`000000042.npy` (raw uint8 (C, H, W), numpy's own format, read without pickle) or
`000000042.png` / `.jpg` (encoded), and `000000042.cls` (the label as ASCII digits) when the
dataset is labelled. Any WebDataset reader, `tar`, or an object store can serve the shards.

manifest.json says what the shards hold (count, shape, classes, encoding) and, per shard, its
sample count, size and sha256; `checksum` is the sha256 of the shard digests in order, so two
prepares of the same source agree on it exactly (tar headers carry a fixed mtime and owner).
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError
from gantool.io import atomic_path, atomic_write

MANIFEST = "manifest.json"
PROGRESS = ".prepare-progress.json"  # what an unfinished prepare has written so far
FORMAT = "gantool-prepared"
VERSION = 1
ENCODINGS = {"raw": "npy", "png": "png", "jpeg": "jpg"}
JPEG_QUALITY = 95


def shard_name(index: int) -> str:
    return f"shard-{index:06d}.tar"


def encode_image(image: np.ndarray, encoding: str) -> bytes:
    """One uint8 (C, H, W) image -> the bytes of its member."""
    if encoding == "raw":
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(image), allow_pickle=False)
        return buffer.getvalue()
    from PIL import Image

    pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    buffer = io.BytesIO()
    if encoding == "png":  # L, RGB or RGBA by the channels
        Image.fromarray(pixels).save(buffer, format="PNG", compress_level=6)
    else:
        Image.fromarray(pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def decode_image(data: bytes, encoding: str, shape: tuple[int, ...]) -> np.ndarray:
    """The bytes of one member -> uint8 (C, H, W); anything else is a corrupt shard."""
    if encoding == "raw":
        image = np.load(io.BytesIO(data), allow_pickle=False)
    else:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as opened:
            image = np.asarray(opened.convert({1: "L", 3: "RGB", 4: "RGBA"}.get(shape[0], "RGB")))
        image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    if image.dtype != np.uint8 or image.shape != tuple(shape):
        raise ValueError(f"a {image.dtype} {image.shape} image where {tuple(shape)} uint8 belongs")
    return image


def write_shard(path: Path, images: np.ndarray, labels: np.ndarray | None, first: int,
                encoding: str) -> dict:
    """Write samples first.. as one shard, atomically; return its manifest entry."""
    import webdataset as wds

    ext = ENCODINGS[encoding]
    # Fixed mtime, owner and mode: the same samples give the same bytes (checksums agree).
    with atomic_path(path) as tmp, open(tmp, "wb") as handle, wds.TarWriter(
            handle, encoder=False, mtime=0, user="gantool", group="gantool") as tar:
        for i, image in enumerate(images):
            sample = {"__key__": f"{first + i:09d}", ext: encode_image(image, encoding)}
            if labels is not None:
                sample["cls"] = str(int(labels[i])).encode("ascii")
            tar.write(sample)
    return {"name": path.name, "count": len(images), "bytes": path.stat().st_size,
            "sha256": file_sha256(path)}


def read_shard(directory: Path, entry: dict,
               manifest: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """All samples of one shard: uint8 (n, C, H, W) and int64 labels (or None), in key order."""
    from webdataset.tariterators import tarfile_samples

    path = directory / entry["name"]
    if not path.is_file():
        raise GantoolError(f"shard missing: {path} (listed in {directory / MANIFEST})")
    if path.stat().st_size != entry["bytes"]:
        raise GantoolError(f"shard {path} is {path.stat().st_size} bytes, the manifest says "
                           f"{entry['bytes']}: it was changed or truncated; prepare it again")
    shape, encoding = tuple(manifest["shape"]), manifest["encoding"]
    ext, labelled = ENCODINGS[encoding], manifest["num_classes"] > 0
    images = np.empty((entry["count"], *shape), dtype=np.uint8)
    labels = np.empty(entry["count"], dtype=np.int64) if labelled else None
    # Raw members all start with the same .npy header: check it byte for byte and copy the
    # pixels, three times faster than np.load per image (which would accept the same bytes).
    header = encode_image(np.zeros(shape, np.uint8), "raw")[:-images[0].nbytes] if len(
        images) and encoding == "raw" else None
    n = 0
    try:
        for sample in tarfile_samples([{"url": str(path)}]):
            if n >= entry["count"]:
                raise ValueError("more samples than the manifest lists")
            data = sample[ext]
            if header is not None and data.startswith(header) and (
                    len(data) == len(header) + images[0].nbytes):
                images[n] = np.frombuffer(data, np.uint8, offset=len(header)).reshape(shape)
            else:
                images[n] = decode_image(data, encoding, shape)
            if labels is not None:
                labels[n] = int(sample["cls"])
            n += 1
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise GantoolError(f"shard {path} is corrupt: {exc}") from None
    if n != entry["count"]:
        raise GantoolError(f"shard {path} holds {n} samples, the manifest says {entry['count']}")
    return images, labels


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def combined_checksum(entries: list[dict]) -> str:
    return hashlib.sha256("".join(e["sha256"] for e in entries).encode()).hexdigest()


def write_manifest(directory: Path, manifest: dict) -> None:
    with atomic_write(directory / MANIFEST, "w") as handle:
        json.dump(manifest, handle, indent=1)
        handle.write("\n")


def read_manifest(directory: Path) -> dict:
    """The manifest of a prepared dataset, checked enough that readers can trust its fields."""
    path = directory / MANIFEST
    if not path.is_file():
        hint = " (an interrupted prepare: run it again to finish)" if (
            directory / PROGRESS).is_file() else ""
        raise GantoolError(f"not a prepared dataset: {path} not found{hint}; "
                           "make one with `gantool prepare SOURCE OUT`")
    try:
        manifest = json.loads(path.read_text())
        _check_manifest(manifest)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise GantoolError(f"{path} is not a valid manifest: {exc}") from None
    return manifest


def _check_manifest(m: dict) -> None:
    if m.get("format") != FORMAT or m.get("version") != VERSION:
        raise ValueError(f"format {m.get('format')!r} version {m.get('version')!r}, expected "
                         f"{FORMAT!r} version {VERSION}")
    shape = m["shape"]
    if (len(shape) != 3 or shape[0] not in (1, 3, 4)
            or not all(isinstance(s, int) and s > 0 for s in shape)):
        raise ValueError(f"shape must be [C, H, W] with C 1, 3 or 4, got {shape}")
    if m["encoding"] not in ENCODINGS:
        raise ValueError(f"unknown encoding {m['encoding']!r}")
    if not isinstance(m["num_classes"], int) or m["num_classes"] < 0:
        raise ValueError("num_classes must be a non-negative integer")
    for entry in m["shards"]:
        name = entry["name"]
        if Path(name).name != name or not name.endswith(".tar"):
            raise ValueError(f"shard name {name!r} must be a plain .tar file name")
        if not (isinstance(entry["count"], int) and entry["count"] > 0
                and isinstance(entry["bytes"], int)):
            raise ValueError(f"shard {name}: count and bytes must be positive integers")
    if sum(e["count"] for e in m["shards"]) != m["count"] or m["count"] < 1:
        raise ValueError("count does not match the shards' counts")

