"""`evaluate`: stream real and fake samples through feature extractors into the metrics.

The CLI resolves the sources; this module picks the extractors (the evaluation's one, plus any a
metric fixes: `digits` for mode coverage, DINOv2 for fd-dinov2), makes real and fake comparable
(same kind, channels and size), checks every parameter and count before any work, feeds every
metric batch by batch and collects the scores with the protocol that made them.
Notes for the user (conversions, protocols, small-sample warnings) go to the `note` callback.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from gantool import registry
from gantool.errors import GantoolError, UsageError
from gantool.metrics.base import DEFAULT_MAX_SAMPLES, Metric, Score
from gantool.metrics.features import FeatureExtractor
from gantool.metrics.folder_classifier import ClassifierFileExtractor, is_classifier_file
from gantool.metrics.frechet import GaussianStats
from gantool.metrics.options import resolve
from gantool.metrics.reference import RealStats, load_stats, save_stats
from gantool.metrics.sources import Source

DIGIT_SIZE = 28


@dataclass
class Options:
    metrics: list[str] = field(default_factory=lambda: ["fid", "kid", "prdc"])
    feature_extractor: str | None = None  # None: chosen from the data (see default_extractor)
    resize: str | None = None  # the inception extractor's resize protocol (metrics/resize.py)
    dinov2_resize: str | None = None  # the DINOv2 extractors' resize (metrics/dinov2.py)
    inception_weights: str | None = None
    classifier_weights: str | None = None
    dinov2_weights: str | None = None
    batch_size: int = 100
    device: str = "cpu"
    # Metric options by CLI flag ({"--prdc-k": 3}); checked against each metric's declarations.
    metric_flags: dict[str, object] = field(default_factory=dict)
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
    protocol: dict = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict:
        metrics = {}
        for s in self.scores:
            entry = {"value": s.value, "std": s.std, "n": s.n, "n_real": s.n_real}
            if s.total is not None:
                entry["total"] = s.total
            metrics[s.name] = entry
        return {
            "metrics": metrics,
            "protocol": self.protocol,
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


def build_metrics(names: list[str], opts: Options, fake, real) -> list[Metric]:
    """Each metric with its declared options (checked) and the context it accepts."""
    mixture = real if real is not None and real.modes is not None else fake
    context = {
        "seed": opts.seed,
        "max_samples": opts.max_samples,
        "modes": None if mixture is None else mixture.modes,
        "mode_std": None if mixture is None else mixture.mode_std,
    }
    metrics = []
    for name in names:
        factory = registry.get("metric", name).factory
        accepted = inspect.signature(factory).parameters
        kwargs = {k: v for k, v in context.items() if k in accepted}
        kwargs.update(resolve(factory, opts.metric_flags))
        metrics.append(registry.create("metric", name, **kwargs))
    return metrics


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
    default = opts.feature_extractor or default_extractor(base)
    extractors = _choose_extractors(default, metrics, base, opts, save_stats_to, note)
    if stats is not None:
        _use_real_stats(metrics, stats, default, extractors, base)
    served = {id(m) for m in metrics if stats is not None and m.frechet}
    real_metrics = [m for m in metrics if m.needs_real and id(m) not in served]
    if fake is not None:
        for metric in metrics:  # bad parameters fail here, before any sample is extracted
            metric.check_counts(fake.n, real.n if real is not None else None)
    real_acc = GaussianStats() if save_stats_to is not None else None
    if real is not None and (real_metrics or real_acc is not None):
        if real_metrics:
            _check_counts(real, "real")
        feed = _Feeder(extractors, default, opts.batch_size, progress)
        feed(real, True, real_metrics, real_acc)
    if fake is not None and metrics:
        convert = fake_to_real_shape(fake, real, note) if real is not None else None
        _check_counts(fake, "fake")
        _Feeder(extractors, default, opts.batch_size, progress)(fake, False, metrics, None, convert)
    _warn_small_fid(metrics, note)
    scores = [score for metric in metrics for score in metric.compute()]
    for metric in metrics:
        if metric.note():
            note(metric.note())
    if real_acc is not None:
        weights = opts.classifier_weights if default == "digits" else None
        if is_classifier_file(default):
            weights = default
        save_stats(save_stats_to, real_acc, recorded_name(default, extractors),
                   real.label if real else None, weights)
    extractor_name = default if default in extractors else None
    return Report(
        scores,
        extractor_name,
        real.label if real is not None else real_stats,
        fake.label if fake is not None else None,
        fake.n if fake is not None else None,
        real.n if real is not None else (stats.n if stats else None),
        None if real_acc is None else str(save_stats_to),
        protocol(metrics, extractors, default, fake, real, stats, opts),
        metrics,
    )


def protocol(metrics, extractors, default, fake, real, stats, opts: Options) -> dict:
    """Everything a number depends on besides the samples: compared by `evaluate --compare`."""
    from gantool import __version__

    used = {m.name: (m.extractor or default) for m in metrics if m.uses != "samples"}
    resize = {name: getattr(extractors.get(name), "resize", None) for name in set(used.values())}
    if real is not None:
        reference = real.dataset or real.label
    else:
        reference = stats.reference if stats is not None else None
    files = {
        e.name: e.sha256 for e in extractors.values() if isinstance(e, ClassifierFileExtractor)
    }
    record = {
        "gantool": __version__,
        "feature_extractor": recorded_name(default, extractors) if default in extractors else None,
        "extractors": {k: recorded_name(v, extractors) for k, v in used.items()},
        "resize": {k: v for k, v in resize.items() if v is not None},
        "n_fake": fake.n if fake is not None else None,
        "n_real": real.n if real is not None else (stats.n if stats else None),
        "reference": reference,
        "max_samples": opts.max_samples,
        "options": {k: v for m in metrics for k, v in _metric_options(m.name, opts).items()},
    }
    if files:  # a classifier file is named by its file name and told apart by its weights
        record["extractor_sha256"] = files
    if fake is not None and fake.truncation is not None:
        # Truncated samples score better on precision-like metrics and worse on recall: such a
        # result is never compared with an untruncated one (which has no "truncation").
        record["truncation"] = fake.truncation
    return record


def recorded_name(name: str, extractors: dict) -> str:
    """How results and statistics name an extractor: a classifier file by its file name (the
    path depends on where the command ran), anything else by its registered name."""
    extractor = extractors.get(name)
    return extractor.name if isinstance(extractor, ClassifierFileExtractor) else name


def _metric_options(name: str, opts: Options) -> dict:
    factory = registry.get("metric", name).factory
    from gantool.metrics.options import declared

    return {o.flag: o.check(opts.metric_flags.get(o.flag)) for o in declared(factory)}


def _plan_metrics(fake, real, stats, save_stats_to, opts: Options) -> list[Metric]:
    """The metrics to run, after checking that the inputs can feed them."""
    names = list(dict.fromkeys(opts.metrics)) if fake is not None else []
    for name in names:
        registry.get("metric", name)  # unknown names fail before any work
    metrics = build_metrics(names, opts, fake, real)
    comparing = [m.name for m in metrics if m.needs_real]
    unserved = [m.name for m in metrics if m.needs_real and not m.frechet]
    if real is None and stats is not None and unserved:
        raise UsageError(
            f"--real-stats serves fid and fd-dinov2 only; {', '.join(unserved)} need --real samples"
        )
    if real is None and stats is None and comparing:
        raise UsageError(
            f"{', '.join(comparing)} need real samples: "
            "pass --real (a dataset, folder or array) or --real-stats"
        )
    if save_stats_to is not None and real is None:
        raise UsageError("--save-stats writes the real samples' statistics: pass --real")
    if real is None and fake is None:
        raise UsageError("nothing to evaluate: pass --fake, --run or --checkpoint")
    _check_mode_coverage(metrics, fake, real, is_classifier_file(opts.feature_extractor))
    return metrics


def _check_mode_coverage(metrics, fake, real, own_classifier: bool) -> None:
    from gantool.metrics.mode_coverage import ACCEPTS, check_digits

    if "mode-coverage" not in [m.name for m in metrics]:
        return
    if fake.is_image and own_classifier:  # its classes are the modes, whatever the images
        for metric in metrics:
            if metric.name == "mode-coverage":
                metric.count_classes_of_the_evaluation_extractor()
    elif fake.is_image:
        check_digits(fake.sample_shape, [fake.dataset, real.dataset if real else None])
    elif fake.modes is None and (real is None or real.modes is None):
        raise UsageError(
            f"mode-coverage of points needs a mixture with known modes as --real (ring8, grid25); "
            f"it accepts {ACCEPTS}"
        )


def _choose_extractors(default, metrics, base: Source, opts, save_stats_to, note):
    """{name: extractor} for every extractor some metric (or --save-stats) reads."""
    if not is_classifier_file(default):
        registry.get("feature-extractor", default)  # an unknown name fails even if unused
    names = {m.extractor or default for m in metrics if m.uses != "samples"}
    if save_stats_to is not None:
        names.add(default)
    extractors = {name: _make_extractor(name, opts, base) for name in sorted(names)}
    if opts.resize is not None and default != "inception":
        raise UsageError(f"--resize applies to the inception extractor, not {default}")
    if opts.dinov2_resize is not None and not any(n.startswith("dinov2-") for n in extractors):
        raise UsageError("--dinov2-resize applies to the dinov2-* extractors, and none is used")
    for metric in metrics:
        if metric.uses == "probabilities" and (metric.extractor or default) == "identity":
            raise UsageError(
                f"metric {metric.name!r} needs class probabilities: use --feature-extractor "
                "inception, digits or a classifier file"
            )
    for name, extractor in extractors.items():
        how = extractor.describe(base.sample_shape) if base.is_image else ""
        if how:
            note(f"{name} features: {how}")
    return extractors


def _use_real_stats(metrics, stats: RealStats, default: str, extractors, base: Source) -> None:
    for metric in metrics:
        if not metric.frechet:
            continue
        name = metric.extractor or default
        recorded = recorded_name(name, extractors)
        if stats.feature_extractor is not None and stats.feature_extractor != recorded:
            raise UsageError(
                f"{stats.path} holds {stats.feature_extractor} statistics but the feature "
                f"extractor is {recorded}; pass --feature-extractor {stats.feature_extractor}"
            )
        stats.check_weights(name, extractors[name])
        dim = extractors[name].feature_dim(base.sample_shape)
        if dim != len(stats.mu):  # checked before any sample is extracted
            raise UsageError(
                f"{stats.path} holds {len(stats.mu)}-d statistics but the {name} features "
                f"are {dim}-d"
            )
        metric.set_real_stats(stats.mu, stats.sigma, stats.n)


def _make_extractor(name: str, opts: Options, base: Source) -> FeatureExtractor:
    if is_classifier_file(name):
        if not base.is_image:
            raise UsageError(f"the classifier {name} reads images, but the samples are points")
        return ClassifierFileExtractor(name, opts.device)
    weights = {
        "inception": opts.inception_weights,
        "digits": opts.classifier_weights,
    }.get(name, opts.dinov2_weights if name.startswith("dinov2-") else None)
    kwargs = {"weights": weights, "device": opts.device}
    if name == "inception":
        kwargs["resize"] = opts.resize
    elif name.startswith("dinov2-"):
        kwargs["resize"] = opts.dinov2_resize
    extractor = registry.create("feature-extractor", name, **kwargs)
    if getattr(extractor, "images_only", True) and not base.is_image:
        raise UsageError(
            f"the {name} feature extractor reads images, but the samples are "
            "points: use --feature-extractor identity"
        )
    return extractor


def _check_counts(source: Source, side: str) -> None:
    if source.n < 2:
        raise UsageError(f"{source.n} {side} sample(s): at least 2 are needed")


@dataclass
class _Feeder:
    """Feeds one source's batches through the extractors (each at most once per batch)."""

    extractors: dict[str, FeatureExtractor]
    default: str
    batch_size: int
    progress: Callable[[str, int, int], None] | None

    def __call__(self, source, real, metrics, stats, convert=None) -> None:
        done = 0
        for batch in source.batches(self.batch_size):
            if convert is not None:
                batch = convert(batch)
            extracted = {}

            def get(name):
                if name not in extracted:
                    extracted[name] = self.extractors[name](batch)
                    if not torch.isfinite(extracted[name].features).all():
                        raise GantoolError(f"the {side_name(real)} features contain NaN or inf")
                return extracted[name]

            if stats is not None:
                stats.update(get(self.default).features)
            for metric in metrics:
                if metric.uses == "samples":
                    metric.update(batch, real=real)
                else:
                    out = get(metric.extractor or self.default)
                    values = out.probabilities if metric.uses == "probabilities" else out.features
                    metric.update(values, real=real)
                if metric.keeps_samples:
                    metric.update_samples(batch, real=real)
            done += len(batch)
            if self.progress is not None:
                self.progress(side_name(real), done, source.n)


def _warn_small_fid(metrics: list[Metric], note: Callable[[str], None]) -> None:
    """Below the feature dimension the covariance is singular and FID is strongly biased."""
    for metric in metrics:
        if not metric.frechet:
            continue
        for side, stats in (("real", metric.real), ("fake", metric.fake)):
            if 2 <= stats.n < stats.dim:
                note(
                    f"warning: {stats.n} {side} samples, fewer than the {stats.dim} feature "
                    f"dimensions: {metric.name.upper()} is biased upwards and not comparable "
                    "with larger counts"
                )


def side_name(real: bool) -> str:
    return "real" if real else "fake"
