"""`evaluate`: stream real and fake samples through a feature extractor into the metrics.

The CLI resolves the sources; this module picks the extractor, makes real and fake comparable
(same kind, channels and size), feeds every metric batch by batch and collects the scores.
Notes for the user (conversions, small-sample warnings) go to the `note` callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gantool import registry
from gantool.errors import GantoolError, UsageError
from gantool.metrics.base import DEFAULT_MAX_SAMPLES, Metric, Score
from gantool.metrics.features import FeatureExtractor
from gantool.metrics.frechet import GaussianStats
from gantool.metrics.sources import Source

DIGIT_SIZE = 28


@dataclass
class Options:
    metrics: list[str] = field(default_factory=lambda: ["fid", "kid", "prdc"])
    feature_extractor: str | None = None  # None: chosen from the data (see default_extractor)
    inception_weights: str | None = None
    classifier_weights: str | None = None
    batch_size: int = 100
    device: str = "cpu"
    prdc_k: int = 5
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    is_splits: int = 10
    max_samples: int = DEFAULT_MAX_SAMPLES
    seed: int = 0


@dataclass
class Report:
    scores: list[Score]
    feature_extractor: str | None
    real: str | None
    fake: str | None
    n_fake: int | None
    n_real: int | None
    saved_stats: str | None = None

    def to_dict(self) -> dict:
        metrics = {}
        for s in self.scores:
            entry = {"value": s.value, "std": s.std, "n": s.n, "n_real": s.n_real}
            if s.total is not None:
                entry["total"] = s.total
            metrics[s.name] = entry
        return {
            "metrics": metrics,
            "feature_extractor": self.feature_extractor,
            "real": self.real,
            "fake": self.fake,
            "n_fake": self.n_fake,
            "n_real": self.n_real,
            "saved_stats": self.saved_stats,
        }


def default_extractor(source: Source) -> str:
    """identity for points; digits for 28x28 images (MNIST-like, stacked-mnist); else inception."""
    if not source.is_image:
        return "identity"
    return "digits" if source.sample_shape[1:] == (DIGIT_SIZE, DIGIT_SIZE) else "inception"


def build_metrics(names: list[str], opts: Options, mixture: Source | None) -> list[Metric]:
    options = {
        "kid": {
            "subsets": opts.kid_subsets,
            "subset_size": opts.kid_subset_size,
            "seed": opts.seed,
            "max_samples": opts.max_samples,
        },
        "prdc": {"k": opts.prdc_k, "max_samples": opts.max_samples},
        "is": {"splits": opts.is_splits},
        "mode-coverage": {
            "modes": None if mixture is None else mixture.modes,
            "mode_std": None if mixture is None else mixture.mode_std,
            "device": opts.device,
            "classifier_weights": opts.classifier_weights,
        },
    }
    return [registry.create("metric", name, **options.get(name, {})) for name in names]


def fake_to_real_shape(fake: Source, real: Source, note: Callable[[str], None]):
    """A function making fake batches comparable with real ones (or a clear error)."""
    if fake.is_image != real.is_image:
        kinds = {True: "images", False: "points"}
        raise UsageError(
            f"fake samples are {kinds[fake.is_image]} but real ones are {kinds[real.is_image]}"
        )
    if fake.sample_shape == real.sample_shape:
        return lambda batch: batch
    if not fake.is_image:
        raise UsageError(
            f"fake points have shape {fake.sample_shape}, real ones {real.sample_shape}"
        )
    from gantool.data.convert import to_channels

    channels, height, width = real.sample_shape
    note(
        f"fake images {'x'.join(map(str, fake.sample_shape))} converted to the real images' "
        f"{'x'.join(map(str, real.sample_shape))} (C x H x W) before feature extraction"
    )

    def convert(batch: torch.Tensor) -> torch.Tensor:
        batch = to_channels(batch, channels)
        if batch.shape[-2:] != (height, width):
            resized = torch.nn.functional.interpolate(
                batch.float(), size=(height, width), mode="bilinear", antialias=True
            )
            batch = resized.round_().clamp_(0, 255).to(torch.uint8)
        return batch

    return convert


@dataclass
class RealStats:
    """Precomputed real feature statistics (pytorch-fid's mu / sigma, plus what gantool adds)."""

    path: str
    mu: np.ndarray
    sigma: np.ndarray
    n: int | None = None
    feature_extractor: str | None = None


def load_stats(path: str | Path) -> RealStats:
    """mu, sigma (pytorch-fid's keys), and the count and extractor when gantool wrote them."""
    from gantool.io import read_arrays

    arrays = read_arrays(path)
    if "mu" not in arrays or "sigma" not in arrays:
        raise UsageError(
            f"{path} must hold arrays 'mu' and 'sigma' (pytorch-fid's layout), "
            f"has: {', '.join(arrays) or 'nothing'}"
        )
    mu, sigma = arrays["mu"].astype(np.float64).reshape(-1), arrays["sigma"].astype(np.float64)
    if sigma.shape != (len(mu), len(mu)) or not (
        np.isfinite(mu).all() and np.isfinite(sigma).all()
    ):
        raise UsageError(f"{path}: sigma must be a finite {len(mu)}x{len(mu)} matrix matching mu")
    n = int(arrays["n"]) if "n" in arrays else None
    extractor = str(arrays["feature_extractor"]) if "feature_extractor" in arrays else None
    return RealStats(str(path), mu, sigma, n, extractor)


def save_stats(path: str | Path, stats: GaussianStats, extractor: str) -> None:
    from gantool.io import write_arrays

    mu, sigma = stats.mean_cov()
    write_arrays(path, mu=mu, sigma=sigma, n=np.int64(stats.n), feature_extractor=extractor)


def evaluate(
    fake: Source | None,
    real: Source | None,
    opts: Options,
    *,
    real_stats: str | None = None,
    save_stats_to: str | None = None,
    note: Callable[[str], None] = lambda _: None,
    progress: Callable[[str, int, int], None] = lambda side, done, total: None,
) -> Report:
    """Score `fake` against `real` (or `real_stats`) with `opts.metrics`; see docs/evaluate.md.

    `progress(side, done, total)` is called after each batch ("real" or "fake")."""
    stats = load_stats(real_stats) if real_stats is not None else None
    metrics = _plan_metrics(fake, real, stats, save_stats_to, opts)
    base = real if real is not None else fake
    extractor_name = opts.feature_extractor or default_extractor(base)
    extractor = _choose_extractor(extractor_name, metrics, base, opts, save_stats_to, note)
    if stats is not None:
        _use_real_stats(metrics, stats, extractor_name)
    # Real side: every metric that compares, except FID when its statistics came from a file.
    real_metrics = [m for m in metrics if m.needs_real and not (m.name == "fid" and stats)]
    real_acc = GaussianStats() if save_stats_to is not None else None
    if real is not None and (real_metrics or real_acc is not None):
        if real_metrics:
            _check_counts(real, "real")
        _feed(real, True, real_metrics, extractor, opts.batch_size, real_acc, progress=progress)
    if fake is not None and metrics:
        convert = fake_to_real_shape(fake, real, note) if real is not None else None
        _check_counts(fake, "fake")
        _feed(fake, False, metrics, extractor, opts.batch_size, None, convert, progress)
    if stats is not None:
        _check_stats_dim(metrics, len(stats.mu), extractor_name, stats.path)
    _warn_small_fid(metrics, note)
    scores = [score for metric in metrics for score in metric.compute()]
    if real_acc is not None:
        save_stats(save_stats_to, real_acc, extractor_name)
    return Report(
        scores,
        extractor_name if extractor is not None else None,
        real.label if real is not None else real_stats,
        fake.label if fake is not None else None,
        fake.n if fake is not None else None,
        real.n if real is not None else (stats.n if stats else None),
        None if real_acc is None else str(save_stats_to),
    )


def _plan_metrics(fake, real, stats, save_stats_to, opts: Options) -> list[Metric]:
    """The metrics to run, after checking that the inputs can feed them."""
    names = list(dict.fromkeys(opts.metrics)) if fake is not None else []
    for name in names:
        registry.get("metric", name)  # unknown names fail before any work
    mixture = real if real is not None and real.modes is not None else fake
    metrics = build_metrics(names, opts, mixture)
    comparing = [m.name for m in metrics if m.needs_real]
    if real is None and stats is not None and [n for n in comparing if n != "fid"]:
        others = ", ".join(n for n in comparing if n != "fid")
        raise UsageError(f"--real-stats serves fid only; {others} need --real samples")
    if real is None and stats is None and comparing:
        raise UsageError(
            f"{', '.join(comparing)} need real samples: "
            "pass --real (a dataset, folder or array) or --real-stats"
        )
    if save_stats_to is not None and real is None:
        raise UsageError("--save-stats writes the real samples' statistics: pass --real")
    if real is None and fake is None:
        raise UsageError("nothing to evaluate: pass --fake, --run or --checkpoint")
    return metrics


def _choose_extractor(name, metrics, base: Source, opts, save_stats_to, note):
    """The feature extractor, or None when no metric needs features or probabilities."""
    registry.get("feature-extractor", name)  # an unknown name fails even if unused
    uses = {m.uses for m in metrics}
    if not (uses & {"features", "probabilities"} or save_stats_to is not None):
        return None
    extractor = _make_extractor(name, opts, base)
    if "probabilities" in uses and name == "identity":
        raise UsageError(
            "metric 'is' needs class probabilities: use --feature-extractor inception or digits"
        )
    how = extractor.describe(base.sample_shape) if base.is_image else ""
    if how:
        note(f"{name} features: {how}")
    return extractor


def _use_real_stats(metrics: list[Metric], stats: RealStats, extractor: str) -> None:
    if stats.feature_extractor is not None and stats.feature_extractor != extractor:
        raise UsageError(
            f"{stats.path} holds {stats.feature_extractor} statistics but the feature extractor "
            f"is {extractor}; pass --feature-extractor {stats.feature_extractor}"
        )
    for metric in metrics:
        if metric.name == "fid":
            metric.set_real_stats(stats.mu, stats.sigma, stats.n)


def _make_extractor(name: str, opts: Options, base: Source) -> FeatureExtractor:
    weights = {"inception": opts.inception_weights, "digits": opts.classifier_weights}.get(name)
    extractor = registry.create("feature-extractor", name, weights=weights, device=opts.device)
    if getattr(extractor, "images_only", True) and not base.is_image:
        raise UsageError(
            f"the {name} feature extractor reads images, but the samples are "
            "points: use --feature-extractor identity"
        )
    return extractor


def _check_stats_dim(metrics: list[Metric], dim: int, extractor: str, path) -> None:
    for metric in metrics:
        if metric.name == "fid" and metric.fake.dim not in (0, dim):
            raise UsageError(
                f"{path} holds {dim}-d statistics but the {extractor} features "
                f"are {metric.fake.dim}-d"
            )


def _check_counts(source: Source, side: str) -> None:
    if source.n < 2:
        raise UsageError(f"{source.n} {side} sample(s): at least 2 are needed")


def _feed(source, real, metrics, extractor, batch_size, stats, convert=None, progress=None):
    uses = {m.uses for m in metrics}
    done = 0
    for batch in source.batches(batch_size):
        if convert is not None:
            batch = convert(batch)
        extracted = None
        if extractor is not None and (uses & {"features", "probabilities"} or stats is not None):
            extracted = extractor(batch)
            if not torch.isfinite(extracted.features).all():
                raise GantoolError(f"the {side_name(real)} features contain NaN or inf")
        if stats is not None:
            stats.update(extracted.features)
        for metric in metrics:
            if metric.uses == "samples":
                metric.update(batch, real=real)
            elif metric.uses == "probabilities":
                metric.update(extracted.probabilities, real=real)
            else:
                metric.update(extracted.features, real=real)
        done += len(batch)
        if progress is not None:
            progress(side_name(real), done, source.n)


def _warn_small_fid(metrics: list[Metric], note: Callable[[str], None]) -> None:
    """Below the feature dimension the covariance is singular and FID is strongly biased."""
    for metric in metrics:
        if metric.name != "fid":
            continue
        for side, stats in (("real", metric.real), ("fake", metric.fake)):
            if 2 <= stats.n < stats.dim:
                note(
                    f"warning: {stats.n} {side} samples, fewer than the {stats.dim} feature "
                    "dimensions: FID is biased upwards and not comparable with larger counts"
                )


def side_name(real: bool) -> str:
    return "real" if real else "fake"
