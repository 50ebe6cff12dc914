"""gantool.evaluate: scores of generated samples against real ones, as a dict-like result that
keeps its protocol (what was measured, how), and gantool.compare of two saved results."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path

from gantool.api._common import in_notebook, public
from gantool.errors import UsageError

DEFAULT_METRICS = "fid,kid,prdc"


class Evaluation(Mapping):
    """evaluate's result: `result["fid"]` is a metric's value (mode-coverage's `modes` is the
    number of modes hit; `scores` has its total), `protocol` says how it was measured (so two
    results are only compared when it matches), `to_dict()` is what `--json` prints."""

    def __init__(self, report):
        self.report = report  # gantool.metrics.evaluation.Report

    def __getitem__(self, name: str):
        for score in self.report.scores:
            if score.name == name:
                return score.value
        raise KeyError(name)

    def __iter__(self):
        return iter(s.name for s in self.report.scores)

    def __len__(self) -> int:
        return len(self.report.scores)

    @property
    def scores(self) -> dict[str, dict]:
        """Each metric's value, std, total (mode counts), n (fake) and n_real."""
        return self.to_dict()["metrics"]

    @property
    def protocol(self) -> dict:
        return self.report.protocol

    @property
    def feature_extractor(self) -> str | None:
        return self.report.feature_extractor

    def to_dict(self) -> dict:
        """The JSON object `gantool evaluate --json` prints (gantool.compare reads it)."""
        return self.report.to_dict()

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in _row(name, s)) + "</tr>"
            for name, s in self.scores.items())
        title = html.escape(f"{self.report.fake} vs {self.report.real} "
                            f"({self.report.feature_extractor or 'no'} features)")
        return (f"<table><caption>{title}</caption><tr><th>metric</th><th>value</th>"
                f"<th>std</th><th>n fake</th><th>n real</th></tr>{rows}</table>")

    def __repr__(self) -> str:
        return f"Evaluation({dict(self)!r})"


def _row(name: str, score: dict) -> list[str]:
    std = "" if score["std"] is None else f"{score['std']:.3g}"
    return [name, _shown(score), std, str(score["n"] or ""), str(score["n_real"] or "")]


def _shown(score: dict) -> str:
    if score["value"] is None:
        return "n/a"
    if score.get("total") is not None:
        return f"{score['value']} / {score['total']}"
    return f"{score['value']:.6g}"


@public
def evaluate(fake: str | Path | None = None, *, run: str | Path | None = None,
             checkpoint: str | Path | None = None, n: int = 10_000, seed: int = 0,
             ema: bool = True, runs_root: str | Path = "runs", real: str | Path | None = None,
             real_stats: str | Path | None = None, save_stats: str | Path | None = None,
             force: bool = False, metrics: str | list[str] = DEFAULT_METRICS,
             feature_extractor: str | None = None, resize: str | None = None,
             inception_weights: str | Path | None = None,
             classifier_weights: str | Path | None = None,
             dinov2_weights: str | Path | None = None, dinov2_resize: str | None = None,
             dinov2_arch: str | None = None, batch_size: int = 100, device: str = "auto",
             prdc_k: int | None = None, kid_subsets: int | None = None,
             kid_subset_size: int | None = None, is_splits: int | None = None,
             mode_samples: int | None = None, memorization_threshold: float | None = None,
             max_samples: int = 10_000, show_nearest: str | Path | None = None,
             truncation: float | None = None, progress: bool = True) -> Evaluation:
    """Score generated samples against real ones (`gantool evaluate`).

    fake: an .npz/.npy array, an image folder or a dataset name; or draw n samples from
    `run` / `checkpoint` (default: runs/latest). real: a dataset name, folder or array
    (default: the run's dataset). metrics: a comma-separated string or a list (fid,
    fd-dinov2, kid, is, prdc, mode-coverage, memorization). truncation=t draws the samples of
    run / checkpoint with the truncation trick (gantool.sample's); the result's label and
    protocol record it, so it is never compared with an untruncated one. Every other option is the
    command's flag in snake_case (docs/evaluate.md). Notes go to stderr; progress renders in
    Jupyter and on a terminal (progress=False: none).
    """
    names = ([m.strip() for m in metrics.split(",")] if isinstance(metrics, str)
             else [str(m).strip() for m in metrics])
    names = [name for name in names if name]
    if not names:
        raise UsageError("--metrics is empty; give e.g. fid,kid")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, got {batch_size}")
    if max_samples < 2:
        raise UsageError(f"--max-samples must be at least 2, got {max_samples}")
    checkpoint = Path(checkpoint) if checkpoint is not None else None
    save_stats = Path(save_stats) if save_stats is not None else None
    show_nearest = Path(show_nearest) if show_nearest is not None else None
    best = checkpoint is not None and str(checkpoint) == "best" and not checkpoint.exists()
    given = [
        flag
        for flag, value in (("--fake", fake), ("--run", run), ("--checkpoint", checkpoint))
        if value is not None and not (best and flag == "--run")  # --run X --checkpoint best
    ]
    if len(given) > 1:
        raise UsageError(f"give one of {', '.join(given)}, not several")
    if fake == "-" and real == "-":
        raise UsageError("only one of --fake and --real can read stdin")
    if n < 1:
        raise UsageError("--n must be at least 1")
    truncation = _truncation(truncation, fake, run, checkpoint, save_stats)
    if save_stats is not None:
        if save_stats.suffix != ".npz":
            raise UsageError(f"--save-stats must end in .npz, got {save_stats}")
        if save_stats.exists() and not force:
            raise UsageError(f"{save_stats} exists; use --force to overwrite it")
    if real_stats is not None and real is not None:
        raise UsageError("give --real or --real-stats, not both")
    if show_nearest is not None:
        if "memorization" not in names:
            raise UsageError("--show-nearest shows what memorization finds: add it to --metrics")
        if show_nearest.suffix.lower() != ".png":
            raise UsageError(f"--show-nearest must end in .png, got {show_nearest}")
        if show_nearest.exists() and not force:
            raise UsageError(f"{show_nearest} exists; use --force to overwrite it")
    metric_flags = {
        "--prdc-k": prdc_k,
        "--kid-subsets": kid_subsets,
        "--kid-subset-size": kid_subset_size,
        "--is-splits": is_splits,
        "--mode-samples": mode_samples,
        "--memorization-threshold": memorization_threshold,
        "--dinov2-arch": dinov2_arch,
    }

    from gantool.devices import resolve_device
    from gantool.metrics import evaluation, sources

    dev = str(resolve_device(device))
    fake_source = None
    if fake is not None:
        fake_source = sources.open_source(str(fake))
    elif run is not None or checkpoint is not None or save_stats is None:
        fake_source = _generator_source(run, checkpoint, runs_root, n, seed, ema, dev,
                                        truncation)
    real_source = sources.open_source(str(real)) if real is not None else None
    if real_source is None and real_stats is None and fake_source is not None and fake_source.meta:
        real_source = sources.run_dataset(fake_source.meta)
    opts = evaluation.Options(
        metrics=names,
        feature_extractor=feature_extractor,
        inception_weights=_str(inception_weights),
        classifier_weights=_str(classifier_weights),
        dinov2_weights=_str(dinov2_weights),
        resize=resize,
        dinov2_resize=dinov2_resize,
        batch_size=batch_size,
        device=dev,
        metric_flags={k: v for k, v in metric_flags.items() if v is not None},
        max_samples=max_samples,
        seed=seed,
    )
    with _progress(progress) as update:
        report = evaluation.evaluate(
            fake_source,
            real_source,
            opts,
            real_stats=_str(real_stats),
            save_stats_to=_str(save_stats),
            note=lambda text: print(text, file=sys.stderr),
            progress=update,
        )
    if show_nearest is not None:
        from gantool.metrics.pairs_grid import write_nearest_pairs

        write_nearest_pairs(report, show_nearest)
        print(f"wrote {show_nearest}", file=sys.stderr)
    return Evaluation(report)


@public
def compare(a: str | Path, b: str | Path) -> list[dict]:
    """Compare two saved `evaluate --json` results (`gantool evaluate --compare A B`): one row
    per metric with "a", "b" and "difference"; refused if their protocols differ."""
    from gantool.metrics.compare import compare as compare_files

    return compare_files(a, b)


def _str(path) -> str | None:
    return None if path is None else str(path)


@contextmanager
def _progress(shown: bool):
    """progress(side, done, total): one updating line per side in Jupyter, a rich bar on a
    terminal (unless NO_COLOR), nothing otherwise."""
    if shown and in_notebook():
        from gantool.api._progress import EvaluationProgress

        yield EvaluationProgress()
        return
    if not shown or not sys.stderr.isatty() or os.environ.get("NO_COLOR"):
        yield lambda side, done, total: None
        return
    from rich.console import Console
    from rich.progress import Progress

    tasks: dict[str, int] = {}
    with Progress(console=Console(stderr=True), transient=True) as bar:

        def update(side: str, done: int, total: int) -> None:
            if side not in tasks:
                tasks[side] = bar.add_task(f"{side} features", total=total)
            bar.update(tasks[side], completed=done)

        yield update


def _truncation(truncation, fake, run, checkpoint, save_stats) -> float | None:
    """The checked threshold; refused where no samples are drawn from a generator."""
    if truncation is None:
        return None
    if fake is not None:
        raise UsageError("--truncation applies to samples drawn from --run/--checkpoint; --fake "
                         "samples are made already (draw them with gantool sample --truncation)")
    if run is None and checkpoint is None and save_stats is not None:
        raise UsageError("--truncation applies to samples drawn from --run/--checkpoint; "
                         "--save-stats alone draws none")
    from gantool.sampling import check_truncation

    return check_truncation(truncation)


def _generator_source(run, checkpoint, runs_root, n, seed, ema, device, truncation):
    from gantool.metrics import sources
    from gantool.train.checkpoint import chosen_checkpoint, load_generator

    path = chosen_checkpoint(checkpoint, None if run is None else str(run), runs_root)
    G, meta = load_generator(path, device=device, ema=ema)
    return sources.from_generator(G, meta, n, seed=seed, device=device, truncation=truncation)
