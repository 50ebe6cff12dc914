"""Image conversions shared by every image dataset: channels 1 <-> 3 (-> 4) and size."""

from __future__ import annotations

import torch

from gantool.errors import UsageError

# Batch for resizing, so a large dataset never needs a float copy of itself in memory.
_RESIZE_CHUNK = 1024


def to_channels(images: torch.Tensor, channels: int | None) -> torch.Tensor:
    """uint8 (N, C, H, W) -> `channels` channels (grey is repeated; RGB -> luma, ITU-R 601;
    to 4, an opaque alpha is added). RGBA to fewer is refused: that needs a background, which
    only the image folder knows (--background)."""
    if channels is None or images.shape[1] == channels:
        return images
    if images.shape[1] == 4:
        raise UsageError(f"these images have an alpha channel (4 channels), not {channels}: "
                         "read the image folder again with --channels "
                         f"{channels} (and --background) to composite them")
    if channels == 4:
        rgb = to_channels(images, 3)
        opaque = torch.full_like(rgb[:, :1], 255)
        return torch.cat([rgb, opaque], dim=1)
    if channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    weights = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    grey = (images.to(torch.float32) * weights).sum(1, keepdim=True)
    return grey.round_().clamp_(0, 255).to(torch.uint8)


def to_size(images: torch.Tensor, image_size: int | None) -> torch.Tensor:
    """Resize the shorter side to `image_size` (antialiased) and center-crop to a square."""
    if image_size is None:
        return images
    height, width = images.shape[-2:]
    if height == width == image_size:
        return images
    from torchvision.transforms import functional as F

    out = []
    for start in range(0, len(images), _RESIZE_CHUNK):
        chunk = images[start : start + _RESIZE_CHUNK].to(torch.float32)
        if min(height, width) != image_size:
            chunk = F.resize(chunk, image_size, antialias=True)
        chunk = F.center_crop(chunk, [image_size, image_size])
        out.append(chunk.round_().clamp_(0, 255).to(torch.uint8))
    return torch.cat(out)


def convert(images: torch.Tensor, image_size: int | None, channels: int | None) -> torch.Tensor:
    """Both conversions: channels first (cheaper on fewer channels), then size."""
    if channels == 1:
        return to_size(to_channels(images, channels), image_size)
    return to_channels(to_size(images, image_size), channels)
