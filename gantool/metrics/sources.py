"""Where evaluated samples come from: a dataset name, an image folder, an .npz / .npy array,
'-' (an array on stdin), or a trained generator (drawn on the fly, batch by batch).

Every source is a `Source`: a label for the report, the count, the kind (uint8 images
(N, C, H, W) or float points (N, D)), a `batches(size)` iterator, the modes of a 2-D mixture
when it knows them, and the truncation its latents were drawn with (generators only: a file
does not say how it was made).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gantool.errors import GantoolError, UsageError

ARRAY_SUFFIXES = (".npz", ".npy")


@dataclass
class Source:
    label: str
    n: int
    is_image: bool
    sample_shape: tuple[int, ...]
    batches: Callable[[int], Iterator[torch.Tensor]]
    dataset: str | None = None  # the registered dataset it came from, when it did
    modes: torch.Tensor | None = None
    mode_std: float | None = None
    meta: dict = field(default_factory=dict)
    truncation: float | None = None  # drawn with the truncation trick at this threshold

    def __post_init__(self) -> None:
        # Every extractor reads grey or RGB; which background RGBA would be scored on is a
        # choice the user makes when reading the folder (docs/datasets.md), not one made here.
        if self.is_image and self.sample_shape[0] == 4:
            raise UsageError(f"{self.label}: RGBA images (4 channels, --channels 4) cannot be "
                             "scored: the feature extractors read grey or RGB; train on the "
                             "folder with --channels 3 and a --background to evaluate")


def from_dataset(dataset, label: str, dataset_name: str | None = None) -> Source:
    """A Source over an in-memory gantool.data.Dataset."""
    data = dataset.data

    def batches(size: int) -> Iterator[torch.Tensor]:
        for start in range(0, len(data), size):
            yield data[start : start + size]

    modes = None if dataset.modes is None else torch.as_tensor(dataset.modes)
    return Source(
        label,
        len(data),
        dataset.is_image,
        tuple(dataset.sample_shape),
        batches,
        dataset_name,
        modes,
        dataset.mode_std,
    )


def open_source(spec: str) -> Source:
    """'-' (stdin), a folder, an .npz / .npy file, or a registered dataset name."""
    from gantool.data import load_dataset

    path = Path(spec).expanduser()
    if spec == "-":
        return from_dataset(load_dataset("array", root="-"), "stdin")
    if path.is_dir():
        return from_dataset(load_dataset("folder", root=str(path)), str(path))
    if path.is_file():
        if path.suffix.lower() not in ARRAY_SUFFIXES:
            raise UsageError(
                f"{spec}: give an .npz / .npy array, an image folder or a dataset name"
            )
        return from_dataset(load_dataset("array", root=str(path)), str(path))
    if "/" in spec or "\\" in spec or path.suffix.lower() in ARRAY_SUFFIXES:
        raise GantoolError(f"not found: {spec}")
    return from_dataset(load_dataset(spec), spec, spec)


def from_generator(G, meta: dict, n: int, *, seed: int, device,
                   truncation: float | None = None) -> Source:
    """`n` samples drawn from G in batches: images as uint8 (like saved samples), points as is.
    With `truncation`, the latents are truncated (sampling.latent_noise) and the label says so."""
    from gantool import sampling

    shape = tuple(G.sample_shape)
    is_image = len(shape) == 3
    labels = sampling.class_labels(G, n)

    def batches(size: int) -> Iterator[torch.Tensor]:
        for batch in sampling.generate(
            G, n, seed=seed, batch_size=size, device=device, labels=labels,
            truncation=truncation,
        ):
            batch = batch.float().cpu()
            if not torch.isfinite(batch).all():
                raise GantoolError(f"the generator in {meta.get('path')} produced NaN or inf")
            if is_image:
                batch = ((batch.clamp(-1, 1) + 1) * 127.5).round_().to(torch.uint8)
            yield batch

    info = meta.get("data_info") or {}
    modes = info.get("modes")
    drawn = f"step {meta.get('step')}"
    if truncation is not None:
        drawn += f", truncation {truncation:g}"
    return Source(
        f"{meta.get('path')} ({drawn})",
        n,
        is_image,
        shape,
        batches,
        meta.get("dataset"),
        None if modes is None else torch.as_tensor(modes),
        info.get("mode_std"),
        meta,
        truncation,
    )


def run_dataset(meta: dict) -> Source:
    """The dataset a run was trained on, with the run's data options."""
    from gantool.data import load_dataset

    config = meta.get("config") or {}
    name = config.get("dataset")
    if not name:
        raise UsageError("the run does not record its dataset; pass --real")
    dataset = load_dataset(
        name,
        root=config.get("data_root"),
        image_size=config.get("image_size"),
        channels=config.get("channels"),
        background=config.get("background"),  # the same composite the run trained on
    )
    return from_dataset(dataset, name, name)
