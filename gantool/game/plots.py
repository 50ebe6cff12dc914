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

from gantool.game.report import phase_label, player_label

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


def plot_eigenvalues(sim, target: str) -> None:
    """Each rule's update eigenvalues at the equilibrium in the complex plane, with the unit
    circle: inside it the iteration contracts, outside it grows."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    angle = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(angle), np.sin(angle), color="black", lw=1, label="unit circle")
    reach = 1.0
    # Rules often share eigenvalues (sga and ogda on x*y): a marker shape each keeps both visible.
    markers = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
    for color, marker, run in zip(COLORS * 10, markers * 10, sim.runs, strict=False):
        if run.eigenvalues is None:
            continue
        values = np.asarray(run.eigenvalues, dtype=complex)
        reach = max(reach, float(np.abs(values).max()))
        rho = float(np.abs(values).max())
        ax.plot(values.real, values.imag, marker, color=color, ms=9, mfc="none", mew=1.4, ls="",
                label=f"{run.name} (radius {rho:.4g})")
    limit = 1.15 * min(reach, 4.0)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set_xlim(-limit, limit)
    ax.set_ylim(-limit, limit)
    ax.set_aspect("equal")
    ax.set_xlabel("Re")
    ax.set_ylabel("Im")
    ax.set_title(f"update eigenvalues at the equilibrium\n{sim.game.label}, {_step_text(sim)}",
                 fontsize=9)
    ax.legend(fontsize=7, loc="upper left", framealpha=0.8)
    fig.tight_layout()
    with _written(target, ".png") as temp:
        fig.savefig(temp, dpi=110, format="png")
    plt.close(fig)


def _step_text(sim) -> str:
    if sim.lr_x == sim.lr_y:
        return f"lr {sim.lr_x:g}"
    return f"lr_x {sim.lr_x:g}, lr_y {sim.lr_y:g}"


VERDICT_COLORS = {"converges": "#4daf4a", "cycles": "#ffd92f", "diverges": "#e41a1c"}


def plot_phase(game, axes, grids, target: str) -> None:
    """One panel per rule: each cell coloured by its verdict, with contours of the spectral
    radius (the dashed line is radius 1, where the linearisation stops contracting)."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    plt = _pyplot()
    first, second = axes
    u, w = np.asarray(first.values), np.asarray(second.values)
    cols = min(len(grids), 3)
    rows = -(-len(grids) // cols)
    fig, panels = plt.subplots(rows, cols, figsize=(4.6 * cols, 4.2 * rows), squeeze=False)
    order = list(VERDICT_COLORS)
    cmap = ListedColormap([VERDICT_COLORS[v] for v in order])
    for ax, grid in zip(panels.flat, grids, strict=False):
        codes = np.vectorize(order.index)(grid.verdicts).astype(float)
        ax.pcolormesh(u, w, codes.T, cmap=cmap, vmin=-0.5, vmax=2.5, shading="nearest")
        if grid.spectral_radius is not None and min(first.n, second.n) > 1:
            _radius_contours(ax, u, w, grid.spectral_radius)
        ax.set_xlabel(first.name)
        ax.set_ylabel(second.name)
        ax.set_title(grid.name, fontsize=10)
    for ax in list(panels.flat)[len(grids):]:
        ax.axis("off")
    handles = [Patch(color=VERDICT_COLORS[v], label=v) for v in order]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8)
    fig.suptitle(f"{phase_label(game, axes)}: verdict per cell, contours = spectral radius",
                 fontsize=10)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    with _written(target, ".png") as temp:
        fig.savefig(temp, dpi=110, format="png")
    plt.close(fig)


def _radius_contours(ax, u, w, radius) -> None:
    finite = np.where(np.isfinite(radius), radius, np.nan).T
    if not np.isfinite(finite).any():
        return
    low, high = np.nanmin(finite), np.nanmax(finite)
    levels = [v for v in (0.5, 0.8, 0.9, 0.95, 0.99, 1.0, 1.01, 1.05, 1.1, 1.5, 2.0)
              if low < v < high]
    if not levels:
        return
    lines = ax.contour(u, w, finite, levels=levels, colors="black", linewidths=0.7,
                       linestyles=["--" if v == 1.0 else "-" for v in levels])
    ax.clabel(lines, fontsize=6, fmt="%g")
