"""Read the pickled batch files of CIFAR-10's "python version" without running code.

A pickle names functions to call while it is read; the plain `pickle.load` calls whatever a file
names (os.system, exec, ...). These files only ever hold dicts, lists, str/bytes, ints and numpy
uint8 arrays, so the unpickler here resolves exactly the few numpy functions that rebuild an
array, and refuses every other name before anything is called.
"""

from __future__ import annotations

import codecs
import pickle
from pathlib import Path

import numpy as np

from gantool.errors import GantoolError


def _latin1_encode(text: str, encoding: str) -> bytes:
    """What Python 3 protocol-2 pickles call to rebuild bytes; only their latin1 form."""
    if encoding != "latin1":
        raise pickle.UnpicklingError(f"unexpected _codecs.encode encoding {encoding!r}")
    return codecs.encode(text, "latin1")


def _numpy_names() -> dict[tuple[str, str], object]:
    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1.x
        from numpy.core import multiarray, numeric
    rebuild = {"_reconstruct": multiarray._reconstruct, "_frombuffer": numeric._frombuffer}
    names = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
             ("_codecs", "encode"): _latin1_encode}
    # numpy 1 writes numpy.core.*, numpy 2 numpy._core.*: the same two functions.
    for package in ("numpy.core", "numpy._core"):
        names[(f"{package}.multiarray", "_reconstruct")] = rebuild["_reconstruct"]
        names[(f"{package}.numeric", "_frombuffer")] = rebuild["_frombuffer"]
    return names


class _ArrayUnpickler(pickle.Unpickler):
    allowed = _numpy_names()

    def find_class(self, module: str, name: str):
        try:
            return self.allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused to load {module}.{name}") from None

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("refused a persistent id")


def load_pickle(path: Path):
    """The object pickled in `path` (latin1 for Python 2 strings, as the published files need)."""
    try:
        with open(path, "rb") as handle:
            return _ArrayUnpickler(handle, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        raise GantoolError(f"{path} is not a plain data pickle: {exc}") from None
    except Exception as exc:  # a corrupt pickle raises many kinds of errors
        raise GantoolError(f"{path} is unreadable ({type(exc).__name__}: {exc})") from None
