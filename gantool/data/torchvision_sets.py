"""torchvision datasets by name: mnist, fashion-mnist, kmnist, cifar10, svhn, celeba.

Files are looked for under `root` (default <cache>/torchvision) in torchvision's layout; the
MNIST family is also found as the bare (optionally .gz) IDX files directly in `root`, such as
the t10k-*-ubyte.gz of the MNIST site, which are unpacked once into <cache>/staged/. `download`
is passed to torchvision. Offline with files absent: one GantoolError naming the files and where.
Files are read as they are: torchvision's md5 checks (which would also reject any re-packed
copy) run only when downloading. CIFAR-10's pickled batches are read here, not by torchvision,
with an unpickler that admits only dicts, lists, strings and numpy arrays (safe_pickle.py): a
crafted batch file cannot run code.
"""

from __future__ import annotations

import gzip
import hashlib
import warnings
from pathlib import Path

import numpy as np
import torch

from gantool.data.convert import convert
from gantool.data.dataset import Dataset, cache_dir
from gantool.data.safe_pickle import load_pickle
from gantool.errors import GantoolError, UsageError
from gantool.io import atomic_write
from gantool.registry import register

# registry name -> (torchvision class name, homepage for the error message)
IDX_FAMILY = {
    "mnist": ("MNIST", "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": ("FashionMNIST", "https://github.com/zalandoresearch/fashion-mnist"),
    "kmnist": ("KMNIST", "https://github.com/rois-codh/kmnist"),
}
SPLITS = ("train", "test")
# The largest IDX file of the family (train images) is 47 MB; a .gz unpacking to far more is a
# decompression bomb that would fill the disk under the cache.
MAX_UNPACKED_BYTES = 512 * 10**6


def default_root(root) -> Path:
    return Path(root).expanduser() if root else cache_dir() / "torchvision"


def _idx_names(split: str) -> list[str]:
    prefix = "train" if split == "train" else "t10k"
    return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


def _find(root: Path, raw: Path, name: str) -> Path | None:
    for candidate in (raw / name, raw / f"{name}.gz", root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _stage(found: list[Path], class_name: str) -> Path:
    """Unpack / copy IDX files into a torchvision layout under the cache; return its root."""
    key = hashlib.sha1(str(found[0].parent.resolve()).encode()).hexdigest()[:12]
    staged_root = cache_dir() / "staged" / key
    raw = staged_root / class_name / "raw"
    for path in found:
        target = raw / path.name.removesuffix(".gz")
        if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
            continue
        opener = gzip.open if path.suffix == ".gz" else open
        try:
            with opener(path, "rb") as src, atomic_write(target) as dst:
                _copy_bounded(src, dst, path)
        except (OSError, EOFError) as exc:
            raise GantoolError(f"cannot unpack {path}: {exc}") from None
    return staged_root


def _copy_bounded(src, dst, path: Path) -> None:
    """Copy src to dst, refusing more than MAX_UNPACKED_BYTES (atomic_write then drops dst)."""
    copied = 0
    while chunk := src.read(1 << 20):
        copied += len(chunk)
        if copied > MAX_UNPACKED_BYTES:
            raise GantoolError(f"{path} unpacks to more than {MAX_UNPACKED_BYTES:,} bytes; "
                               "no MNIST-family file is that large")
        dst.write(chunk)


def _idx_dataset(name: str, root, split: str | None, download: bool):
    from torchvision import datasets

    class_name, home = IDX_FAMILY[name]
    root = default_root(root)
    raw = root / class_name / "raw"
    if split is not None and split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    tried = [split] if split else ["train", "test"]
    for candidate in tried:
        found = [_find(root, raw, n) for n in _idx_names(candidate)]
        if all(found):
            if split is None and candidate == "test":
                warnings.warn(
                    f"{name}: only the test split's files are in {root}; using the test split",
                    stacklevel=3,
                )
            tv_root = root if all(p.parent == raw and p.suffix != ".gz" for p in found) else None
            tv_root = tv_root or _stage(found, class_name)
            return _open(datasets, class_name, tv_root, train=candidate == "train", download=False)
    want = split or "train"
    if download:
        return _open(datasets, class_name, root, train=want == "train", download=True)
    names = ", ".join(_idx_names(want))
    raise GantoolError(
        f"{name} {want} files not found: {names} (or .gz) in {raw} or {root}; "
        f"pass --download to fetch them from {home}, or --data-root DIR where they are"
    )


def _open(datasets, class_name: str, root: Path, **kwargs):
    base = getattr(datasets, class_name)

    class OneSplit(base):
        """torchvision's check wants both splits' files; this one needs only its own."""

        def _check_exists(self) -> bool:
            split = "train" if self.train else "test"
            return all((Path(self.raw_folder) / n).is_file() for n in _idx_names(split))

    OneSplit.__name__ = base.__name__  # torchvision names its folders after the class

    cls = base if kwargs.get("download") else OneSplit
    try:
        return cls(str(root), **kwargs)
    except (RuntimeError, OSError, ValueError, EOFError) as exc:
        action = "download" if kwargs.get("download") else "read"
        raise GantoolError(f"could not {action} {class_name} in {root}: {exc}") from None


def _finish(name, images, labels, num_classes, image_size, channels) -> Dataset:
    images = torch.as_tensor(np.ascontiguousarray(images))
    if images.ndim == 3:
        images = images.unsqueeze(1)
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.int64)
    data = convert(images.to(torch.uint8), image_size, channels)
    return Dataset(data, labels, num_classes=num_classes, name=name)


def _register_idx(name: str, description: str) -> None:
    @register("dataset", name, description)
    def factory(
        *,
        root=None,
        image_size: int | None = None,
        channels: int | None = None,
        download: bool = False,
        seed: int = 0,
        split: str | None = None,
    ) -> Dataset:
        tv = _idx_dataset(name, root, split, download)
        return _finish(name, tv.data, tv.targets, 10, image_size, channels)


_register_idx("mnist", "MNIST digits via torchvision (60k train / 10k test, 28x28 grey)")
_register_idx("fashion-mnist", "Fashion-MNIST via torchvision (28x28 grey clothing, 10 classes)")
_register_idx("kmnist", "Kuzushiji-MNIST via torchvision (28x28 grey cursive Japanese)")


def _files_dataset(tv_class, name: str, root: Path, files: list[Path], download: bool, **kwargs):
    """Open a torchvision dataset whose files are checked by name here, not by md5."""
    missing = [p for p in files if not p.is_file()]
    if missing and not download:
        raise GantoolError(
            f"{name} files not found: {', '.join(p.name for p in missing)} in {missing[0].parent}; "
            "pass --download to fetch them, or --data-root DIR where they are"
        )

    class Unchecked(tv_class):
        def _check_integrity(self) -> bool:
            return all(p.is_file() for p in files)

    if missing:
        return _open_class(tv_class, name, root, download=True, **kwargs)
    return _open_class(Unchecked, name, root, download=False, **kwargs)


def _open_class(cls, name, root, **kwargs):
    try:
        return cls(str(root), **kwargs)
    except (RuntimeError, OSError, ValueError, EOFError, KeyError) as exc:
        action = "download" if kwargs.get("download") else "read"
        raise GantoolError(f"could not {action} {name} in {root}: {exc}") from None
    except Exception as exc:  # a corrupt pickle or .mat raises many kinds of errors
        raise GantoolError(f"{name} files in {root} are unreadable: {exc}") from None


@register("dataset", "cifar10", "CIFAR-10 via torchvision (50k train / 10k test, 32x32 RGB)")
def cifar10(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    split: str = "train",
) -> Dataset:
    from torchvision.datasets import CIFAR10

    if split not in SPLITS:
        raise UsageError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    root = default_root(root)
    listed = CIFAR10.train_list if split == "train" else CIFAR10.test_list
    files = [root / CIFAR10.base_folder / f for f, _ in listed]
    if not all(p.is_file() for p in files):
        # torchvision fetches and md5-checks the files; they are read below like any copy.
        _files_dataset(CIFAR10, "cifar10", root, files, download, train=split == "train")
    batches = [_cifar_batch(path) for path in files]
    images = np.concatenate([b[0] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([b[1] for b in batches])
    return _finish("cifar10", images, labels, 10, image_size, channels)


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 (N, 3072) pixels, int64 (N,) labels) of one batch file, unpickled safely."""
    try:
        entry = load_pickle(path)
    except GantoolError as exc:
        raise GantoolError(f"cifar10: {exc}") from None
    data = entry.get("data") if isinstance(entry, dict) else None
    labels = entry.get("labels", entry.get("fine_labels")) if isinstance(entry, dict) else None
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):
        raise GantoolError(f"cifar10: {path} is not a CIFAR batch: 'data' must be uint8 (N, 3072)")
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        labels = None
    if labels is None or labels.shape != (len(data),) or not ((0 <= labels) & (labels < 10)).all():
        raise GantoolError(
            f"cifar10: {path} is not a CIFAR batch: 'labels' must be {len(data)} ints 0..9"
        )
    return data, labels


@register("dataset", "svhn", "Street View House Numbers via torchvision (32x32 RGB digits)")
def svhn(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    split: str = "train",
) -> Dataset:
    from torchvision.datasets import SVHN

    if split not in SVHN.split_list:
        raise UsageError(f"split must be one of {', '.join(SVHN.split_list)}, got {split!r}")
    root = default_root(root)
    files = [root / SVHN.split_list[split][1]]
    tv = _files_dataset(SVHN, "svhn", root, files, download, split=split)
    return _finish("svhn", tv.data, tv.labels, 10, image_size, channels)
