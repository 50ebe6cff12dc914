"""How images reach a feature network's input size: the resize protocols (`--resize`).

FID numbers differ between implementations mostly by how they resize (Parmar et al., "On Aliased
Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022). Each protocol here is the one a
published code base uses, so gantool's numbers can be compared with theirs:

- `legacy-pytorch` (pytorch-fid): uint8 / 255, bilinear to 299 inside the network
  (`F.interpolate`, align_corners=False, no antialiasing), then 2x - 1;
- `clean` (clean-fid): each channel of the uint8 image as a float32 PIL image, bicubic to the
  target size with PIL's antialiasing, clipped to [0, 255]; then (x - 128) / 128 for Inception;
- `legacy-tf` (the TensorFlow FID code, stylegan2-ada): TensorFlow 1's bilinear resize (pixel
  corners aligned at 0, no half-pixel offset, edges clamped) on [0, 255], then (x - 128) / 128.

DINOv2's two (metrics/dinov2.py): `pil_bicubic_8bit` (dgm-eval's default) and `pil_bicubic`
(dgm-eval's --clean_resize, the same as clean-fid's).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from gantool.errors import UsageError

RESIZE_MODES = ("legacy-pytorch", "clean", "legacy-tf")
DEFAULT_RESIZE = "legacy-pytorch"


def check_mode(mode: str) -> str:
    if mode not in RESIZE_MODES:
        raise UsageError(f"unknown --resize {mode!r}; choose one of: {', '.join(RESIZE_MODES)}")
    return mode


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Grey (N, 1, H, W) repeated to RGB, as PIL's convert("RGB") does; RGB passes through."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


def pil_bicubic(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float32 (N, C, size, size) in [0, 255], clean-fid's resize.

    Each channel is resized as a 32-bit float PIL image ("F" mode), so nothing is quantised
    after resizing; PIL's bicubic filter widens with the scale factor when shrinking
    (antialiasing)."""
    array = images.cpu().numpy()
    out = np.empty((*array.shape[:2], size, size), dtype=np.float32)
    for i, image in enumerate(array):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel.astype(np.float32), mode="F").resize(
                (size, size), resample=Image.BICUBIC
            )
            out[i, c] = np.asarray(resized)
    return torch.from_numpy(out.clip(0, 255))


def pil_bicubic_8bit(images: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 RGB (N, 3, H, W) -> uint8 (N, 3, size, size), each image resized as one 8-bit PIL
    RGB image, bicubic with PIL's antialiasing, PIL rounding the result back to 8 bits: what
    torchvision's Resize does to a PIL image (dgm-eval's default DINOv2 input)."""
    array = np.ascontiguousarray(images.cpu().permute(0, 2, 3, 1).numpy())
    out = np.stack([
        np.asarray(Image.fromarray(image).resize((size, size), resample=Image.BICUBIC))
        for image in array
    ])
    return torch.from_numpy(out).permute(0, 3, 1, 2)


def _tf_legacy_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) matrix of TF1 bilinear weights: source = dst * n_in / n_out, clamped."""
    source = torch.arange(n_out, dtype=torch.float64) * (n_in / n_out)
    low = source.floor().long().clamp(max=n_in - 1)
    high = (low + 1).clamp(max=n_in - 1)
    frac = source - low
    weights = torch.zeros(n_out, n_in, dtype=torch.float64)
    rows = torch.arange(n_out)
    weights.index_put_((rows, low), 1 - frac, accumulate=True)
    weights.index_put_((rows, high), frac, accumulate=True)
    return weights


def tf_legacy_bilinear(x: torch.Tensor, size: int) -> torch.Tensor:
    """float (N, C, H, W) -> (N, C, size, size) as TensorFlow 1's `resize_bilinear` with
    align_corners=False (no half-pixel centres): the resize inside the TF FID graph."""
    rows = _tf_legacy_weights(x.shape[-2], size).to(x.device, x.dtype)
    cols = _tf_legacy_weights(x.shape[-1], size).to(x.device, x.dtype)
    return rows @ x @ cols.T


def inception_input(images: torch.Tensor, mode: str, size: int = 299) -> torch.Tensor:
    """uint8 (N, C, H, W) -> the FID Inception network's input (N, 3, size, size), per `mode`."""
    rgb = to_rgb(images)
    if mode == "legacy-pytorch":
        x = rgb.to(torch.float32) / 255
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
        return 2 * x - 1
    if mode == "clean":
        x = pil_bicubic(rgb, size).to(images.device)
    else:
        x = tf_legacy_bilinear(rgb.to(torch.float32), size)
    return (x - 128) / 128
