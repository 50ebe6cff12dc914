"""`gantool sample`: images (or 2-D points) from a trained generator.

grid -> one PNG with ceil(sqrt(n)) images per row, upscaled for a screen (--grid-scale);
png -> one file per image in a directory; npz / npy -> uint8 (N, H, W, C) images or float32
(N, D) points; csv -> points. `--out -` writes the bytes to stdout. The writing lives in
gantool.sample_output; this module only turns options into calls.
"""

from __future__ import annotations

from pathlib import Path

import typer

from gantool.errors import UsageError

INTERPOLATION_STEPS = 10


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
                                    f"{INTERPOLATION_STEPS} images walking between two "
                                    "random latents (replaces --n).", show_default=False),
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

    Pipe: gantool sample --n 10000 --format npz --out - | gantool evaluate --fake - --real mnist-5k
    """
    from gantool import sample_output

    if n < 1:
        raise UsageError("--n must be at least 1")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if interpolate is not None and interpolate < 1:
        raise UsageError("--interpolate must be at least 1")
    out = out or sample_output.DEFAULT_OUT.get(format, "")
    count = n if interpolate is None else interpolate * INTERPOLATION_STEPS
    sample_output.check_target(out, format, count, force)
    scale = _grid_scale(grid_scale, format)

    from gantool.devices import resolve_device
    from gantool.train.checkpoint import chosen_checkpoint, load_generator

    source = chosen_checkpoint(checkpoint, run, runs_root)
    dev = resolve_device(device)
    G, meta = load_generator(source, device=dev, ema=ema)
    is_image = len(G.sample_shape) == 3
    if is_image and format == "csv":
        raise UsageError("--format csv is for 2-D point models; images use grid, png, npz or npy")
    if not is_image and format == "png":
        raise UsageError("this model makes points, not images: use grid (a scatter plot), "
                         "csv, npz or npy")

    from gantool import sampling
    from gantool.memory import require_memory

    latents, columns = None, None
    if interpolate is not None:
        if not is_image:
            raise UsageError("--interpolate is for image models")
        n, columns = interpolate * INTERPOLATION_STEPS, INTERPOLATION_STEPS
        latents = sampling.interpolation_latents(interpolate, columns, G.z_dim, seed)
    if not is_image and grid_scale != "auto":
        raise UsageError("--grid-scale is for image grids; this model makes points")
    # The whole output is kept in memory (twice for a grid): refuse it before allocating.
    require_memory(sampling.output_bytes(G, n) * (2 if format == "grid" else 1), f"--n {n}")
    labels = sampling.class_labels(G, n, class_index)
    array = sampling.sample_array(G, n, seed=seed, batch_size=batch_size, device=dev,
                                  labels=labels, latents=latents)
    modes = meta.get("data_info", {}).get("modes")
    sample_output.write_samples(
        array, out, format, columns=columns, grid_scale=scale,
        labels=labels.numpy() if labels is not None else None,
        modes=modes.numpy() if modes is not None else None,
        title=f"{meta.get('dataset')}, step {meta.get('step')}")
    if out != "-":
        print(out)


def _grid_scale(value: str, format: str) -> int:
    """--grid-scale as the pictures module takes it: 0 (auto) or a positive factor."""
    scale = 0 if value == "auto" else int(value) if value.isdigit() else -1
    if scale < 0:
        raise UsageError(f"--grid-scale must be auto, 0 (auto) or a positive integer, "
                         f"got {value!r}")
    if format != "grid" and value != "auto":
        raise UsageError(f"--grid-scale applies to --format grid, not {format}")
    return scale
