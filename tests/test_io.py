"""gantool.io: .npz/.npy round trips through files and pipes, atomic writes, bad files."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from gantool.errors import GantoolError, UsageError
from gantool.io import read_array, read_arrays, write_array, write_arrays


@pytest.mark.parametrize("format", ["npz", "npy"])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_file_round_trip(tmp_path, format, dtype):
    array = (np.arange(2 * 3 * 4 * 5) % 256).astype(dtype).reshape(2, 3, 4, 5)
    path = tmp_path / f"a.{format}"
    write_array(array, path, format=format)
    back = read_array(path)
    assert back.dtype == dtype and np.array_equal(back, array)
    assert not list(tmp_path.glob(".*.tmp"))  # no temp file left behind


def test_stdout_and_stdin_round_trip_through_real_pipes():
    code_write = (
        "import numpy as np, sys; from gantool.io import write_array;"
        "write_array(np.arange(12, dtype=np.uint8).reshape(3, 4), '-', format=sys.argv[1])"
    )
    code_read = (
        "from gantool.io import read_array; a = read_array('-');"
        "print(a.dtype, a.shape, int(a.sum()))"
    )
    for format in ("npz", "npy"):
        produced = subprocess.run(
            [sys.executable, "-c", code_write, format], capture_output=True, check=True
        ).stdout
        read = subprocess.run(
            [sys.executable, "-c", code_read], input=produced, capture_output=True, check=True
        )
        assert read.stdout.decode().split() == ["uint8", "(3,", "4)", "66"]


def test_read_from_stdin_in_process(monkeypatch):
    buffer = io.BytesIO()
    np.save(buffer, np.ones((2, 2)))
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(buffer.getvalue())))
    assert read_array("-").sum() == 4
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"")))
    with pytest.raises(UsageError, match="no array on stdin"):
        read_array("-")


def test_npz_key_choice(tmp_path):
    path = tmp_path / "two.npz"
    np.savez(path, images=np.zeros(3), other=np.ones(2))
    assert read_array(path).shape == (3,)
    np.savez(path, a=np.zeros(3), b=np.ones(2))
    with pytest.raises(UsageError, match="several arrays"):
        read_array(path)


def test_bad_files(tmp_path):
    with pytest.raises(GantoolError, match="not found"):
        read_array(tmp_path / "missing.npz")
    corrupt = tmp_path / "corrupt.npz"
    write_array(np.zeros((10, 10)), corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:60])
    with pytest.raises(GantoolError, match=r"not a readable \.npz"):
        read_array(corrupt)
    with pytest.raises(GantoolError, match=r"not a readable \.npz"):
        read_arrays(corrupt)
    text = tmp_path / "text.npy"
    text.write_text("hello")
    with pytest.raises(GantoolError, match=r"neither an \.npz nor an \.npy"):
        read_array(text)
    truncated = tmp_path / "t.npy"
    write_array(np.zeros((100, 100)), truncated, format="npy")
    truncated.write_bytes(truncated.read_bytes()[:200])
    with pytest.raises(GantoolError, match=r"not a readable \.npy"):
        read_array(truncated)
    pickled = tmp_path / "p.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(GantoolError, match=r"not a readable \.npy"):
        read_array(pickled)  # object arrays would unpickle: refused


def test_unknown_format_is_usage_error(tmp_path):
    with pytest.raises(UsageError, match="unknown array format 'csv'"):
        write_array(np.zeros(2), tmp_path / "x", format="csv")


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.npz"
    write_arrays(path, data=np.arange(5))

    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_arrays(path, data=Unsaveable())
    assert np.array_equal(read_array(path), np.arange(5))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.npz"]
