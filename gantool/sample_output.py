"""Writing generated samples in `gantool sample`'s formats, to files or to stdout ('-').

grid -> one PNG (images) or a scatter plot (2-D points); png -> one file per image in a
directory; npz / npy -> the array (npz with 'labels' for conditional models); csv -> points.
Every file is written to a temp name and renamed (gantool.io), so an interrupted run leaves
nothing half-written; check_target refuses existing files (unless forced) and missing folders
before any work is done.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from gantool import pictures
from gantool.errors import UsageError
from gantool.io import atomic_write, save_npz

FORMATS = ("grid", "png", "npz", "npy", "csv")
DEFAULT_OUT = {"grid": "samples.png", "png": "samples", "npz": "samples.npz",
               "npy": "samples.npy", "csv": "samples.csv"}


def check_target(out: str, format: str, n: int, force: bool) -> None:
    """Refuse an unknown format, a missing parent folder, or (without force) an existing file;
    for png, the first or last file of the n that would be written."""
    if format not in FORMATS:
        raise UsageError(f"unknown --format {format!r}; use one of: {', '.join(FORMATS)}")
    if out == "-":
        if format == "png":
            raise UsageError("--format png writes a directory of files; it cannot go to stdout")
        return
    path = Path(out)
    if not path.parent.is_dir():  # like game-sim's --plot: no folders nobody asked for
        raise UsageError(f"--out: folder {str(path.parent)!r} does not exist")
    if format == "png":
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {out} exists and is not a directory")
        clash = [p for p in (path / png_name(i, n) for i in (0, n - 1)) if p.exists()]
        if clash and not force:
            raise UsageError(f"{clash[0]} exists; use --force to overwrite or another --out")
    elif path.is_dir():
        raise UsageError(f"--out {out} is a directory")
    elif path.exists() and not force:
        raise UsageError(f"{out} exists; use --force to overwrite or another --out")


def png_name(i: int, n: int) -> str:
    return f"sample-{i:0{max(6, len(str(n - 1)))}d}.png"


def write_samples(array: np.ndarray, out: str, format: str, *, columns: int | None = None,
                  grid_scale: int = 0, labels: np.ndarray | None = None,
                  modes: np.ndarray | None = None, title: str = "") -> None:
    """Write sample_array's output: uint8 (N, H, W, C) images or float32 (N, D) points."""
    stdout = out == "-"
    if format == "grid" and array.ndim == 4:
        image = pictures.grid_image(array.transpose(0, 3, 1, 2), columns, grid_scale)
        _write(out, lambda handle: pictures.to_pil(image).save(handle, format="PNG"))
    elif format == "grid":
        _scatter(array, out, modes, title)
    elif format == "png":
        directory = Path(out)
        directory.mkdir(exist_ok=True)
        for i, image in enumerate(array):
            with atomic_write(directory / png_name(i, len(array))) as handle:
                pictures.to_pil(image).save(handle, format="PNG")
    elif format == "npz":
        extra = {"labels": labels} if labels is not None else {}
        _write(out, lambda handle: save_npz(handle, data=array, **extra))
    elif format == "npy":
        _write(out, lambda handle: np.save(handle, array, allow_pickle=False))
    else:  # csv of points
        header = ",".join(f"x{i}" for i in range(array.shape[1]))
        _write(out, lambda handle: np.savetxt(handle, array, delimiter=",", header=header,
                                              comments="", fmt="%.6g"))
    if stdout:
        sys.stdout.buffer.flush()


def _write(out: str, save) -> None:
    """save(handle) into `out` atomically, or straight to stdout for '-'."""
    if out == "-":
        save(sys.stdout.buffer)
        return
    with atomic_write(out) as handle:
        save(handle)


def _scatter(points: np.ndarray, out: str, modes, title: str) -> None:
    """A scatter plot over the real modes; matplotlib writes files, so stdout gets the bytes
    of one rendered in a temporary directory."""
    import tempfile

    if out != "-":
        pictures.save_scatter(points, out, modes=modes, title=title)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scatter.png"
        pictures.save_scatter(points, path, modes=modes, title=title)
        sys.stdout.buffer.write(path.read_bytes())
