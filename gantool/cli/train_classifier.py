"""`gantool train-classifier`: train the digit classifier behind the `digits` feature extractor."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from gantool.errors import UsageError


def train_classifier_command(
    out: Path = typer.Option(
        Path("digits.safetensors"), "--out", "-o", help="Where to write the weights (.safetensors)."
    ),
    epochs: int = typer.Option(30, "--epochs", min=1, help="Passes over the 5,000 digits."),
    seed: int = typer.Option(0, "--seed", help="Seeds weights, shuffling, augmentation, dropout."),
    batch_size: int = typer.Option(64, "--batch-size", min=1, help="Images per step."),
    mnist_test: Path = typer.Option(
        None,
        "--mnist-test",
        help="Directory with t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz: "
        "report the accuracy on these 10,000 real MNIST test digits.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
    force: bool = typer.Option(False, "--force", help="Let --out overwrite a file."),
) -> None:
    """Train the small digit CNN (the `digits` feature extractor) on the bundled mnist-5k digits,
    with random affine augmentation. Same seed and options give the same weights on the same
    machine. The shipped gantool/weights/digits.safetensors was made with the defaults.

    Example: gantool train-classifier --out d.safetensors --mnist-test ../shared/data/mnist
    """
    import torch
    from rich.console import Console

    from gantool import __version__
    from gantool.data import load_dataset
    from gantool.io import atomic_write
    from gantool.metrics import classifier_training as ct

    if out.suffix != ".safetensors":
        raise UsageError(f"--out must end in .safetensors, got {out}")
    if out.exists() and not force:
        raise UsageError(f"--out {out} exists; use --force to overwrite it")
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
    result = {"out": str(out), "epochs": epochs, "seed": seed, "mnist_test_accuracy": accuracy}
    if as_json:
        print(json.dumps(result))
        return
    shown = "not measured (pass --mnist-test DIR)" if accuracy is None else f"{accuracy:.2%}"
    print(f"wrote {out}; accuracy on the 10,000 MNIST test digits: {shown}", file=sys.stdout)
