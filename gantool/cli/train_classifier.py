"""`gantool train-classifier`: train the digit classifier behind the `digits` feature extractor,
or a classifier of your own labelled image folder that `evaluate --feature-extractor` reads."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import typer

from gantool.errors import UsageError

DATASETS = ("mnist-5k", "folder")
FOLDER_ONLY = ("--data-root", "--image-size", "--channels", "--background", "--holdout", "--width")
HOLDOUT, WIDTH = 0.2, 16
EPOCHS = {"mnist-5k": 30, "folder": 8}  # folder: the emoji measurement in docs/evaluate.md


def train_classifier_command(
    dataset: str = typer.Option(
        "mnist-5k",
        "--dataset",
        help="mnist-5k (the digit CNN of the digits extractor) or folder (--data-root DIR "
        "with one sub-folder of images per class: a classifier for evaluate --feature-extractor).",
    ),
    data_root: Path = typer.Option(
        None, "--data-root", help="folder: the directory of class sub-folders.", show_default=False
    ),
    image_size: int = typer.Option(
        None,
        "--image-size",
        min=8,
        help="folder: side of the square images it trains on (default: the first image's "
        "shorter side; 32 suits a few CPU-minutes).",
        show_default=False,
    ),
    channels: int = typer.Option(
        None,
        "--channels",
        help="folder: 1 or 3 (default: 3 when any image is in colour, else 1).",
        show_default=False,
    ),
    background: str = typer.Option(
        None,
        "--background",
        help="folder: the colour transparent images are composited on (as train's "
        "--background; default: the folder dataset's).",
        show_default=False,
    ),
    holdout: float = typer.Option(
        HOLDOUT,
        "--holdout",
        min=0.0,
        max=0.5,
        help="folder: share of each class held out to measure the accuracy.",
    ),
    width: int = typer.Option(
        WIDTH, "--width", min=4, max=512, help="folder: the network's first width (features 4x)."
    ),
    out: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Where to write the weights (.safetensors) (default: digits.safetensors, or "
        "classifier.safetensors for a folder).",
        show_default=False,
    ),
    epochs: int = typer.Option(
        None,
        "--epochs",
        min=1,
        help="Passes over the training images (default: 30 for mnist-5k, 8 for a folder).",
        show_default=False,
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seeds weights, shuffling, augmentation, dropout, the held-out split."
    ),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Images per step."),
    mnist_test: Path = typer.Option(
        None,
        "--mnist-test",
        help="mnist-5k: directory with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz: "
        "report the accuracy on these 10,000 real MNIST test digits.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
    force: bool = typer.Option(False, "--force", help="Let --out overwrite a file."),
) -> None:
    """Train a small image classifier. mnist-5k (default): the digit CNN of the `digits`
    feature extractor, with random affine augmentation; the shipped
    gantool/weights/digits.safetensors was made with the defaults. folder: a small ResNet on your
    own labelled images (flips, shifts, scalings), a share held out to report its accuracy; the
    file holds the weights and how to rebuild and feed the network, for evaluate
    --feature-extractor FILE.safetensors. Same seed and options give the same weights on the same
    machine.

    Example: gantool train-classifier --out d.safetensors --mnist-test ../shared/data/mnist

    Folder: gantool train-classifier --dataset folder --data-root emoji/ --image-size 32
    --out emoji.safetensors
    """
    if dataset not in DATASETS:
        raise UsageError(f"--dataset must be one of {', '.join(DATASETS)}, got {dataset!r}")
    folder = dataset == "folder"
    epochs = epochs or EPOCHS[dataset]
    out = out or Path("classifier.safetensors" if folder else "digits.safetensors")
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
        result = _train_folder(
            data_root, image_size, channels, background, holdout, width, out,
            epochs, seed, batch_size,
        )
    else:
        unset = (data_root, image_size, channels, background) == (None,) * 4
        if not unset or holdout != HOLDOUT or width != WIDTH:
            raise UsageError(f"{', '.join(FOLDER_ONLY)} go with --dataset folder")
        result = _train_digits(out, epochs, seed, batch_size, mnist_test)
    if as_json:
        print(json.dumps(result))
    elif folder:
        accuracy, balanced = result["heldout_accuracy"], result["heldout_balanced_accuracy"]
        shown = "not measured (--holdout 0)" if accuracy is None else (
            f"{accuracy:.2%} (mean over classes {balanced:.2%})"
        )
        print(f"wrote {out}; held-out accuracy on {result['n_heldout']} images: {shown}",
              file=sys.stdout)
    else:
        accuracy = result["mnist_test_accuracy"]
        shown = "not measured (pass --mnist-test DIR)" if accuracy is None else f"{accuracy:.2%}"
        print(f"wrote {out}; accuracy on the 10,000 MNIST test digits: {shown}", file=sys.stdout)


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
