"""Which torch device a command runs on: `auto` picks CUDA, then MPS, then the CPU."""

from __future__ import annotations

import torch

from gantool.errors import UsageError


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (try --device cpu)")
    if name == "mps" and not _mps_available():
        raise UsageError("--device mps: MPS is not available (try --device cpu)")
    return torch.device(name)
