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
        help="Draw --n fake samples from this checkpoint file, or best: the best checkpoint "
        "of --run (train --eval-every keeps it).",
        show_default=False,
    ),
    n: int = typer.Option(10_000, "--n", help="How many samples to draw from --run/--checkpoint."),
    seed: int = typer.Option(
        0, "--seed", help="Seed of the drawn samples' latents, KID's subsets and IS's random splits."),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Use the run's EMA weights if kept."),
    runs_root: str = typer.Option("runs", "--runs-root", help="Where runs live."),
    real: str = typer.Option(
        None,
        "--real",
        help="Reference samples: a dataset name, folder or array (default: the run's dataset).",
        show_default=False,
    ),
    real_stats: str = typer.Option(
        None,
        "--real-stats",
        help="Precomputed real statistics: an .npz with mu, sigma (as pytorch-fid writes), or "
        "a shipped name (mnist-5k, mnist-test: digits features); fid and fd-dinov2 only.",
        show_default=False,
    ),
    save_stats: Path = typer.Option(
        None,
        "--save-stats",
        help="Write the real samples' feature statistics (mu, sigma) to this .npz.",
        show_default=False,
    ),
    force: bool = typer.Option(
        False, "--force", help="Let --save-stats and --show-nearest overwrite a file."
    ),
    metrics: str = typer.Option(
        DEFAULT_METRICS,
        "--metrics",
        help="Comma-separated: fid, fd-dinov2, kid, is, prdc, mode-coverage, memorization.",
    ),
    feature_extractor: str = typer.Option(
        None,
        "--feature-extractor",
        help="inception, dinov2-vits14, dinov2-vitb14, dinov2-vitl14, digits "
        "or identity (default: identity for points, digits "
        "for 28x28 images, else inception), or a FILE.safetensors from "
        "train-classifier --dataset folder.",
        show_default=False,
    ),
    resize: str = typer.Option(
        None,
        "--resize",
        help="How the inception extractor resizes to 299 px: legacy-pytorch (pytorch-fid), "
        "clean (clean-fid) or legacy-tf (TF FID, stylegan2-ada) (default: legacy-pytorch).",
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
    dinov2_weights: Path = typer.Option(
        None,
        "--dinov2-weights",
        help="DINOv2 weights (.pth from facebookresearch/dinov2 or timm's .safetensors) "
        "(default: the Hugging Face cache, else download).",
        show_default=False,
    ),
    dinov2_resize: str = typer.Option(
        None,
        "--dinov2-resize",
        help="How the dinov2-* extractors resize to 224 px: pil (dgm-eval's default, the "
        "published FD_DINOv2: the 8-bit RGB image, PIL bicubic) or clean (dgm-eval's "
        "--clean_resize: each channel as floats) (default: pil).",
        show_default=False,
    ),
    dinov2_arch: str = typer.Option(
        None,
        "--dinov2-arch",
        help="DINOv2 ViT for fd-dinov2: vits14, vitb14 or vitl14 (default: vitl14).",
        show_default=False,
    ),
    batch_size: int = typer.Option(100, "--batch-size", min=1, help="Samples per forward pass."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    prdc_k: int = typer.Option(
        None, "--prdc-k", help="Nearest neighbours for prdc (default: 5).", show_default=False
    ),
    kid_subsets: int = typer.Option(
        None, "--kid-subsets", help="KID subsets (default: 100).", show_default=False
    ),
    kid_subset_size: int = typer.Option(
        None,
        "--kid-subset-size",
        help="Samples per KID subset, shrinks to the smaller side (default: 1000).",
        show_default=False,
    ),
    is_splits: int = typer.Option(
        None, "--is-splits", help="IS splits (default: 10).", show_default=False
    ),
    mode_samples: int = typer.Option(
        None,
        "--mode-samples",
        help="Fake samples mode-coverage counts (default: 2500 for 2-D mixtures, as in the "
        "papers; all for digits).",
        show_default=False,
    ),
    memorization_threshold: float = typer.Option(
        None,
        "--memorization-threshold",
        help="memorization flags a sample closer to its nearest training sample than this share "
        "of that sample's own nearest-neighbour distance (default: 0.5).",
        show_default=False,
    ),
    max_samples: int = typer.Option(
        10_000,
        "--max-samples",
        min=2,
        help="Features kept per side for kid and prdc, and fake features for memorization (a "
        "seeded uniform random subset, the same for each); memorization searches every real "
        "one.",
    ),
    show_nearest: Path = typer.Option(
        None,
        "--show-nearest",
        help="With memorization: write the closest (fake, real) pairs as a .png grid.",
        show_default=False,
    ),
    compare: tuple[Path, Path] = typer.Option(
        (None, None),
        "--compare",
        help="Compare two results of --json (A.json B.json); refused if their protocols differ.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object on stdout."),
) -> None:
    """Score generated samples against real ones.

    Example: gantool evaluate --run runs/latest --metrics fid,kid,mode-coverage

    Pipe: gantool sample --n 10000 --format npz --out - |
    gantool evaluate --fake - --real mnist-5k --json

    Folder: gantool evaluate --fake samples/ --real cifar10

    Compare: gantool evaluate --compare a.json b.json
    """
    if compare[0] is not None:
        _print_comparison(compare, as_json)
        return
    names = [name.strip() for name in metrics.split(",") if name.strip()]
    if not names:
        raise UsageError("--metrics is empty; give e.g. fid,kid")
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
        dinov2_weights=_str(dinov2_weights),
        resize=resize,
        dinov2_resize=dinov2_resize,
        batch_size=batch_size,
        device=dev,
        metric_flags={k: v for k, v in metric_flags.items() if v is not None},
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
    if show_nearest is not None:
        from gantool.metrics.pairs_grid import write_nearest_pairs

        write_nearest_pairs(report, show_nearest)
        print(f"wrote {show_nearest}", file=sys.stderr)
    if as_json:
        print(json.dumps(report.to_dict()))
    else:
        _print_table(report)


def _print_comparison(paths: tuple[Path, Path], as_json: bool) -> None:
    from gantool.metrics.compare import compare

    rows = compare(*paths)
    if as_json:
        print(json.dumps(rows))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{paths[0]} -> {paths[1]}", box=None, header_style="bold")
    for column in ("metric", "A", "B", "B - A"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for row in rows:
        table.add_row(row["metric"], *(_number(row[k]) for k in ("a", "b", "difference")))
    Console(soft_wrap=not sys.stdout.isatty()).print(table)


def _number(value) -> str:
    return "n/a" if value is None else f"{value:.6g}"


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
    from gantool.train.checkpoint import chosen_checkpoint, load_generator

    path = chosen_checkpoint(checkpoint, run, runs_root)
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
