"""Figures for game-sim: trajectories over the update field, distance curves, sweeps, GIFs.

matplotlib is imported here only, with the Agg backend (no display needed). Files are written
to a temporary name beside the target and renamed, so a failed plot never leaves half a file.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import contextmanager

import numpy as np

from gantool.game.report import player_label

FRAMES = 50  # frames in an animation
COLORS = ("tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:brown",
          "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


@contextmanager
def _written(target: str, suffix: str):
    """Yield a temporary path; on success it replaces `target` (or is copied to stdout for '-')."""
    from gantool.io import atomic_path

    if target != "-":
        with atomic_path(target, suffix) as temp:
            yield str(temp)
        return
    with tempfile.TemporaryDirectory() as folder:
        temp = os.path.join(folder, f"figure{suffix}")
        yield temp
        with open(temp, "rb") as source:
            shutil.copyfileobj(source, sys.stdout.buffer)
        sys.stdout.buffer.flush()


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _plane_limit(sim) -> float:
    """Half-width of the plotted square: fits the runs, but not runs that flew far away."""
    start = float(np.abs(sim.start).max()) or 1.0
    finite = [np.abs(r.trajectory[np.isfinite(r.trajectory).all(axis=1)]) for r in sim.runs]
    reach = max((float(f.max()) for f in finite if f.size), default=start)
    return 1.15 * min(max(reach, start), 4 * start)


def _draw_field(ax, game, limit: float) -> None:
    grid = np.linspace(-limit, limit, 21)
    X, Y = np.meshgrid(grid, grid)
    with np.errstate(all="ignore"):
        V = game.field(np.stack([X, Y], axis=-1))
    U, W = V[..., 0], V[..., 1]
    norm = np.hypot(U, W)
    norm[norm == 0] = 1
    # Arrows show direction; their shade shows speed (long arrows would hide the paths).
    ax.quiver(X, Y, U / norm, W / norm, np.log1p(norm), cmap="Greys", alpha=0.5,
              angles="xy", pivot="mid", width=0.003)


def _draw_plane(ax, sim, legend_loc: str = "best") -> None:
    limit = _plane_limit(sim)
    _draw_field(ax, sim.game, limit)
    for color, run in zip(COLORS * 10, sim.runs, strict=False):
        path = run.trajectory
        label = f"{run.name} ({run.verdict})"
        ax.plot(path[:, 0], path[:, 1], "-", color=color, lw=1.4, label=label)
        ax.plot(path[-1, 0], path[-1, 1], "o", color=color, ms=4)
    ax.plot(*sim.start, "ks", ms=6, label="start")
    ax.plot(0, 0, "*", color="gold", mec="black", ms=16, label="equilibrium", zorder=5)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{player_label(sim.game, 'x')} (maximises)")
    ax.set_ylabel(f"{player_label(sim.game, 'y')} (minimises)")
    ax.set_title(f"{sim.game.label}, lr {sim.lr:g}", fontsize=9)
    ax.legend(fontsize=7, loc=legend_loc, framealpha=0.8)


def _draw_distances(ax, sim, legend_loc: str = "best") -> None:
    steps = np.arange(sim.steps + 1)
    shown = []
    for color, run in zip(COLORS * 10, sim.runs, strict=False):
        # Steps beyond 1e200 (or overflowed to inf) are left out: matplotlib's log axis fails on
        # ranges near the float limits. Values below 1e-200 are drawn at 1e-200.
        d = np.where(run.distances <= 1e200, np.maximum(run.distances, 1e-200), np.nan)
        ax.semilogy(steps, d, color=color, label=run.name)
        shown.append(d[np.isfinite(d)])
    values = np.concatenate(shown)
    if values.size:
        ax.set_ylim(values.min() / 2, values.max() * 2)
    ax.set_xlim(0, sim.steps)
    ax.set_xlabel("step")
    ax.set_ylabel("distance to the equilibrium")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc=legend_loc)


def plot_simulation(sim, target: str) -> None:
    plt = _pyplot()
    panels = 2 if sim.game.is_planar else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 5), squeeze=False)
    if sim.game.is_planar:
        _draw_plane(axes[0, 0], sim)
    _draw_distances(axes[0, -1], sim)
    fig.tight_layout()
    with _written(target, ".png") as temp:
        fig.savefig(temp, dpi=110, format="png")
    plt.close(fig)


def animate_simulation(sim, target: str) -> None:
    """A GIF where the trajectories grow step by step (distance curves for vector games)."""
    from PIL import Image

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5), dpi=80)
    if sim.game.is_planar:
        _draw_plane(ax, sim, legend_loc="upper left")
        series = [(run.trajectory[:, 0], run.trajectory[:, 1]) for run in sim.runs]
        lines = ax.get_lines()[: 2 * len(sim.runs)]
        paths, heads = lines[0::2], lines[1::2]
    else:
        _draw_distances(ax, sim, legend_loc="upper left")
        steps = np.arange(sim.steps + 1, dtype=float)
        series = [(steps, np.where(run.distances <= 1e200, np.maximum(run.distances, 1e-200),
                                   np.nan)) for run in sim.runs]
        paths, heads = ax.get_lines()[: len(sim.runs)], []
    title = ax.set_title("", fontsize=9)
    # Blitting by hand: draw the field, axes and legend once, then per frame restore that
    # background and draw only the moving lines. Redrawing everything (FuncAnimation.save)
    # spent most of its time laying out the same tick labels again, about 0.3 s a frame.
    moving = [*paths, *heads, title]
    for artist in moving:
        artist.set_animated(True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    frames = []
    shown = np.linspace(0, sim.steps, min(FRAMES, sim.steps + 1)).round().astype(int)
    for step in sorted(set(shown.tolist())):
        for i, (u, w) in enumerate(series):
            paths[i].set_data(u[: step + 1], w[: step + 1])
            if heads:
                heads[i].set_data(u[step : step + 1], w[step : step + 1])
        title.set_text(f"{sim.game.label}, lr {sim.lr:g}, step {step}")
        fig.canvas.restore_region(background)
        for artist in moving:
            ax.draw_artist(artist)
        rgba = np.asarray(fig.canvas.buffer_rgba())
        frames.append(Image.fromarray(rgba[..., :3].copy()).quantize(colors=128))
    plt.close(fig)
    with _written(target, ".gif") as temp:
        frames[0].save(temp, format="GIF", save_all=True, append_images=frames[1:],
                       duration=100, loop=0)


def plot_sweep(game, rows, target: str) -> None:
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    for color, row in zip(COLORS * 10, rows, strict=False):
        if row.spectral_radius is not None:
            left.plot(row.lrs, row.spectral_radius, color=color, label=row.name)
        shown = np.where(row.final_distance <= 1e200, row.final_distance, np.nan)
        right.semilogy(row.lrs, np.maximum(shown, 1e-200), color=color, label=row.name)
    left.axhline(1.0, color="black", lw=0.8, ls="--")
    left.set_xlabel("lr")
    left.set_ylabel("spectral radius of the linearised update")
    left.set_title("< 1: contracts near the equilibrium", fontsize=9)
    right.set_xlabel("lr")
    right.set_ylabel("final distance to the equilibrium")
    right.set_title(game.label, fontsize=9)
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with _written(target, ".png") as temp:
        fig.savefig(temp, dpi=110, format="png")
    plt.close(fig)
