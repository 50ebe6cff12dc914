"""What every metric is: a small accumulator with `update()` and `compute()`.

`update(values, real=...)` only accumulates (running float64 sums, or features up to a cap);
`compute()` checks the counts and calls a pure, documented function. `uses` says what the
evaluation feeds to `update`: extractor "features", class "probabilities", or the raw
"samples" (uint8 images or float points). `needs_real` says whether real data is fed at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gantool.errors import GantoolError

# Metrics that keep the features themselves (KID, PRDC) keep at most this many per side.
DEFAULT_MAX_SAMPLES = 10_000


@dataclass(frozen=True)
class Score:
    """One number: `value` (None when undefined), its `std` if it has one, on `n` fake samples."""

    name: str
    value: float | None
    std: float | None = None
    n: int | None = None
    n_real: int | None = None
    total: int | None = None  # for counts: out of how many (modes)


class Metric:
    name = ""
    uses = "features"  # "features" | "probabilities" | "samples"
    needs_real = True

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        raise NotImplementedError

    def compute(self) -> list[Score]:
        raise NotImplementedError


class FeatureBank:
    """The first `cap` feature vectors fed to it (float32, half the memory), and the count."""

    def __init__(self, cap: int) -> None:
        if cap < 2:
            raise GantoolError(f"max_samples must be at least 2, got {cap}")
        self.cap = cap
        self.seen = 0
        self._chunks: list[torch.Tensor] = []
        self._kept = 0

    def add(self, values: torch.Tensor) -> None:
        self.seen += len(values)
        room = self.cap - self._kept
        if room > 0:
            chunk = values[:room].detach().to("cpu", torch.float32).reshape(len(values[:room]), -1)
            self._chunks.append(chunk)
            self._kept += len(chunk)

    def tensor(self) -> torch.Tensor:
        return torch.cat(self._chunks) if self._chunks else torch.empty(0, 0)

    def __len__(self) -> int:
        return self._kept
