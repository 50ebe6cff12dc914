"""gantool.sample: samples of a trained generator as a numpy array (and, given `out`, the
command's files: a grid PNG, a PNG per image, npz, npy or csv)."""

from __future__ import annotations

from pathlib import Path

from gantool.api._common import Picture, public
from gantool.errors import UsageError

INTERPOLATION_STEPS = 10


@public
def sample(run: str | Path | None = None, *, checkpoint: str | Path | None = None,
           n: int = 64, seed: int = 0, ema: bool = True, class_index: int | None = None,
           interpolate: int | None = None, batch_size: int = 500, device: str = "auto",
           runs_root: str | Path = "runs", out: str | Path | None = None,
           format: str = "grid", grid_scale: str | int = "auto", force: bool = False,
           truncation: float | None = None):
    """Draw samples from a trained generator (`gantool sample`) and return them as a numpy
    array: uint8 (N, H, W, C) images or float32 (N, D) points.

    run: a run directory or a name under runs_root (default: runs/latest); checkpoint: a
    checkpoint file instead, or "best" (the best checkpoint of run). class_index is the
    command's --class. interpolate=K: K rows of 10 images walking between two random latents
    (replaces n). truncation=t: BigGAN's truncation trick, every latent entry redrawn until
    it lies in [-t, t] (None: plain N(0, I); with interpolate, the ends of each row). With
    `out`, the samples are also written as the command writes them (format grid, png, npz,
    npy or csv; grid_scale and force as its flags).
    """
    array, _, _ = _draw(run, checkpoint, n, seed, ema, class_index, interpolate, batch_size,
                        device, runs_root, out, format, grid_scale, force, truncation)
    return array


def picture(run, *, n: int = 64, seed: int = 0, grid_scale: str | int = "auto",
            **options) -> Picture:
    """Samples as a Picture: an image grid, or a scatter plot over the modes for points."""
    from gantool import pictures

    array, extras, _ = _draw(run, options.pop("checkpoint", None), n, seed,
                             options.pop("ema", True), options.pop("class_index", None),
                             options.pop("interpolate", None), options.pop("batch_size", 500),
                             options.pop("device", "auto"), options.pop("runs_root", "runs"),
                             None, "grid", grid_scale, False,
                             options.pop("truncation", None), **options)
    if array.ndim == 4:
        image = pictures.grid_image(array.transpose(0, 3, 1, 2), extras["columns"],
                                    extras["scale"])
        return Picture.from_image(image, extras["title"])
    return Picture.from_drawing(lambda path: pictures.save_scatter(
        array, path, modes=extras["modes"], title=extras["title"]), extras["title"])


def _draw(run, checkpoint, n, seed, ema, class_index, interpolate, batch_size, device,
          runs_root, out, format, grid_scale, force, truncation, **unknown):
    if unknown:
        raise UsageError(f"unknown option {next(iter(unknown))!r} of gantool.sample")
    from gantool import sample_output, sampling

    if n < 1:
        raise UsageError("--n must be at least 1")
    if batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    if interpolate is not None and interpolate < 1:
        raise UsageError("--interpolate must be at least 1")
    truncation = sampling.check_truncation(truncation)
    count = n if interpolate is None else interpolate * INTERPOLATION_STEPS
    if out is not None:
        out = str(out)
        sample_output.check_target(out, format, count, force)
    elif format not in sample_output.FORMATS:
        raise UsageError(f"unknown --format {format!r}; use one of: "
                         f"{', '.join(sample_output.FORMATS)}")
    scale = _grid_scale(str(grid_scale), format)

    from gantool.devices import resolve_device
    from gantool.train.checkpoint import chosen_checkpoint, load_generator

    source = chosen_checkpoint(checkpoint, None if run is None else str(run), runs_root)
    dev = resolve_device(device)
    G, meta = load_generator(source, device=dev, ema=ema)
    is_image = len(G.sample_shape) == 3
    if is_image and format == "csv":
        raise UsageError("--format csv is for 2-D point models; images use grid, png, npz or npy")
    if not is_image and format == "png":
        raise UsageError("this model makes points, not images: use grid (a scatter plot), "
                         "csv, npz or npy")

    from gantool.memory import require_memory

    latents, columns = None, None
    if interpolate is not None:
        if not is_image:
            raise UsageError("--interpolate is for image models")
        n, columns = interpolate * INTERPOLATION_STEPS, INTERPOLATION_STEPS
        latents = sampling.interpolation_latents(interpolate, columns, G.z_dim, seed,
                                                 truncation)
    if not is_image and str(grid_scale) != "auto":
        raise UsageError("--grid-scale is for image grids; this model makes points")
    # The whole output is kept in memory (twice for a grid): refuse it before allocating.
    require_memory(sampling.output_bytes(G, n) * (2 if format == "grid" else 1), f"--n {n}")
    labels = sampling.class_labels(G, n, class_index)
    array = sampling.sample_array(G, n, seed=seed, batch_size=batch_size, device=dev,
                                  labels=labels, latents=latents,
                                  truncation=None if latents is not None else truncation)
    modes = meta.get("data_info", {}).get("modes")
    extras = {"columns": columns, "scale": scale,
              "labels": labels.numpy() if labels is not None else None,
              "modes": modes.numpy() if modes is not None else None,
              "title": _title(meta, truncation)}
    if out is not None:
        sample_output.write_samples(array, out, format, columns=columns, grid_scale=scale,
                                    labels=extras["labels"], modes=extras["modes"],
                                    title=extras["title"])
    return array, extras, meta


def _title(meta: dict, truncation: float | None) -> str:
    """The grid's and scatter plot's title: a truncated sample says so."""
    title = f"{meta.get('dataset')}, step {meta.get('step')}"
    return title if truncation is None else f"{title}, truncation {truncation:g}"


def _grid_scale(value: str, format: str) -> int:
    """--grid-scale as the pictures module takes it: 0 (auto) or a positive factor."""
    scale = 0 if value == "auto" else int(value) if value.isdigit() else -1
    if scale < 0:
        raise UsageError(f"--grid-scale must be auto, 0 (auto) or a positive integer, "
                         f"got {value!r}")
    if format != "grid" and value != "auto":
        raise UsageError(f"--grid-scale applies to --format grid, not {format}")
    return scale
