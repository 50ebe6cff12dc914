"""`gantool sample`: images (or 2-D points) from a trained generator.

grid -> one PNG with ceil(sqrt(n)) images per row, upscaled for a screen (--grid-scale);
png -> one file per image in a directory; npz / npy -> uint8 (N, H, W, C) images or float32
(N, D) points; csv -> points. `--out -` writes the bytes to stdout. The writing lives in
gantool.sample_output; gantool.api.sample draws and checks; this module only parses.
"""

from __future__ import annotations

from pathlib import Path

import typer



def sample_command(
    run: str = typer.Option(None, "--run", help="Run directory or name under --runs-root "
                            "(default: runs/latest).", show_default=False),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="A checkpoint file instead "
                                    "of a run, or best: the best checkpoint of --run (train "
                                    "--eval-every keeps it).", show_default=False),
    n: int = typer.Option(64, "--n", help="How many samples."),
    format: str = typer.Option("grid", "--format", help="grid (one PNG), png (a file per "
                               "image), npz, npy, or csv (2-D points)."),
    out: str = typer.Option(None, "--out", help="Output file (directory for png); - for "
                            "stdout. Default: samples.png / samples/ / samples.npz ...",
                            show_default=False),
    seed: int = typer.Option(0, "--seed", help="Latent seed: same seed, same samples."),
    ema: bool = typer.Option(True, "--ema/--no-ema", help="Use the EMA weights when the run "
                             "kept them."),
    class_index: int = typer.Option(None, "--class", help="Only this class (conditional "
                                    "models); default cycles through the classes.",
                                    show_default=False),
    interpolate: int = typer.Option(None, "--interpolate", metavar="K", help="K rows of "
                                    "10 images walking between two "
                                    "random latents (replaces --n).", show_default=False),
    truncation: float = typer.Option(None, "--truncation", metavar="T", help="Truncation "
                                     "trick (BigGAN): redraw every latent entry outside "
                                     "[-T, T]; smaller T, less variety, cleaner samples "
                                     "(e.g. 0.7; at least 0.01). Default: none.",
                                     show_default=False),
    batch_size: int = typer.Option(500, "--batch-size", help="Samples per forward pass "
                                   "(bounds memory)."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or mps."),
    grid_scale: str = typer.Option("auto", "--grid-scale", metavar="N", help="Enlarge a grid "
                                   "N times (nearest neighbour, crisp pixels); auto: to 512-1023 "
                                   "px wide; 1: raw size."),
    runs_root: str = typer.Option("runs", "--runs-root", help="Where runs live."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
) -> None:
    """Draw samples from a trained generator.

    Example: gantool sample --n 64   (an 8x8 grid in samples.png)

    Arrays: gantool sample --n 50000 --format npz --out fake.npz

    Truncated: gantool sample --n 64 --truncation 0.7

    Pipe: gantool sample --n 10000 --format npz --out - | gantool evaluate --fake - --real mnist-5k
    """
    from gantool import api, sample_output

    target = out or sample_output.DEFAULT_OUT.get(format, "")
    api.sample(run, checkpoint=checkpoint, n=n, seed=seed, ema=ema, class_index=class_index,
               interpolate=interpolate, batch_size=batch_size, device=device,
               runs_root=runs_root, out=target, format=format, grid_scale=grid_scale,
               force=force, truncation=truncation)
    if target != "-":
        print(target)
