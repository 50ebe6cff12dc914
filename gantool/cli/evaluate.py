"""`gantool evaluate`: FID, KID, IS, precision/recall/density/coverage and mode coverage."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

DEFAULT_METRICS = "fid,kid,prdc"  # gantool.api.evaluate's default too


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
    truncation: float = typer.Option(
        None,
        "--truncation",
        metavar="T",
        help="Draw the --run/--checkpoint samples with the truncation trick: every latent entry "
        "within [-T, T] (as gantool sample --truncation). The result's label and protocol say "
        "so; --compare refuses it against an untruncated one.",
        show_default=False,
    ),
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
    from gantool import api

    result = api.evaluate(
        fake, run=run, checkpoint=checkpoint, n=n, seed=seed, ema=ema, runs_root=runs_root,
        real=real, real_stats=real_stats, save_stats=save_stats, force=force, metrics=metrics,
        feature_extractor=feature_extractor, resize=resize,
        inception_weights=inception_weights, classifier_weights=classifier_weights,
        dinov2_weights=dinov2_weights, dinov2_resize=dinov2_resize, dinov2_arch=dinov2_arch,
        batch_size=batch_size, device=device, prdc_k=prdc_k, kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size, is_splits=is_splits, mode_samples=mode_samples,
        memorization_threshold=memorization_threshold, max_samples=max_samples,
        show_nearest=show_nearest, truncation=truncation,
    )
    if as_json:
        print(json.dumps(result.to_dict()))
    else:
        _print_table(result.report)


def _print_comparison(paths: tuple[Path, Path], as_json: bool) -> None:
    from gantool import api

    rows = api.compare(*paths)
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
