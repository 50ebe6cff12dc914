"""Which torch device to run on: `--device auto|cpu|cuda|mps` -> torch.device."""

from __future__ import annotations

from gantool.errors import UsageError


def resolve_device(name: str):
    """auto picks CUDA, then MPS, then the CPU; a named device that is absent is a UsageError."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (try --device cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise UsageError("--device mps: MPS is not available (try --device cpu)")
    return torch.device(name)
