"""Differentiable augmentation for small data (DiffAugment, Zhao et al. 2020).

The same random colour, translation and cutout are applied to real and generated images
before D sees them, in both D and G steps; gradients flow through to G, so D cannot simply
memorise the few real images. Every random draw uses the generator passed in, so a resumed
run repeats them exactly.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def diff_augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """colour -> translation (1/8 of the size) -> cutout (half the size), per image."""
    return _cutout(_translate(_color(x, gen), gen), gen)


def _uniform(n: int, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=gen, device=x.device, dtype=x.dtype)


def _color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    n = len(x)
    x = x + (_uniform(n, x, gen) - 0.5)  # brightness
    if x.shape[1] == 3:  # saturation only means something in colour
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_uniform(n, x, gen) * 2) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (_uniform(n, x, gen) + 0.5) + mean  # contrast


def _translate(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    dy = torch.randint(-sh, sh + 1, (n, 1, 1), generator=gen, device=x.device)
    dx = torch.randint(-sw, sw + 1, (n, 1, 1), generator=gen, device=x.device)
    iy = torch.arange(h, device=x.device).view(1, h, 1)
    ix = torch.arange(w, device=x.device).view(1, 1, w)
    # Indices into a copy padded by one zero pixel: shifted-out regions read the padding.
    iy = (iy + dy + 1).clamp(0, h + 1).expand(n, h, w)
    ix = (ix + dx + 1).clamp(0, w + 1).expand(n, h, w)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)
    batch = torch.arange(n, device=x.device).view(n, 1, 1).expand(n, h, w)
    return padded[batch, iy, ix].permute(0, 3, 1, 2)


def _cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    cy = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen, device=x.device)
    cx = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen, device=x.device)
    iy = torch.arange(h, device=x.device).view(1, h, 1)
    ix = torch.arange(w, device=x.device).view(1, 1, w)
    top, left = cy - ch // 2, cx - cw // 2
    inside = (iy >= top) & (iy < top + ch) & (ix >= left) & (ix < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)
