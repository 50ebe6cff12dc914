"""`gantool evaluate`: FID, KID, IS, precision/recall/density/coverage and mode coverage."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path

import typer

from gantool.errors import UsageError

DEFAULT_METRICS = "fid,kid,prdc"


def evaluate_command(
    fake: str = typer.Option(
        None,
        "--fake",
        help="Samples to score: an .npz/.npy array, an "
        "image folder, a dataset name, or - (npz/npy on stdin).",
        show_default=False,
    ),
    run: str = typer.Option(
        None,
        "--run",
        help="Draw --n fake samples from this run (a directory or a name under --runs-root).",
        show_default=False,
    ),
    checkpoint: Path = typer.Option(
        None,
        "--checkpoint",
        help="Draw --n fake samples from this checkpoint file.",
        show_default=False,
    ),
    n: int = typer.Option(10_000, "--n", help="How many samples to draw from --run/--checkpoint."),
    seed: int = typer.Option(0, "--seed", help="Latent seed for drawn samples and KID subsets."),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Use the run's EMA weights if kept."),
    runs_root: str = typer.Option("runs", "--runs-root", help="Where runs live."),
    real: str = typer.Option(
        None,
        "--real",
        help="Reference samples: a dataset name, folder or array (default: the run's dataset).",
        show_default=False,
    ),
    real_stats: Path = typer.Option(
        None,
        "--real-stats",
        help="Precomputed real statistics (.npz with mu, sigma as pytorch-fid writes); FID only.",
        show_default=False,
    ),
    save_stats: Path = typer.Option(
        None,
        "--save-stats",
        help="Write the real samples' feature statistics (mu, sigma) to this .npz.",
        show_default=False,
    ),
    force: bool = typer.Option(False, "--force", help="Let --save-stats overwrite a file."),
    metrics: str = typer.Option(
        DEFAULT_METRICS, "--metrics", help="Comma-separated: fid, kid, is, prdc, mode-coverage."
    ),
    feature_extractor: str = typer.Option(
        None,
        "--feature-extractor",
        help="inception, digits "
        "or identity (default: identity for points, digits "
        "for 28x28 images, else inception).",
        show_default=False,
    ),
    inception_weights: Path = typer.Option(
        None,
        "--inception-weights",
        help="pt_inception-2015-12-05-6726825d.pth (default: torch hub cache, else download).",
        show_default=False,
    ),
    classifier_weights: Path = typer.Option(
        None,
        "--classifier-weights",
        help="Digit classifier .safetensors (default: the shipped one).",
        show_default=False,
    ),
    batch_size: int = typer.Option(100, "--batch-size", min=1, help="Samples per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    prdc_k: int = typer.Option(5, "--prdc-k", min=1, help="Nearest neighbours for prdc."),
    kid_subsets: int = typer.Option(100, "--kid-subsets", min=1, help="KID subsets."),
    kid_subset_size: int = typer.Option(
        1000,
        "--kid-subset-size",
        min=2,
        help="Samples per KID subset (shrinks to the smaller side).",
    ),
    is_splits: int = typer.Option(10, "--is-splits", min=1, help="IS splits."),
    max_samples: int = typer.Option(
        10_000,
        "--max-samples",
        min=2,
        help="Features kept per side for kid and prdc (the first ones).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Score generated samples against real ones.

    Example: gantool evaluate --run runs/latest --metrics fid,kid,mode-coverage

    Pipe: gantool sample --n 10000 --format npz --out - |
    gantool evaluate --fake - --real mnist-5k --json

    Folder: gantool evaluate --fake samples/ --real cifar10
    """
    names = [name.strip() for name in metrics.split(",") if name.strip()]
    if not names:
        raise UsageError("--metrics is empty; give e.g. fid,kid")
    given = [
        flag
        for flag, value in (("--fake", fake), ("--run", run), ("--checkpoint", checkpoint))
        if value is not None
    ]
    if len(given) > 1:
        raise UsageError(f"give one of {', '.join(given)}, not several")
    if fake == "-" and real == "-":
        raise UsageError("only one of --fake and --real can read stdin")
    if n < 1:
        raise UsageError("--n must be at least 1")
    if save_stats is not None:
        if save_stats.suffix != ".npz":
            raise UsageError(f"--save-stats must end in .npz, got {save_stats}")
        if save_stats.exists() and not force:
            raise UsageError(f"{save_stats} exists; use --force to overwrite it")
    if real_stats is not None and real is not None:
        raise UsageError("give --real or --real-stats, not both")

    from gantool.metrics import evaluation, sources
    from gantool.devices import resolve_device

    dev = str(resolve_device(device))
    fake_source = None
    if fake is not None:
        fake_source = sources.open_source(fake)
    elif run is not None or checkpoint is not None or save_stats is None:
        fake_source = _generator_source(run, checkpoint, runs_root, n, seed, ema, dev)
    real_source = sources.open_source(real) if real is not None else None
    if real_source is None and real_stats is None and fake_source is not None and fake_source.meta:
        real_source = sources.run_dataset(fake_source.meta)
    opts = evaluation.Options(
        metrics=names,
        feature_extractor=feature_extractor,
        inception_weights=_str(inception_weights),
        classifier_weights=_str(classifier_weights),
        batch_size=batch_size,
        device=dev,
        prdc_k=prdc_k,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
        is_splits=is_splits,
        max_samples=max_samples,
        seed=seed,
    )
    with _progress_bar() as progress:
        report = evaluation.evaluate(
            fake_source,
            real_source,
            opts,
            real_stats=_str(real_stats),
            save_stats_to=_str(save_stats),
            note=lambda text: print(text, file=sys.stderr),
            progress=progress,
        )
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        _print_table(report)


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


@contextmanager
def _progress_bar():
    """A rich progress bar on stderr when it is a terminal (and NO_COLOR is unset), else nothing."""
    if not sys.stderr.isatty() or os.environ.get("NO_COLOR"):
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


def _generator_source(run, checkpoint, runs_root, n, seed, ema, device):
    from gantool.metrics import sources
    from gantool.train.checkpoint import load_generator
    from gantool.train.rundir import resolve_run

    path = checkpoint if checkpoint is not None else resolve_run(run, runs_root)
    G, meta = load_generator(path, device=device, ema=ema)
    return sources.from_generator(G, meta, n, seed=seed, device=device)


def _print_table(report) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(soft_wrap=not sys.stdout.isatty())
    if not report.scores:
        console.print(
            f"wrote {report.saved_stats} ({report.n_real} real samples, "
            f"{report.feature_extractor} features)"
        )
        return
    title = f"{report.fake} vs {report.real} ({report.feature_extractor or 'no'} features)"
    table = Table(title=title, box=None, header_style="bold")
    for column in ("metric", "value", "std", "n fake", "n real"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for s in report.scores:
        value = "n/a" if s.value is None else f"{s.value:.6g}"
        if s.total is not None:
            value = f"{s.value} / {s.total}"
        std = "" if s.std is None else f"{s.std:.3g}"
        table.add_row(s.name, value, std, _count(s.n), _count(s.n_real))
    console.print(table)
    if report.saved_stats:
        console.print(f"wrote {report.saved_stats}")


def _count(n: int | None) -> str:
    return "" if n is None else str(n)
