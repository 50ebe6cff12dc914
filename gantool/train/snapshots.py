"""Pictures of a run: sample grids from fixed latents, the final losses plot and progress GIF.

Plain functions of (network, latents, dataset, path): looking at a run never changes its course
(the latents come from their own generator, and the network is put back in the mode it was in).
"""

from __future__ import annotations

from pathlib import Path

import torch

from gantool import pictures


@torch.no_grad()
def generate(net: torch.nn.Module, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
    """net(z, y) in eval mode (no dropout; BatchNorm statistics left alone), as float32."""
    was_training = net.training
    net.eval()
    try:
        return net(z, y).float()
    finally:
        net.train(was_training)


def save_samples(net, z, y, dataset, path: Path, title: str = "") -> None:
    """A sample grid (images) or a scatter plot over the modes (2-D points) at `path`."""
    out = generate(net, z, y)
    if dataset.is_image:
        pictures.save_grid(dataset.from_model(out).cpu().numpy(), path, scale=0)
    else:
        modes = dataset.modes.cpu().numpy() if dataset.modes is not None else None
        pictures.save_scatter(out.cpu().numpy(), path, modes=modes, title=title)


def read_png(path: Path):
    """An (H, W, C) uint8 array of a PNG we wrote (for TensorBoard)."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def save_run_pictures(records: list[dict], run_dir: Path) -> None:
    """losses.png from the logged records and progress.gif from samples/step-*.png."""
    pictures.save_losses_plot(records, run_dir / "losses.png")
    pictures.save_progress_gif(sorted((run_dir / "samples").glob("step-*.png")),
                            run_dir / "progress.gif")
