"""The FID Inception-v3 network, built the way pytorch-fid builds it.

The network that defines FID is the TensorFlow Inception graph of 2015-12-05. pytorch-fid ported
its weights (pt_inception-2015-12-05-6726825d.pth) onto torchvision's Inception3 with four patches
that reproduce TensorFlow's behaviour, which we reproduce here:
- the average pools inside the Mixed_5*, Mixed_6b-e and Mixed_7b blocks ignore padded zeros;
- the pool branch of the last block (Mixed_7c) uses max pooling, not average pooling;
- 1008 output classes, no auxiliary classifier;
- inputs in [0, 1] are bilinearly resized to 299x299 (align_corners=False), then scaled to [-1, 1]
  (the `legacy-pytorch` protocol; metrics/resize.py has the others).
Features are the 2048 outputs of the final average pool; the unbiased logits pool @ W (1008) feed
the Inception Score.
The state dict has torchvision's Inception3 key layout, exactly as pytorch-fid's weight file.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import inception as tv

from gantool.errors import GantoolError
from gantool.metrics.weights_file import load_checked, read_state_dict

WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth"
)
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"
FEATURE_DIM = 2048
NUM_CLASSES = 1008


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    # TensorFlow's 3x3 average pool divides by the number of real (unpadded) pixels.
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class _BlockA(tv.InceptionA):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_tf_avg_pool(x))], 1)


class _BlockC(tv.InceptionC):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for layer in (
            self.branch7x7dbl_1,
            self.branch7x7dbl_2,
            self.branch7x7dbl_3,
            self.branch7x7dbl_4,
            self.branch7x7dbl_5,
        ):
            d = layer(d)
        return torch.cat([self.branch1x1(x), b7, d, self.branch_pool(_tf_avg_pool(x))], 1)


class _BlockE(tv.InceptionE):
    def __init__(self, in_channels: int, max_pool: bool) -> None:
        super().__init__(in_channels)
        self.max_pool = max_pool  # the FID graph's last block max-pools its pool branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        if self.max_pool:
            pooled = F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        else:
            pooled = _tf_avg_pool(x)
        return torch.cat([self.branch1x1(x), b3, d, self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """pytorch-fid's Inception-v3; `forward` gives (pool features (N, 2048), logits (N, 1008))."""

    def __init__(self) -> None:
        super().__init__()
        net = tv.Inception3(num_classes=NUM_CLASSES, aux_logits=False, init_weights=False)
        net.Mixed_5b = _BlockA(192, pool_features=32)
        net.Mixed_5c = _BlockA(256, pool_features=64)
        net.Mixed_5d = _BlockA(288, pool_features=64)
        net.Mixed_6b = _BlockC(768, channels_7x7=128)
        net.Mixed_6c = _BlockC(768, channels_7x7=160)
        net.Mixed_6d = _BlockC(768, channels_7x7=160)
        net.Mixed_6e = _BlockC(768, channels_7x7=192)
        net.Mixed_7b = _BlockE(1280, max_pool=False)
        net.Mixed_7c = _BlockE(2048, max_pool=True)
        self.net = net

    def load_weights(self, state_dict: dict[str, torch.Tensor]) -> None:
        """Load a state dict in pytorch-fid's (torchvision Inception3) key layout."""
        self.net.load_state_dict(state_dict)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """images: (N, 3, H, W) floats in [0, 1], resized as pytorch-fid does (legacy-pytorch)."""
        x = F.interpolate(images, size=(299, 299), mode="bilinear", align_corners=False)
        pool = self.pool_features(2 * x - 1)
        return pool, self.logits(pool)

    def logits(self, pool: torch.Tensor) -> torch.Tensor:
        """The 1008 class logits WITHOUT the fc bias (pool3 @ W), as the original Inception Score
        code, torch-fidelity and torchmetrics compute them."""
        return pool @ self.net.fc.weight.T

    def pool_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: the network input (N, 3, 299, 299), scaled to about [-1, 1] (metrics/resize.py)."""
        n = self.net
        x = n.maxpool1(n.Conv2d_2b_3x3(n.Conv2d_2a_3x3(n.Conv2d_1a_3x3(x))))
        x = n.maxpool2(n.Conv2d_4a_3x3(n.Conv2d_3b_1x1(x)))
        for block in (
            n.Mixed_5b,
            n.Mixed_5c,
            n.Mixed_5d,
            n.Mixed_6a,
            n.Mixed_6b,
            n.Mixed_6c,
            n.Mixed_6d,
            n.Mixed_6e,
            n.Mixed_7a,
            n.Mixed_7b,
            n.Mixed_7c,
        ):
            x = block(x)
        return F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)


def hub_weights_path() -> Path:
    """Where torch hub (and so pytorch-fid) caches the FID Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_NAME


def load_fid_inception(weights: str | Path | None = None, device: str = "cpu") -> FIDInception:
    """The network with the TF 2015-12-05 weights: from `weights`, the hub cache, or a download."""
    path = Path(weights) if weights is not None else hub_weights_path()
    if weights is None and not path.is_file():
        _download(path)
    state = read_state_dict(path, "Inception")
    model = FIDInception()
    load_checked(model.net, state, path, "the FID Inception")
    return model.to(device).eval()


def _download(path: Path) -> None:
    if os.environ.get("GANTOOL_OFFLINE"):
        reason = "GANTOOL_OFFLINE is set"
    else:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(WEIGHTS_URL, str(path), progress=False)
            return
        except Exception as exc:  # no network, proxy, HTTP error: all one message
            reason = f"download failed: {exc}"
    raise GantoolError(
        f"FID Inception weights {WEIGHTS_NAME} not found ({reason}); download {WEIGHTS_URL} "
        f"and put it at {path}, or pass --inception-weights FILE"
    )
