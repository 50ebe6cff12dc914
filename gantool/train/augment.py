"""Differentiable augmentation for small data (DiffAugment, Zhao et al. 2020).

The same random colour, translation and cutout are applied to real and generated images
before D sees them, in both D and G steps; gradients flow through to G, so D cannot simply
memorise the few real images. Every random draw uses the generator passed in, so a resumed
run repeats them exactly; under torchrun it is drawn for the whole global batch and each process
keeps its rows' (`BatchDraws`), so N processes augment each image as one process does.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gantool.train.distributed import BatchDraws


def diff_augment(x: torch.Tensor, draws: BatchDraws | torch.Generator) -> torch.Tensor:
    """colour -> translation (1/8 of the size) -> cutout (half the size), per image; x holds
    the rows of `draws` (a generator: x is the whole batch)."""
    draws = BatchDraws.of(draws, len(x))
    return _cutout(_translate(_color(x, draws), draws), draws)


def _uniform(x: torch.Tensor, draws: BatchDraws) -> torch.Tensor:
    return draws.uniform(1, 1, 1, device=x.device, dtype=x.dtype)


def _color(x: torch.Tensor, draws: BatchDraws) -> torch.Tensor:
    if x.shape[1] == 4:  # RGBA (--channels 4): colour is RGB's; alpha, the shape, passes through
        return torch.cat([_color(x[:, :3], draws), x[:, 3:]], dim=1)
    x = x + (_uniform(x, draws) - 0.5)  # brightness
    if x.shape[1] == 3:  # saturation only means something in colour
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_uniform(x, draws) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(x, draws) + 0.5) + mean  # contrast


def _translate(x: torch.Tensor, draws: BatchDraws, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = draws.integers(-sh, sh + 1, 1, 1, device=x.device)
    dx = draws.integers(-sw, sw + 1, 1, 1, device=x.device)
    iy = torch.arange(h, device=x.device).view(1, h, 1)
    ix = torch.arange(w, device=x.device).view(1, 1, w)
    # Indices into a copy padded by one zero pixel: shifted-out regions read the padding.
    iy = (iy + dy + 1).clamp(0, h + 1).expand(n, h, w)
    ix = (ix + dx + 1).clamp(0, w + 1).expand(n, h, w)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded[batch, iy, ix].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, draws: BatchDraws, ratio: float = 0.5) -> torch.Tensor:
    _, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = draws.integers(0, h + (1 - ch % 2), 1, 1, device=x.device)
    cx = draws.integers(0, w + (1 - cw % 2), 1, 1, device=x.device)
    iy = torch.arange(h, device=x.device).view(1, h, 1)
    ix = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (iy >= top) & (iy < top + ch) & (ix >= left) & (ix < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)
