"""Arrays on disk and on pipes: .npz / .npy files, '-' for stdin/stdout, atomic writes.

Files are written to a temporary file in the target's directory, fsynced and renamed over the
target, so a crash never leaves a half-written file where a good one was. Reading never unpickles
(`allow_pickle=False`): a file cannot run code. Arrays that numpy would silently cast to
something else downstream are refused: complex numbers (the imaginary part would be dropped)
and records anywhere; text too where one data array of numbers is wanted.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError, UsageError

# Keys tried, in order, when an .npz holds more than one array.
ARRAY_KEYS = ("data", "images", "samples", "x", "arr_0")
FORMATS = ("npz", "npy")
# dtype kinds (numpy's one-letter codes) and what to call them in an error.
NUMBER_KINDS = "biuf"
NEVER_KINDS = {"c": "complex", "V": "record (structured)", "O": "Python object"}
KIND_NAMES = {**NEVER_KINDS, "U": "text", "S": "bytes", "M": "date", "m": "time delta"}


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary path beside `path`. On success it gets the permissions a plain open() would
    give and replaces `path`; on failure it is removed. Readers see the old file or the new one,
    never half of one, whenever the process dies."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private (0600)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    fsync_dir(path.parent)


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator[io.IOBase]:
    """Open a file that atomically replaces `path` once written and fsynced (see atomic_path)."""
    with atomic_path(path) as tmp, open(tmp, mode) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def fsync_dir(directory: Path) -> None:
    """Make a rename durable (best effort: some platforms cannot open directories)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_array(array, path_or_dash: str | Path, format: str = "npz") -> None:
    """Write one array as .npz (key 'data') or .npy to a file (atomically) or '-' (stdout)."""
    if format not in FORMATS:
        raise UsageError(f"unknown array format {format!r}; use one of: {', '.join(FORMATS)}")
    array = np.asarray(array)
    if str(path_or_dash) == "-":
        # Straight to the pipe (zipfile copes with unseekable streams): no second copy in memory.
        _save(sys.stdout.buffer, array, format)
        sys.stdout.buffer.flush()
        return
    with atomic_write(path_or_dash) as handle:
        _save(handle, array, format)


def write_arrays(path: str | Path, **arrays) -> None:
    """Write several named arrays into one .npz file atomically (used for caches)."""
    with atomic_write(path) as handle:
        np.savez(handle, **{k: np.asarray(v) for k, v in arrays.items()})


def _save(handle, array: np.ndarray, format: str) -> None:
    if format == "npz":
        np.savez(handle, data=array)
    else:
        np.save(handle, array, allow_pickle=False)


def read_array(path_or_dash: str | Path) -> np.ndarray:
    """Read one array from an .npz or .npy file, or from stdin with '-'.

    An .npz with several arrays must hold one of the keys data, images, samples, x or arr_0.
    The array must hold real numbers (see check_numbers).
    """
    name = "stdin" if str(path_or_dash) == "-" else str(path_or_dash)
    if name == "stdin":
        raw = sys.stdin.buffer.read()
        if not raw:
            raise UsageError("no array on stdin (expected .npz or .npy bytes)")
    else:
        path = Path(path_or_dash)
        if not path.is_file():
            raise GantoolError(f"array file not found: {path}")
        raw = path  # np.load reads the file itself: no extra copy of its bytes
    return check_numbers(_parse(raw, name), name)


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an .npz file by name; a corrupt file raises GantoolError, a complex,
    record or object array a UsageError (text is kept: caches store names as text)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise GantoolError(f"file not found: {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise GantoolError(f"{path} is not a readable .npz file ({exc})") from None
    for key, array in arrays.items():
        if array.dtype.kind in NEVER_KINDS:
            check_numbers(array, f"{path}: array {key!r}")
    return arrays


def check_numbers(array: np.ndarray, what: str) -> np.ndarray:
    """`array` if it holds real numbers (bool, int or float); else one UsageError naming it."""
    kind = array.dtype.kind
    if kind not in NUMBER_KINDS:
        raise UsageError(
            f"{what} holds {KIND_NAMES.get(kind, 'non-numeric')} values (dtype {array.dtype}); "
            "only real numbers are read"
        )
    return array


def _parse(raw: bytes | Path, name: str) -> np.ndarray:
    """The array in `raw` (bytes from a pipe, or a file path), told apart by its magic bytes."""
    if isinstance(raw, Path):
        with open(raw, "rb") as handle:
            magic = handle.read(6)
        source = raw
    else:
        magic, source = raw[:6], io.BytesIO(raw)
    if magic.startswith(b"PK"):
        try:
            with np.load(source, allow_pickle=False) as archive:
                return _pick(archive, name)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise GantoolError(f"{name} is not a readable .npz file ({exc})") from None
    if magic == b"\x93NUMPY":
        try:
            return np.load(source, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise GantoolError(f"{name} is not a readable .npy file ({exc})") from None
    raise GantoolError(f"{name} is neither an .npz nor an .npy file")


def _pick(archive, name: str) -> np.ndarray:
    files = archive.files
    if len(files) == 1:
        return archive[files[0]]
    for key in ARRAY_KEYS:
        if key in files:
            return archive[key]
    if not files:
        raise GantoolError(f"{name} holds no arrays")
    raise UsageError(
        f"{name} holds several arrays ({', '.join(files)}); name one of them "
        f"{', '.join(ARRAY_KEYS)}"
    )


def save_npz(handle, **arrays: np.ndarray) -> None:
    """Write arrays as an uncompressed .npz (what np.load reads) without copying them.

    np.savez stages each array through 16 MiB byte strings; here the .npy header and then
    1 MiB views of the array's own memory go straight into the zip member, so writing 50,000
    images needs no memory beyond the array. Works on unseekable streams (stdout) too.
    """
    from numpy.lib import format as npy_format

    with zipfile.ZipFile(handle, mode="w", compression=zipfile.ZIP_STORED,
                         allowZip64=True) as archive:
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                npy_format.write_array_header_1_0(
                    member, npy_format.header_data_from_array_1_0(array))
                raw = memoryview(array.reshape(-1).view(np.uint8))
                step = 1 << 20
                for start in range(0, len(raw), step):
                    member.write(raw[start:start + step])
