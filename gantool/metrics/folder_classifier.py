"""A classifier of the user's own labelled image folder, and the feature extractor it becomes.

`gantool train-classifier --dataset folder --data-root DIR` trains `SmallResNet` on DIR, where
the first path component under DIR names the class, and writes a .safetensors file with the
weights and, in its metadata, everything needed to rebuild and feed the network (architecture
and its options, image size, channels, class names, the dataset and its preprocessing).
`gantool evaluate --feature-extractor FILE.safetensors` loads it as a `ClassifierFileExtractor`:
penultimate features for FID / KID / PRDC / memorization, class probabilities for IS and
mode coverage. No file is unpickled: safetensors holds tensors and a JSON header only, the
network is built by gantool's own code from checked numbers, and the weights must fit it exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gantool.errors import GantoolError, UsageError
from gantool.metrics.features import Extracted, FeatureExtractor

METADATA_KEY = "gantool_classifier"
FORMAT = 1
SMALL_CLASS = 10  # fewer training images than this in a class earns a warning
# Sane bounds for the numbers a file's metadata gives, checked before anything is built.
LIMITS = {"width": (1, 512), "num_classes": (2, 100_000), "image_size": (8, 1024)}


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (a 1x1 conv when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A stem and three residual stages (width w, 2w, 4w; the last two halve the size), global
    average pooling to 4w features, dropout and a linear head. About 0.08 M weights at w = 16.

    Small enough to train in CPU-minutes on a few thousand 32-64 px images; batch norm lets it
    learn from few examples per class. Input: (N, C, H, W) floats x / 255 in [0, 1]."""

    def __init__(self, *, in_channels: int, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, 1, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(),
            ResidualBlock(width, width, 1),
            ResidualBlock(width, 2 * width, 2),
            ResidualBlock(2 * width, 4 * width, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(4 * width, num_classes)
        self.feature_dim = 4 * width

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, (N, 4 * width)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (N, num_classes)."""
        return self.head(self.dropout(self.body(x)))


ARCHITECTURES = {"small-resnet": SmallResNet}


# ---------------------------------------------------------------- a labelled folder


@dataclass
class LabelledImages:
    images: torch.Tensor  # uint8 (N, C, S, S)
    labels: torch.Tensor  # int64 (N,)
    class_names: list[str]
    background: str | None = None  # what transparent images were composited on
    transparent: int = 0  # how many had transparency

    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.class_names)).tolist()


def load_labelled_folder(
    root: str | Path,
    image_size: int | None = None,
    channels: int | None = None,
    background: str | None = None,
    note: Callable[[str], None] = lambda _: None,
) -> LabelledImages:
    """Every image under `root`, labelled by the sub-folder it sits in (its first path component).

    Each class is read by the `folder` dataset (the same decoding, alpha handling, resize and crop
    as `gantool train --dataset folder`); image_size defaults to the first class's first image's
    shorter side, channels to 3 when any class is in colour, else 1."""
    from gantool.data import load_dataset
    from gantool.data.convert import to_channels
    from gantool.data.folder import image_files

    directory = Path(root).expanduser()
    if not directory.is_dir():
        raise GantoolError(f"image folder not found: {directory}")
    classes = sorted(p for p in directory.iterdir() if p.is_dir() and image_files(p))
    if len(classes) < 2:
        found = ", ".join(p.name for p in classes) or "none"
        raise UsageError(
            f"{directory} needs one sub-folder of images per class and at least 2 classes; "
            f"found {len(classes)} ({found})"
        )
    loose = [p for p in image_files(directory) if p.parent == directory]
    if loose:
        note(f"warning: {len(loose)} image(s) directly in {directory} belong to no class: unused")
    options = {"channels": channels}
    if background is not None:  # a folder dataset without the option refuses it, by name
        options["background"] = background
    parts, transparent = [], 0
    for class_dir in classes:
        dataset = load_dataset("folder", root=str(class_dir), image_size=image_size, **options)
        image_size = image_size or dataset.data.shape[-1]
        parts.append(dataset.data)
        transparent += getattr(dataset, "transparent", 0) or 0
        background = getattr(dataset, "background", background)
    channels = channels or max(part.shape[1] for part in parts)
    images = torch.cat([to_channels(part, channels) for part in parts])
    labels = torch.cat([torch.full((len(p),), i, dtype=torch.int64) for i, p in enumerate(parts)])
    return LabelledImages(images, labels, [p.name for p in classes], background, transparent)


def holdout_split(
    labels: torch.Tensor, share: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(training, held-out) indices: `share` of each class held out (rounded, at least one image
    for a class of two or more, never its last), chosen by a seeded permutation per class."""
    generator = torch.Generator().manual_seed(seed)
    train, held = [], []
    for label in range(int(labels.max()) + 1):
        members = torch.nonzero(labels == label).flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        count = 0 if share == 0 or len(members) < 2 else max(1, round(share * len(members)))
        count = min(count, len(members) - 1)
        held.append(members[:count])
        train.append(members[count:])
    return torch.cat(train).sort().values, torch.cat(held).sort().values


def class_weights(counts: list[int]) -> torch.Tensor:
    """Loss weight 1 / sqrt(count) per class, scaled to average 1 over the training images:
    halfway to balanced, so a class of 5 images is not drowned by one of 2,000 without its few
    images being repeated into memorisation."""
    counts_t = torch.tensor(counts, dtype=torch.float64).clamp(min=1)
    weights = counts_t.rsqrt()
    return (weights * counts_t.sum() / (weights * counts_t).sum()).float()


def augment_colour(
    x: torch.Tensor, generator: torch.Generator, max_shift: float = 0.125, scale: float = 0.1
) -> torch.Tensor:
    """Random horizontal flips, shifts (up to `max_shift` of the size) and scalings (+-`scale`)
    of (N, C, H, W) images in [0, 1]; the border pixels (the background) fill what comes in."""
    n = len(x)
    u = torch.rand(n, 4, generator=generator) * 2 - 1
    flip = torch.where(u[:, 0] < 0, -1.0, 1.0)
    zoom = 1 + u[:, 1] * scale
    zero = torch.zeros(n)
    theta = torch.stack(
        [
            torch.stack([flip / zoom, zero, u[:, 2] * max_shift * 2], 1),
            torch.stack([zero, 1 / zoom, u[:, 3] * max_shift * 2], 1),
        ],
        1,
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


@torch.no_grad()
def per_class_accuracy(model: nn.Module, images, labels, num_classes: int) -> list[float | None]:
    """Accuracy within each class (None for a class with no image here)."""
    model.eval()
    predicted = torch.cat(
        [model(images[i : i + 500].float() / 255).argmax(1) for i in range(0, len(images), 500)]
    )
    result = []
    for label in range(num_classes):
        mask = labels == label
        result.append(float((predicted[mask] == label).double().mean()) if mask.any() else None)
    return result


# ---------------------------------------------------------------- the file


def save_classifier(path: str | Path, model: SmallResNet, spec: dict) -> None:
    """Weights plus `spec` (JSON, under METADATA_KEY) as .safetensors, written atomically."""
    from safetensors.torch import save

    from gantool.io import atomic_write

    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    with atomic_write(path) as handle:
        handle.write(save(state, metadata={METADATA_KEY: json.dumps(spec)}))


def read_spec(path: Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """(checked metadata, tensors) of a classifier file, or one clear error."""
    from safetensors import safe_open

    if not path.is_file():
        raise GantoolError(f"classifier file not found: {path}")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises several kinds on a file that is not one
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GantoolError(f"cannot read {path} as a .safetensors file: {first}") from None
    if METADATA_KEY not in metadata:
        raise GantoolError(
            f"{path} has no gantool classifier metadata: make one with `gantool "
            "train-classifier --dataset folder` (digit classifier weights go with "
            "--classifier-weights)"
        )
    try:
        spec = json.loads(metadata[METADATA_KEY])
        _check_spec(spec)
    except (ValueError, TypeError, KeyError) as exc:
        raise GantoolError(f"{path} has bad classifier metadata: {exc}") from None
    return spec, tensors


def _check_spec(spec) -> None:
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ValueError(f"format must be {FORMAT}")
    if spec.get("architecture") not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {spec.get('architecture')!r}")
    options = spec.get("arch_options")
    if not isinstance(options, dict) or set(options) != {"in_channels", "num_classes", "width"}:
        raise ValueError("arch_options must be in_channels, num_classes, width")
    numbers = {**options, "image_size": spec.get("image_size")}
    for key, value in numbers.items():
        low, high = LIMITS.get(key, (1, 3))
        if type(value) is not int or not low <= value <= high or (key, value) == ("in_channels", 2):
            raise ValueError(f"{key} {value!r} is out of range")
    names = spec.get("class_names")
    if not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        raise ValueError("class_names must be a list of strings")
    if len(names) != options["num_classes"]:
        raise ValueError(f"{len(names)} class names for {options['num_classes']} classes")


def load_classifier(path: str | Path, device: str = "cpu") -> tuple[SmallResNet, dict]:
    """The network a classifier file describes, with its weights, in eval mode, and its spec."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise UsageError(
            f"{path}: a classifier file must be .safetensors (gantool never unpickles weights)"
        )
    spec, tensors = read_spec(path)
    for key, tensor in tensors.items():
        allowed = (torch.int64,) if key.endswith("num_batches_tracked") else (torch.float32,)
        if tensor.dtype not in allowed or not torch.isfinite(tensor.double()).all():
            raise GantoolError(f"{path}: tensor {key} is not finite {allowed[0]}")
    # Built on the meta device: nothing is allocated until the file's own tensors are assigned,
    # whose shapes must match exactly.
    with torch.device("meta"):
        model = ARCHITECTURES[spec["architecture"]](**spec["arch_options"])
    try:
        model.load_state_dict(tensors, strict=True, assign=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0].rstrip(":")
        raise GantoolError(
            f"{path} does not hold the weights its metadata describes: {first}"
        ) from None
    return model.to(device).eval(), spec


class ClassifierFileExtractor(FeatureExtractor):
    """A network from `gantool train-classifier --dataset folder`, read from its file.

    Images are brought to what it was trained on: channels converted (grey repeated, RGB to luma),
    then shorter side resized (bilinear, antialiased) and centre-cropped to its image size, as
    gantool's dataset conversion does. It runs in float64, like `digits`, so its features do not
    change with the batch size. `name` is the file's name; `sha256` identifies the weights."""

    def __init__(self, path: str | Path, device: str = "cpu") -> None:
        from gantool.metrics.reference import sha256

        self.path = Path(path)
        self.device = device
        model, self.spec = load_classifier(self.path, device)
        self.model = model.double()
        self.name = self.path.name
        self.sha256 = sha256(self.path)
        self.image_size = self.spec["image_size"]
        self.channels = self.spec["arch_options"]["in_channels"]
        self.num_classes = self.spec["arch_options"]["num_classes"]

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> Extracted:
        from gantool.data.convert import to_channels, to_size

        self._check_shape(tuple(batch.shape[1:]))
        batch = to_size(to_channels(batch, self.channels), self.image_size)
        x = batch.to(self.device, torch.float64).div_(255)
        features = self.model.features(x)
        probabilities = self.model.head(features).softmax(1)
        return Extracted(features.cpu(), probabilities.cpu())

    def feature_dim(self, sample_shape: tuple[int, ...]) -> int:
        return self.model.feature_dim

    def _check_shape(self, sample_shape: tuple[int, ...]) -> None:
        if len(sample_shape) != 3 or sample_shape[0] not in (1, 3):
            shape = "x".join(map(str, sample_shape))
            raise UsageError(
                f"{self.name} reads grey or RGB images ({self.channels} channels, "
                f"{self.image_size}x{self.image_size}); got {shape} samples"
            )

    def describe(self, sample_shape: tuple[int, ...]) -> str:
        """The conversions made; also refuses, before any pass, samples it cannot read."""
        self._check_shape(sample_shape)
        channels, height, width = sample_shape
        notes = []
        if channels != self.channels:
            notes.append(f"{channels} channel(s) converted to {self.channels}")
        if (height, width) != (self.image_size, self.image_size):
            notes.append(f"{height}x{width} resized to {self.image_size}x{self.image_size}")
        return ", ".join(notes)


WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin")


def is_classifier_file(name: str | None) -> bool:
    """Whether a --feature-extractor value names a file rather than a registered extractor: a
    path, or a weights file's suffix (registered names have neither; pickles are then refused
    by name instead of being reported as an unknown extractor)."""
    if not name:
        return False
    return "/" in name or "\\" in name or Path(name).suffix.lower() in WEIGHT_SUFFIXES


def mean_of_measured(per_class: list[float | None]) -> float | None:
    """Balanced accuracy: the mean over the classes that have held-out images."""
    measured = [a for a in per_class if a is not None]
    return sum(measured) / len(measured) if measured else None
