"""`mode-coverage`: how many modes of a known multi-modal distribution the samples reach.

2-D mixtures (ring8, grid25), as in Unrolled GAN / VEEGAN / PacGAN: a sample is high quality when
it lies within 3 standard deviations of its nearest mode; a mode is covered when it is the nearest
mode of at least one high-quality sample (VEEGAN's definition); the KL divergence is that of the
histogram of high-quality samples over modes from the uniform distribution (0 = perfectly even).
Digit images: the shipped digit classifier names each sample's class; covered = classes hit (of
10) and the KL of the class histogram from uniform. Stacked MNIST (3 channels, one digit each):
the same over the 1000 digit triples.
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError, UsageError
from gantool.metrics.base import Metric, Score
from gantool.registry import register

HIGH_QUALITY_STDS = 3.0


def kl_from_uniform(counts: torch.Tensor) -> float | None:
    """KL(p || uniform) of the histogram `counts` over K bins; None when it is empty."""
    total = counts.sum()
    if total == 0:
        return None
    p = counts.to(torch.float64) / total
    return float(torch.xlogy(p, p * len(counts)).sum())


def nearest_modes(points: torch.Tensor, modes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest mode, distance to it) for each point."""
    distances = torch.cdist(points.to(torch.float64), modes.to(torch.float64))
    nearest = distances.min(1)
    return nearest.indices, nearest.values


class ModeCoverage(Metric):
    name = "mode-coverage"
    uses = "samples"
    needs_real = False

    def __init__(
        self,
        modes: torch.Tensor | None = None,
        mode_std: float | None = None,
        device: str = "cpu",
        classifier_weights: str | None = None,
    ) -> None:
        self.modes = None if modes is None else torch.as_tensor(modes, dtype=torch.float64)
        self.mode_std = mode_std
        if self.modes is not None and not (mode_std and mode_std > 0):
            raise UsageError("mode-coverage of a mixture needs its mode standard deviation")
        self.device, self.classifier_weights = device, classifier_weights
        self._classifier = None
        self.counts: torch.Tensor | None = None
        self.n = 0
        self.high_quality = 0

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        if real:
            return
        if values.dtype == torch.uint8:
            bins = self._digit_bins(values)
            total = 10 ** values.shape[1]
        else:
            bins = self._mode_bins(values)
            total = len(self.modes)
        if self.counts is None:
            self.counts = torch.zeros(total, dtype=torch.int64)
        if len(self.counts) != total:
            raise GantoolError("mode-coverage got samples of different kinds")
        self.counts += torch.bincount(bins, minlength=total)
        self.n += len(values)

    def _mode_bins(self, points: torch.Tensor) -> torch.Tensor:
        if self.modes is None:
            raise UsageError(
                "mode-coverage of points needs a mixture with known modes as --real (ring8, grid25)"
            )
        if points.shape[1] != self.modes.shape[1]:
            raise UsageError(
                f"points have {points.shape[1]} dimensions, the modes {self.modes.shape[1]}"
            )
        index, distance = nearest_modes(points, self.modes)
        good = distance <= HIGH_QUALITY_STDS * self.mode_std
        self.high_quality += int(good.sum())
        return index[good]

    def _digit_bins(self, images: torch.Tensor) -> torch.Tensor:
        if images.shape[1] not in (1, 3):
            raise UsageError(
                f"mode-coverage reads digits from 1 or 3 channels, got {images.shape[1]}"
            )
        if self._classifier is None:
            from gantool.metrics.features import DigitsExtractor

            self._classifier = DigitsExtractor(self.classifier_weights, self.device)
        _, probabilities = self._classifier.classify_channels(images)
        digits = probabilities.argmax(2)  # (N, C)
        place = 10 ** torch.arange(images.shape[1] - 1, -1, -1)
        return (digits * place).sum(1)

    def compute(self) -> list[Score]:
        if self.counts is None or self.n == 0:
            raise GantoolError("mode-coverage got no samples")
        total = len(self.counts)
        scores = [Score("modes", int((self.counts > 0).sum()), n=self.n, total=total)]
        if self.modes is not None:
            scores.append(Score("high_quality", self.high_quality / self.n, n=self.n))
        scores.append(Score("mode_kl", kl_from_uniform(self.counts), n=self.n))
        return scores


@register(
    "metric",
    "mode-coverage",
    "modes covered, high-quality share, KL from uniform (ring8, grid25, digits)",
)
def mode_coverage(
    *,
    modes=None,
    mode_std: float | None = None,
    device: str = "cpu",
    classifier_weights: str | None = None,
) -> Metric:
    return ModeCoverage(modes, mode_std, device, classifier_weights)
