"""`gantool sample`: images (or 2-D points) from a trained generator.

grid -> one PNG with ceil(sqrt(n)) images per row; png -> one file per image in a directory;
npz / npy -> uint8 (N, H, W, C) images or float32 (N, D) points; csv -> points. `--out -`
writes the bytes to stdout. Existing files are never overwritten unless --force, and every
file is written to a temp name and renamed, so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from gantool.errors import UsageError

FORMATS = ("grid", "png", "npz", "npy", "csv")
DEFAULT_OUT = {"grid": "samples.png", "png": "samples", "npz": "samples.npz",
               "npy": "samples.npy", "csv": "samples.csv"}
INTERPOLATION_STEPS = 10


def sample_command(
    run: str = typer.Option(None, "--run", help="Run directory or name under --runs-root "
                            "(default: runs/latest).", show_default=False),
    checkpoint: Path = typer.Option(None, "--checkpoint", help="A checkpoint file instead "
                                    "of a run.", show_default=False),
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
    runs_root: str = typer.Option("runs", "--runs-root", help="Where runs live."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
) -> None:
    """Draw samples from a trained generator.

    Example: gantool sample --n 64   (an 8x8 grid in samples.png)

    Arrays: gantool sample --n 50000 --format npz --out fake.npz

    Pipe: gantool sample --n 10000 --format npz --out - | gantool evaluate --fake - --real mnist-5k
    """
    if format not in FORMATS:
        raise UsageError(f"unknown --format {format!r}; use one of: {', '.join(FORMATS)}")
    if n < 1:
        raise UsageError("--n must be at least 1")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if interpolate is not None and interpolate < 1:
        raise UsageError("--interpolate must be at least 1")
    if run is not None and checkpoint is not None:
        raise UsageError("give --run or --checkpoint, not both")
    out = out or DEFAULT_OUT[format]
    if out == "-" and format == "png":
        raise UsageError("--format png writes a directory of files; it cannot go to stdout")
    _refuse_overwrite(out, format, n if interpolate is None else interpolate *
                      INTERPOLATION_STEPS, force)

    from gantool.train.checkpoint import load_generator
    from gantool.devices import resolve_device
    from gantool.train.rundir import resolve_run

    source = checkpoint if checkpoint is not None else resolve_run(run, runs_root)
    dev = resolve_device(device)
    G, meta = load_generator(source, device=dev, ema=ema)
    is_image = len(G.sample_shape) == 3
    if is_image and format == "csv":
        raise UsageError("--format csv is for 2-D point models; images use grid, png, npz or npy")
    if not is_image and format == "png":
        raise UsageError("this model makes points, not images: use grid (a scatter plot), "
                         "csv, npz or npy")

    from gantool import sampling

    latents, columns = None, None
    if interpolate is not None:
        if not is_image:
            raise UsageError("--interpolate is for image models")
        n, columns = interpolate * INTERPOLATION_STEPS, INTERPOLATION_STEPS
        latents = sampling.interpolation_latents(interpolate, columns, G.z_dim, seed)
    labels = sampling.class_labels(G, n, class_index)
    array = sampling.sample_array(G, n, seed=seed, batch_size=batch_size, device=dev,
                                  labels=labels, latents=latents)
    _write(array, out, format, columns, meta, labels)
    if out != "-":
        print(out)


def _refuse_overwrite(out: str, format: str, n: int, force: bool) -> None:
    if out == "-" or force:
        return
    path = Path(out)
    if format == "png":
        if path.exists() and not path.is_dir():
            raise UsageError(f"--out {out} exists and is not a directory")
        clash = [p for p in (path / _png_name(i, n) for i in (0, n - 1)) if p.exists()]
        if clash:
            raise UsageError(f"{clash[0]} exists; use --force to overwrite or another --out")
    elif path.exists():
        raise UsageError(f"{out} exists; use --force to overwrite or another --out")


def _png_name(i: int, n: int) -> str:
    return f"sample-{i:0{max(6, len(str(n - 1)))}d}.png"


def _write(array, out: str, format: str, columns, meta: dict, labels) -> None:
    import numpy as np

    from gantool import sampling
    from gantool.io import atomic_write
    from gantool.train import grids

    stdout = out == "-"
    if format == "grid":
        if array.ndim == 4:
            nchw = array.transpose(0, 3, 1, 2)
            image = grids.make_grid(nchw, columns or grids.grid_columns(len(array)))
            if stdout:
                grids.to_pil(image).save(sys.stdout.buffer, format="PNG")
            else:
                grids.save_png(image, out)
        else:
            info = meta.get("data_info", {})
            modes = info.get("modes")
            target = sys.stdout.buffer if stdout else out
            _scatter(array, target, modes, meta)
    elif format == "png":
        directory = Path(out)
        directory.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(array):
            path = directory / _png_name(i, len(array))
            with atomic_write(path, "wb") as handle:
                grids.to_pil(image).save(handle, format="PNG")
    elif format in ("npz", "npy"):
        def save(handle):
            if format == "npz":
                extra = {"labels": labels.numpy()} if labels is not None else {}
                sampling.save_npz(handle, data=array, **extra)
            else:
                np.save(handle, array, allow_pickle=False)
        if stdout:
            save(sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            with atomic_write(out) as handle:
                save(handle)
    else:  # csv of points
        header = ",".join(f"x{i}" for i in range(array.shape[1]))
        if stdout:
            np.savetxt(sys.stdout.buffer, array, delimiter=",", header=header, comments="",
                       fmt="%.6g")
        else:
            with atomic_write(out) as handle:
                np.savetxt(handle, array, delimiter=",", header=header, comments="", fmt="%.6g")


def _scatter(points, target, modes, meta) -> None:
    """A scatter plot over the real modes, to a file or (rendered in a temp dir) to stdout."""
    import tempfile

    from gantool.train import grids

    modes_np = modes.numpy() if modes is not None else None
    title = f"{meta.get('dataset')}, step {meta.get('step')}"
    if not hasattr(target, "write"):
        grids.save_scatter(points, target, modes=modes_np, title=title)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scatter.png"
        grids.save_scatter(points, path, modes=modes_np, title=title)
        target.write(path.read_bytes())
