"""The digit classifier behind the `digits` feature extractor: a small CNN for 28x28 digits.

Its weights ship inside the package (gantool/weights/digits.safetensors) and are made by
`gantool train-classifier`; nothing is downloaded, so digit metrics work offline.
The penultimate layer (128 numbers after a ReLU) gives features for FID / KID / PRDC, and the
softmax over the 10 classes gives class probabilities for mode coverage and the IS-style score.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gantool.errors import GantoolError

WEIGHTS_PATH = Path(__file__).resolve().parents[1] / "weights" / "digits.safetensors"
FEATURE_DIM = 128
NUM_CLASSES = 10
IMAGE_SIZE = 28


class DigitClassifier(nn.Module):
    """Two conv stages (28 -> 14 -> 7), a 128-d feature layer, a 10-way linear head.

    Input: (N, 1, 28, 28) floats in [0, 1]. No batch norm, so train and eval differ only by dropout.
    """

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(64 * 7 * 7, FEATURE_DIM),
            nn.ReLU(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features, (N, 128)."""
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits, (N, 10)."""
        return self.head(self.dropout(self.body(x)))


def load_digit_classifier(path: str | Path | None = None, device: str = "cpu") -> DigitClassifier:
    """The classifier with weights from `path` (default: the shipped file), in eval mode."""
    from safetensors.torch import load_file

    path = Path(path) if path is not None else WEIGHTS_PATH
    if not path.is_file():
        raise GantoolError(
            f"digit classifier weights not found: {path} "
            f"(reinstall gantool or recreate them with `gantool train-classifier --out {path}`)"
        )
    try:
        state = load_file(str(path), device=device)
    except Exception as exc:
        raise GantoolError(f"cannot read digit classifier weights {path}: {exc}") from None
    # Built under a forked RNG: its random init (overwritten at once) must not consume the
    # caller's stream; training loads it mid-run for its monitor, and looking at a run must
    # never change its course.
    with torch.random.fork_rng(devices=[]):
        model = DigitClassifier()
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise GantoolError(f"{path} does not hold digit classifier weights: {first}") from None
    return model.to(device).eval()
