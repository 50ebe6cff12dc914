"""`gantool train-classifier`: train the digit classifier behind the `digits` feature extractor,
or a classifier of your own labelled image folder that `evaluate --feature-extractor` reads."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

HOLDOUT, WIDTH = 0.2, 16  # gantool.api.train_classifier's defaults too


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
    from gantool import api

    result = api.train_classifier(
        dataset=dataset, data_root=data_root, image_size=image_size, channels=channels,
        background=background, holdout=holdout, width=width, out=out, epochs=epochs,
        seed=seed, batch_size=batch_size, mnist_test=mnist_test, force=force,
    )
    folder = dataset == "folder"
    out = result["out"]
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
