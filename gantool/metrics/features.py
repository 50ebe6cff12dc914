"""Feature extractors (registry kind "feature-extractor"): samples -> feature vectors.

An extractor takes a batch of samples, uint8 images (N, C, H, W) or float points (N, D), and
returns `Extracted(features, probabilities)`: features (N, dim) for FID / KID / PRDC, and class
probabilities (N, K) for the Inception Score, or None when it has no classifier head.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gantool.errors import UsageError
from gantool.metrics.resize import DEFAULT_RESIZE, check_mode, inception_input
from gantool.registry import register


@dataclass
class Extracted:
    features: torch.Tensor
    probabilities: torch.Tensor | None


class FeatureExtractor:
    """Base: `name`, `images_only`, and `__call__(batch) -> Extracted`."""

    name = ""
    images_only = True
    resize: str | None = None  # the resize protocol, for extractors that resize (metrics/resize.py)

    def __call__(self, batch: torch.Tensor) -> Extracted:
        raise NotImplementedError

    def feature_dim(self, sample_shape: tuple[int, ...]) -> int:
        """The length of the feature vector for samples of this shape (known before any pass)."""
        raise NotImplementedError

    def describe(self, sample_shape: tuple[int, ...]) -> str:
        """How samples of this shape are prepared (shown as a note), or '' when untouched."""
        return ""


def _unit_float(images: torch.Tensor) -> torch.Tensor:
    return images.to(torch.float32) / 255


class InceptionExtractor(FeatureExtractor):
    """pytorch-fid's FID Inception-v3: 2048-d pool features, softmax of the unbiased 1008 logits.

    `resize` picks how images reach 299x299 (metrics/resize.py): legacy-pytorch, clean, legacy-tf.
    """

    name = "inception"

    def __init__(
        self, weights: str | None = None, device: str = "cpu", resize: str = DEFAULT_RESIZE
    ) -> None:
        self.weights, self.device, self.resize = weights, device, check_mode(resize)
        self._model = None

    @property
    def model(self):
        if self._model is None:  # loaded on first use: building an extractor is cheap
            from gantool.metrics.inception import load_fid_inception

            self._model = load_fid_inception(self.weights, self.device)
        return self._model

    @torch.no_grad()
    def __call__(self, batch: torch.Tensor) -> Extracted:
        pool = self.model.pool_features(inception_input(batch.to(self.device), self.resize))
        logits = self.model.logits(pool)
        return Extracted(pool.double().cpu(), logits.double().softmax(1).cpu())

    def feature_dim(self, sample_shape: tuple[int, ...]) -> int:
        return 2048

    def describe(self, sample_shape: tuple[int, ...]) -> str:
        # pytorch-fid's resize is the default and needs no note; the others do (they change FID).
        notes = ["grey images repeated to RGB"] if sample_shape[0] == 1 else []
        if self.resize != DEFAULT_RESIZE:
            notes.append(f"resized to 299x299 the {self.resize} way")
        return ", ".join(notes)


class DigitsExtractor(FeatureExtractor):
    """The shipped digit CNN: 128-d penultimate features, 10-way softmax (per channel).

    Multi-channel images (stacked-mnist) are read as one digit per channel: features are the
    channels' features side by side and the class is the tuple of digits (10**C classes).
    It runs in float64 (the network is small): its features do not change with the batch size.
    """

    name = "digits"

    def __init__(self, weights: str | None = None, device: str = "cpu") -> None:
        self.weights, self.device = weights, device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            from gantool.metrics.digits import load_digit_classifier

            self._model = load_digit_classifier(self.weights, self.device).double()
        return self._model

    @torch.no_grad()
    def classify_channels(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel (features (N, C, 128), probabilities (N, C, 10))."""
        from gantool.metrics.digits import IMAGE_SIZE

        n, c, h, w = batch.shape
        x = batch.to(self.device, torch.float64).div_(255).reshape(n * c, 1, h, w)
        if (h, w) != (IMAGE_SIZE, IMAGE_SIZE):
            x = F.interpolate(x, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", antialias=True)
        features = self.model.features(x)
        probabilities = self.model.head(features).double().softmax(1)
        return features.double().reshape(n, c, -1).cpu(), probabilities.reshape(n, c, -1).cpu()

    def __call__(self, batch: torch.Tensor) -> Extracted:
        features, probabilities = self.classify_channels(batch)
        joint = probabilities[:, 0]
        for channel in range(1, probabilities.shape[1]):  # outer product: digit tuples
            joint = (joint[:, :, None] * probabilities[:, channel, None, :]).flatten(1)
        return Extracted(features.flatten(1), joint)

    def feature_dim(self, sample_shape: tuple[int, ...]) -> int:
        from gantool.metrics.digits import FEATURE_DIM

        return FEATURE_DIM * sample_shape[0]

    def describe(self, sample_shape: tuple[int, ...]) -> str:
        channels, height, width = sample_shape
        notes = []
        if (height, width) != (28, 28):
            notes.append(f"{height}x{width} resized to 28x28")
        if channels > 1:
            notes.append(f"each of the {channels} channels read as one digit")
        return ", ".join(notes)


class IdentityExtractor(FeatureExtractor):
    """The samples themselves: points as they are, images as pixels in [0, 1], flattened."""

    name = "identity"
    images_only = False

    def __call__(self, batch: torch.Tensor) -> Extracted:
        x = _unit_float(batch) if batch.dtype == torch.uint8 else batch.to(torch.float64)
        return Extracted(x.flatten(1).to(torch.float64), None)

    def feature_dim(self, sample_shape: tuple[int, ...]) -> int:
        return int(math.prod(sample_shape))


@register(
    "feature-extractor",
    "inception",
    "FID Inception-v3 (pytorch-fid, TF 2015-12-05 weights), 2048-d",
)
def inception(
    *, weights: str | None = None, device: str = "cpu", resize: str = DEFAULT_RESIZE
) -> FeatureExtractor:
    return InceptionExtractor(weights, device, resize)


@register("feature-extractor", "digits", "gantool's shipped digit CNN, 128-d features, offline")
def digits(*, weights: str | None = None, device: str = "cpu") -> FeatureExtractor:
    return DigitsExtractor(weights, device)


@register("feature-extractor", "identity", "the samples themselves (2-D points; raw pixels)")
def identity(*, weights: str | None = None, device: str = "cpu") -> FeatureExtractor:
    if weights is not None:
        raise UsageError("the identity feature extractor takes no weights")
    return IdentityExtractor()
