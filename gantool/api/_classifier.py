"""gantool.train_classifier: the digit classifier behind the `digits` feature extractor, or a
classifier of your own labelled image folder that evaluate's feature_extractor reads."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from gantool.api._common import public
from gantool.errors import UsageError

DATASETS = ("mnist-5k", "folder")
FOLDER_ONLY = ("--data-root", "--image-size", "--channels", "--background", "--holdout", "--width")
HOLDOUT, WIDTH = 0.2, 16
EPOCHS = {"mnist-5k": 30, "folder": 8}  # folder: the emoji measurement in docs/evaluate.md


@public
def train_classifier(*, dataset: str = "mnist-5k", data_root: str | Path | None = None,
                     image_size: int | None = None, channels: int | None = None,
                     background: str | None = None, holdout: float = HOLDOUT,
                     width: int = WIDTH, out: str | Path | None = None,
                     epochs: int | None = None, seed: int = 0, batch_size: int = 64,
                     mnist_test: str | Path | None = None, force: bool = False) -> dict:
    """Train a small image classifier (`gantool train-classifier`) and return what the
    command's --json prints. mnist-5k (default): the digit CNN of the `digits` feature
    extractor; folder: a small ResNet on data_root's class sub-folders, a share (holdout)
    held out to report its accuracy, saved for evaluate(feature_extractor=FILE).
    """
    if dataset not in DATASETS:
        raise UsageError(f"--dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    _at_least(image_size, 8, "--image-size")
    _at_least(epochs, 1, "--epochs")
    _at_least(batch_size, 1, "--batch-size")
    if not 4 <= width <= 512:
        raise UsageError(f"--width must be in 4..512, got {width}")
    if not 0.0 <= holdout <= 0.5:
        raise UsageError(f"--holdout must be in [0, 0.5], got {holdout}")
    folder = dataset == "folder"
    epochs = epochs or EPOCHS[dataset]
    out = Path(out) if out is not None else Path(
        "classifier.safetensors" if folder else "digits.safetensors")
    if out.suffix != ".safetensors":
        raise UsageError(f"--out must end in .safetensors, got {out}")
    if out.exists() and not force:
        raise UsageError(f"--out {out} exists; use --force to overwrite it")
    if folder:
        if mnist_test is not None:
            raise UsageError("--mnist-test goes with --dataset mnist-5k")
        if data_root is None:
            raise UsageError("--dataset folder needs --data-root DIR (one sub-folder per class)")
        if channels not in (None, 1, 3):
            raise UsageError(f"--channels must be 1 or 3, got {channels}")
        return _train_folder(
            Path(data_root), image_size, channels, background, holdout, width, out,
            epochs, seed, batch_size,
        )
    unset = (data_root, image_size, channels, background) == (None,) * 4
    if not unset or holdout != HOLDOUT or width != WIDTH:
        raise UsageError(f"{', '.join(FOLDER_ONLY)} go with --dataset folder")
    return _train_digits(out, epochs, seed, batch_size,
                         Path(mnist_test) if mnist_test is not None else None)


def _at_least(value: int | None, low: int, flag: str) -> None:
    if value is not None and value < low:
        raise UsageError(f"{flag} must be at least {low}, got {value}")


def _train_digits(out: Path, epochs: int, seed: int, batch_size: int, mnist_test) -> dict:
    import torch
    from rich.console import Console

    from gantool import __version__
    from gantool.data import load_dataset
    from gantool.io import atomic_write
    from gantool.metrics import classifier_training as ct

    test = ct.read_mnist_test(mnist_test) if mnist_test is not None else None  # fail early
    console = Console(stderr=True)
    digits = load_dataset("mnist-5k")
    opts = ct.TrainOptions(epochs=epochs, batch_size=batch_size, seed=seed)
    model = ct.train_classifier(digits.data, digits.labels, opts, log=console.log)
    accuracy = ct.accuracy(model, *test) if test is not None else None
    metadata = {
        "seed": str(seed),
        "epochs": str(epochs),
        "batch_size": str(batch_size),
        "trained_on": "mnist-5k",
        "gantool": __version__,
        "torch": torch.__version__,
        "torch_threads": str(torch.get_num_threads()),
    }
    if accuracy is not None:
        metadata["mnist_test_accuracy"] = f"{accuracy:.4f}"
    from safetensors.torch import save

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    with atomic_write(out) as handle:
        handle.write(save(state, metadata=metadata))
    return {"out": str(out), "epochs": epochs, "seed": seed, "mnist_test_accuracy": accuracy}


def _train_folder(
    root, image_size, channels, background, holdout, width, out, epochs, seed, batch_size
) -> dict:
    import torch
    from rich.console import Console

    from gantool import __version__
    from gantool.metrics import classifier_training as ct
    from gantool.metrics import folder_classifier as fc

    console = Console(stderr=True)
    note = lambda text: print(text, file=sys.stderr)  # noqa: E731
    start = time.perf_counter()
    data = fc.load_labelled_folder(root, image_size, channels, background, note)
    train_idx, held_idx = fc.holdout_split(data.labels, holdout, seed)
    names, counts = data.class_names, data.counts()
    train_counts = torch.bincount(data.labels[train_idx], minlength=len(names)).tolist()
    _, channels, size, _ = data.images.shape
    note(
        f"{root}: {len(data.labels)} images {channels}x{size}x{size} in {len(names)} classes ("
        + ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))
        + f"); {len(train_idx)} for training, {len(held_idx)} held out"
    )
    small = [f"{n} ({c})" for n, c in zip(names, train_counts, strict=True) if c < fc.SMALL_CLASS]
    if small:
        note(
            f"warning: classes with fewer than {fc.SMALL_CLASS} training images: "
            f"{', '.join(small)}; their accuracy and their features are weakly learnt"
        )
    arch_options = {"in_channels": channels, "num_classes": len(names), "width": width}
    opts = ct.TrainOptions(epochs=epochs, batch_size=batch_size, seed=seed)
    model = ct.train_network(
        lambda: fc.SmallResNet(**arch_options),
        data.images[train_idx],
        data.labels[train_idx],
        opts,
        fc.augment_colour,
        class_weights=fc.class_weights(train_counts),
        log=console.log,
    )
    seconds = time.perf_counter() - start
    accuracy, per_class, balanced = None, None, None
    if len(held_idx):
        accuracy = ct.accuracy(model, data.images[held_idx], data.labels[held_idx])
        per_class = fc.per_class_accuracy(
            model, data.images[held_idx], data.labels[held_idx], len(names)
        )
        balanced = fc.mean_of_measured(per_class)
    spec = {
        "format": fc.FORMAT,
        "architecture": "small-resnet",
        "arch_options": arch_options,
        "image_size": size,
        "channels": channels,
        "class_names": names,
        "dataset": {
            "name": "folder",
            "root": str(root),
            "class_counts": counts,
            "background": data.background,
            "transparent_images": data.transparent,
        },
        "preprocessing": (
            "the folder dataset (alpha composited on the background, shorter side resized "
            "bicubic with antialiasing, centre crop), uint8, then x / 255"
        ),
        "training": {
            "seed": seed,
            "epochs": epochs,
            "batch_size": batch_size,
            "lr": opts.lr,
            "holdout": holdout,
            "augmentation": "horizontal flip, shift <= 1/8, scale +-10%",
            "class_weights": "1/sqrt(count)",
            "torch_threads": torch.get_num_threads(),
        },
        "heldout_accuracy": accuracy,
        "heldout_balanced_accuracy": balanced,
        "heldout_per_class": per_class,
        "gantool": __version__,
        "torch": torch.__version__,
    }
    fc.save_classifier(out, model, spec)
    return {
        "out": str(out),
        "classes": names,
        "class_counts": counts,
        "n_train": len(train_idx),
        "n_heldout": len(held_idx),
        "heldout_accuracy": accuracy,
        "heldout_balanced_accuracy": balanced,
        "heldout_per_class": per_class,
        "seconds": round(seconds, 1),
        "epochs": epochs,
        "seed": seed,
    }
