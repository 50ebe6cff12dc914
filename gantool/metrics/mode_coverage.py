"""`mode-coverage`: how many modes of a known multi-modal distribution the samples reach.

2-D mixtures (ring8, grid25), as in Unrolled GAN / VEEGAN / PacGAN: a sample is high quality when
it lies within 3 standard deviations of its nearest mode; a mode is covered when it is the nearest
mode of at least one high-quality sample (VEEGAN's definition); the KL divergence is that of the
histogram of high-quality samples over modes from the uniform distribution (0 = perfectly even).
Those papers count 2,500 samples; more samples reach more modes, so by default only the first
2,500 fake points are counted (`--mode-samples`).
Digit images: the class probabilities of the `digits` extractor (the evaluation's one extractor
path) name each sample's class; covered = classes hit (of 10) and the KL of the class histogram
from uniform. Stacked MNIST (3 channels, one digit each): the same over the 1000 digit triples.
Any other data is refused: a digit classifier finds "digits" in anything.
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError, UsageError
from gantool.metrics.base import Metric, Score
from gantool.metrics.options import Option, declare
from gantool.registry import register

HIGH_QUALITY_STDS = 3.0
MIXTURE_SAMPLES = 2500  # Unrolled GAN, VEEGAN, PacGAN
DIGIT_DATASETS = ("mnist", "mnist-5k", "stacked-mnist")
ACCEPTS = (
    "digits (1x28x28, e.g. mnist-5k), stacked digits (3x28x28, stacked-mnist) "
    "or points of a 2-D mixture with known modes (ring8, grid25)"
)


def check_digits(sample_shape: tuple[int, ...], datasets: list[str | None]) -> None:
    """Refuse images that are neither digits nor stacked digits (shape or provenance)."""
    from_digits = any(name in DIGIT_DATASETS for name in datasets if name)
    channels = sample_shape[0]
    if channels in (1, 3) and (from_digits or tuple(sample_shape[1:]) == (28, 28)):
        return
    shape = "x".join(map(str, sample_shape))
    raise UsageError(f"mode-coverage counts modes of {ACCEPTS}; got {shape} images")


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
    """Mixture mode: fed raw points (`uses` "samples"). Digit mode: fed the `digits` extractor's
    class probabilities (`uses` "probabilities", `extractor` "digits")."""

    name = "mode-coverage"
    needs_real = False

    def __init__(
        self,
        modes: torch.Tensor | None = None,
        mode_std: float | None = None,
        samples: int | None = None,
    ) -> None:
        self.modes = None if modes is None else torch.as_tensor(modes, dtype=torch.float64)
        self.mode_std = mode_std
        if self.modes is not None and not (mode_std and mode_std > 0):
            raise UsageError("mode-coverage of a mixture needs its mode standard deviation")
        if samples is not None and samples < 1:
            raise UsageError(f"--mode-samples must be at least 1, got {samples}")
        mixture = self.modes is not None
        self.uses = "samples" if mixture else "probabilities"
        self.extractor = None if mixture else "digits"
        self.limit = samples if samples is not None else (MIXTURE_SAMPLES if mixture else None)
        self.any_classes = False
        self.counts: torch.Tensor | None = None
        self.n = 0
        self.offered = 0
        self.high_quality = 0

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        if real:
            return
        self.offered += len(values)
        if self.limit is not None:
            values = values[: max(self.limit - self.n, 0)]
        if len(values) == 0:
            return
        if self.modes is None:
            bins, total = self._digit_bins(values), values.shape[1]
        else:
            bins, total = self._mode_bins(values), len(self.modes)
        if self.counts is None:
            self.counts = torch.zeros(total, dtype=torch.int64)
        if len(self.counts) != total:
            raise GantoolError("mode-coverage got samples of different kinds")
        self.counts += torch.bincount(bins, minlength=total)
        self.n += len(values)

    def _mode_bins(self, points: torch.Tensor) -> torch.Tensor:
        if points.dtype == torch.uint8 or points.ndim != 2:
            raise UsageError(f"mode-coverage of a mixture reads points; it accepts {ACCEPTS}")
        if points.shape[1] != self.modes.shape[1]:
            raise UsageError(
                f"points have {points.shape[1]} dimensions, the modes {self.modes.shape[1]}"
            )
        index, distance = nearest_modes(points, self.modes)
        good = distance <= HIGH_QUALITY_STDS * self.mode_std
        self.high_quality += int(good.sum())
        return index[good]

    def count_classes_of_the_evaluation_extractor(self) -> None:
        """Count the classes of the evaluation's own extractor (a classifier file from
        `gantool train-classifier --dataset folder`), however many, instead of digits."""
        self.extractor, self.any_classes = None, True

    def _digit_bins(self, probabilities: torch.Tensor) -> torch.Tensor:
        if self.any_classes:
            return probabilities.argmax(1)
        if probabilities.dtype == torch.uint8 or probabilities.shape[1] not in (10, 1000):
            raise UsageError(
                "mode-coverage of images needs the digits extractor's class probabilities "
                f"(10 or 1000 classes); it accepts {ACCEPTS}"
            )
        # The digits extractor's joint probability of a digit tuple is the product of the
        # channels' probabilities, so its argmax is the tuple of the per-channel argmaxes.
        return probabilities.argmax(1)

    def note(self) -> str:
        if self.limit is None or self.modes is None:
            return ""
        return (
            f"mode-coverage counts the first {self.n:,} of {self.offered:,} samples "
            f"(the 2-D mixture protocol of Unrolled GAN / VEEGAN / PacGAN: {MIXTURE_SAMPLES:,}; "
            "--mode-samples changes it)"
        )

    def compute(self) -> list[Score]:
        if self.counts is None or self.n == 0:
            if self.modes is None:
                raise UsageError(
                    f"mode-coverage of points needs a mixture with known modes as --real "
                    f"(ring8, grid25); it accepts {ACCEPTS}"
                )
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
@declare(
    Option(
        "samples",
        "--mode-samples",
        None,
        "fake samples counted (default: 2,500 for 2-D mixtures as in the papers, all for digits)",
        minimum=1,
    )
)
def mode_coverage(
    *, modes=None, mode_std: float | None = None, samples: int | None = None
) -> Metric:
    return ModeCoverage(modes, mode_std, samples)
