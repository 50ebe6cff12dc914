"""What every API function shares: one error boundary, pictures that show themselves in
Jupyter, and whether we are in a notebook."""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

from gantool.errors import GantoolError


def public(function):
    """The API's error boundary: a GantoolError surfaces from the function the user called, not
    from deep inside (GANTOOL_DEBUG=1 keeps the whole traceback); an OSError or MemoryError
    becomes the GantoolError the command line prints for it. Never SystemExit."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if os.environ.get("GANTOOL_DEBUG"):
            return function(*args, **kwargs)
        try:
            return function(*args, **kwargs)
        except GantoolError as exc:
            raise exc.with_traceback(None) from None
        except BrokenPipeError:
            raise  # the reader of stdout went away: the CLI exits quietly
        except MemoryError:
            raise GantoolError("out of memory; try a smaller --batch-size or --n") from None
        except OSError as exc:
            message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
            raise GantoolError(message) from None

    return wrapper


def in_notebook() -> bool:
    """True inside a Jupyter kernel (Jupyter, VS Code, Colab): outputs render there, not on a
    terminal. The test is rich's (gantool already depends on it)."""
    from rich.console import Console

    return Console().is_jupyter


class Picture:
    """A PNG image: shown inline by Jupyter (`_repr_png_`), saved with `save(path)`, read as a
    uint8 array with `to_array()`."""

    def __init__(self, png: bytes, title: str = ""):
        self.png = png
        self.title = title

    @classmethod
    def from_file(cls, path: str | Path, title: str = "") -> Picture:
        return cls(Path(path).read_bytes(), title or Path(path).name)

    @classmethod
    def from_image(cls, image_hwc, title: str = "") -> Picture:
        """From a uint8 (H, W, C) image (gantool.pictures draws them)."""
        from gantool import pictures

        buffer = io.BytesIO()
        pictures.to_pil(image_hwc).save(buffer, format="PNG")
        return cls(buffer.getvalue(), title)

    @classmethod
    def from_drawing(cls, draw, title: str = "") -> Picture:
        """From draw(path), a gantool function that writes a PNG file (matplotlib figures)."""
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "figure.png"
            draw(str(path))
            return cls(path.read_bytes(), title)

    def _repr_png_(self) -> bytes:
        return self.png

    def save(self, path: str | Path) -> Path:
        """Write the PNG to `path` (atomically) and return the path."""
        from gantool.io import atomic_write

        with atomic_write(path) as handle:
            handle.write(self.png)
        return Path(path)

    def to_array(self):
        """The image as a uint8 numpy array (H, W, C)."""
        import numpy as np
        from PIL import Image

        with Image.open(io.BytesIO(self.png)) as image:
            return np.asarray(image.convert("RGB"))

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        from PIL import Image

        with Image.open(io.BytesIO(self.png)) as image:
            return image.size

    def __repr__(self) -> str:
        width, height = self.size
        return f"Picture({self.title!r}, {width}x{height} px)"
