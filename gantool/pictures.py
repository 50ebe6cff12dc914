"""Pictures: sample grids, 2-D scatter plots, losses.png and progress.gif.

Used by training (snapshots), sampling and anything else that draws; it imports neither.
Grids are assembled in numpy (uint8) and written with PIL; plots use matplotlib's Agg backend
(imported here only, so nothing else pays for it). A grid can be upscaled by an integer factor
with nearest-neighbour pixels, so 28-pixel digits stay crisp and a screen shows them large.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gantool.errors import UsageError
from gantool.io import atomic_write

AUTO_GRID_WIDTH = 512  # scale 0 (auto) enlarges a grid to at least this many pixels
CHECKER = (204, 153)  # the two greys behind transparent pixels, as image editors show them
CHECKER_SQUARE = 4  # pixels per checkerboard square (before upscaling)


def parse_colour(text: str, option: str) -> tuple[int, int, int]:
    """A colour name Pillow's ImageColor knows (white, black, teal, ...) or #rrggbb -> (r, g, b);
    anything else is a UsageError naming `option`."""
    from PIL import ImageColor

    try:
        return ImageColor.getrgb(text)[:3]
    except (ValueError, AttributeError):
        raise UsageError(f"{option} {text!r} is not a colour: give a name such as white or "
                         "black, or #rrggbb") from None


def grid_columns(n: int) -> int:
    return max(1, math.ceil(math.sqrt(n)))


def make_grid(images: np.ndarray, columns: int | None = None, pad: int = 2) -> np.ndarray:
    """(N, C, H, W) uint8 -> one (rows*(H+pad)+pad, cols*(W+pad)+pad, C) uint8 image."""
    n, c, h, w = images.shape
    cols = columns or grid_columns(n)
    rows = math.ceil(n / cols)
    grid = np.zeros((rows * (h + pad) + pad, cols * (w + pad) + pad, c), dtype=np.uint8)
    if c == 4:
        grid[..., 3] = 255  # the padding stays opaque black, as in grey and RGB grids
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[top:top + h, left:left + w] = images[i].transpose(1, 2, 0)
    return grid


def to_pil(image_hwc: np.ndarray):
    """(H, W, C) uint8 with C 1 (L), 3 (RGB) or 4 (RGBA) -> a PIL image."""
    from PIL import Image

    if image_hwc.shape[2] == 1:
        return Image.fromarray(image_hwc[:, :, 0], mode="L")
    return Image.fromarray(image_hwc, mode="RGBA" if image_hwc.shape[2] == 4 else "RGB")


def over_checkerboard(image_hwc: np.ndarray, square: int = CHECKER_SQUARE) -> np.ndarray:
    """An (H, W, 4) RGBA image composited onto a grey checkerboard -> (H, W, 3) RGB, so
    transparency is visible in any viewer (and in a GIF or TensorBoard, which would drop it)."""
    h, w = image_hwc.shape[:2]
    rows, cols = np.indices((h, w)) // square
    board = np.where(((rows + cols) % 2 == 0)[..., None], CHECKER[0], CHECKER[1])
    alpha = image_hwc[..., 3:].astype(np.float32) / 255
    drawn = image_hwc[..., :3] * alpha + board * (1 - alpha)
    return np.rint(drawn).astype(np.uint8)


def save_png(image_hwc: np.ndarray, path: str | Path) -> None:
    """Write an (H, W, C) uint8 image as PNG atomically."""
    with atomic_write(path) as handle:
        to_pil(image_hwc).save(handle, format="PNG")


def grid_scale(width: int, scale: int = 0) -> int:
    """The integer upscaling factor of a `width`-pixel grid: `scale`, or for 0 (auto) the
    smallest one that makes it at least AUTO_GRID_WIDTH wide (so 512 to 1023 pixels; a grid
    already that wide stays raw)."""
    if not isinstance(scale, int) or scale < 0:
        raise UsageError(f"grid scale must be 0 (auto) or a positive integer, got {scale!r}")
    return scale or max(1, math.ceil(AUTO_GRID_WIDTH / width))


def upscale(image_hwc: np.ndarray, factor: int) -> np.ndarray:
    """Each pixel as a factor x factor block (nearest neighbour: no blur, no new colours)."""
    if factor == 1:
        return image_hwc
    return image_hwc.repeat(factor, axis=0).repeat(factor, axis=1)


def grid_image(images: np.ndarray, columns: int | None = None, scale: int = 1) -> np.ndarray:
    """(N, C, H, W) uint8 -> the grid as one (H', W', C) image, upscaled (0: auto); RGBA
    images are drawn over a checkerboard (RGB out)."""
    grid = make_grid(images, columns)
    factor = grid_scale(grid.shape[1], scale)
    if grid.shape[2] == 4:  # the checkerboard at the shown scale, whatever the upscaling
        return over_checkerboard(upscale(grid, factor), CHECKER_SQUARE * factor)
    return upscale(grid, factor)


def save_grid(images: np.ndarray, path: str | Path, columns: int | None = None,
              scale: int = 1) -> None:
    """A grid PNG of (N, C, H, W) uint8 images; scale 1 is raw size, 0 auto (see grid_scale)."""
    save_png(grid_image(images, columns, scale), path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_scatter(points: np.ndarray, path: str | Path, *, real: np.ndarray | None = None,
                 modes: np.ndarray | None = None, title: str = "") -> None:
    """A 2-D scatter of generated points over the real data and the mixture's modes."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="#bbbbbb", label="real")
    ax.scatter(points[:, 0], points[:, 1], s=3, c="#d62728", label="generated")
    if modes is not None:
        ax.scatter(modes[:, 0], modes[:, 1], s=40, marker="x", c="black", label="modes")
    # Frame the data, not the samples: a collapsed generator must still show every mode it missed.
    reference = next(a for a in (real, modes, points) if a is not None)
    finite = reference[np.isfinite(reference).all(axis=1)]
    if len(finite):
        lo, hi = finite.min(axis=0), finite.max(axis=0)
        margin = 0.25 * (hi - lo).max() + 1e-6
        ax.set_xlim(lo[0] - margin, hi[0] + margin)
        ax.set_ylim(lo[1] - margin, hi[1] + margin)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=6)
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)


# --eval-every's curves in losses.png: (key, label) on the left axis, then on the right one.
EVAL_CURVES = {"fid": (("fid", "FID (lower is better)"), ("is", "IS")),
               "modes": (("modes", "modes hit"), ("high_quality", "high-quality share"))}


def save_losses_plot(records: list[dict], path: str | Path) -> None:
    """losses.png: D and G losses and D(x), D(G(z)) over the logged steps; with --ada a panel
    of ADA's p and r_t, with --eval-every one of the evaluation's curves (FID and IS, or mode
    coverage)."""
    rows = [r for r in records if "loss_d" in r]
    if not rows:
        return
    plt = _pyplot()
    steps = [r["step"] for r in rows]
    ada = [r for r in rows if "ada_p" in r]
    evals = [r for r in rows if isinstance(r.get("eval"), dict)]
    panels = 2 + bool(ada) + bool(evals)
    fig, axes = plt.subplots(panels, 1, figsize=(6, 2.5 * panels), dpi=100, sharex=True)
    top, bottom = axes[0], axes[1]
    top.plot(steps, [r["loss_d"] for r in rows], label="D loss")
    top.plot(steps, [r["loss_g"] for r in rows], label="G loss")
    top.set_ylabel("loss")
    top.legend(fontsize=8)
    bottom.plot(steps, [r["d_real"] for r in rows], label="D(x)")
    bottom.plot(steps, [r["d_fake"] for r in rows], label="D(G(z))")
    bottom.set_ylim(-0.02, 1.02)
    bottom.legend(fontsize=8)
    if ada:
        _ada_panel(axes[2], ada)
    if evals:
        _eval_panel(axes[-1], evals)
    axes[-1].set_xlabel("step")
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)


def _ada_panel(ax, rows: list[dict]) -> None:
    """ADA's augmentation probability p and the overfitting signal r_t it steers."""
    ax.plot([r["step"] for r in rows], [r["ada_p"] for r in rows], label="ADA p")
    measured = [r for r in rows if r.get("ada_rt") is not None]
    ax.plot([r["step"] for r in measured], [r["ada_rt"] for r in measured], lw=0.8,
            label="r_t = E[sign D(x)]")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)


def _eval_panel(ax, evals: list[dict]) -> None:
    """The headline metric on the left axis (best step marked), the second one on the right."""
    headline = "fid" if evals[0]["eval"].get("fid") is not None else "modes"
    (key, label), (key2, label2) = EVAL_CURVES[headline]
    steps = [r["step"] for r in evals]
    ax.plot(steps, [r["eval"].get(key) for r in evals], "o-", ms=3, c="#1f77b4", label=label)
    best = [r for r in evals if r["eval"].get("best")]
    if best:
        ax.plot(best[-1]["step"], best[-1]["eval"][key], "*", ms=12, c="#d62728",
                label=f"best (step {best[-1]['step']})")
    ax.set_ylabel(label, fontsize=8)
    ax.legend(fontsize=8, loc="upper left")
    if any(r["eval"].get(key2) is not None for r in evals):
        right = ax.twinx()
        right.plot(steps, [r["eval"].get(key2) for r in evals], "s--", ms=3, c="#2ca02c",
                   label=label2)
        right.set_ylabel(label2, fontsize=8)
        right.legend(fontsize=8, loc="upper right")


def save_progress_gif(frames: list[Path], path: str | Path, ms_per_frame: int = 400) -> None:
    """progress.gif: the sample grids in step order, the last one held longer."""
    from PIL import Image

    if not frames:
        return
    images = []
    for frame in frames:
        with Image.open(frame) as im:
            images.append(im.convert("RGB").convert("P", palette=Image.ADAPTIVE))
    durations = [ms_per_frame] * (len(images) - 1) + [ms_per_frame * 4]
    with atomic_write(path) as handle:
        images[0].save(handle, format="GIF", save_all=True, append_images=images[1:],
                       duration=durations, loop=0)
