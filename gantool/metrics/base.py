"""What every metric is: a small accumulator with `update()` and `compute()`.

`update(values, real=...)` only accumulates (running float64 sums, or features up to a cap);
`compute()` checks the counts and calls a pure, documented function. `uses` says what the
evaluation feeds to `update`: extractor "features", class "probabilities", or the raw
"samples" (uint8 images or float points). `needs_real` says whether real data is fed at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gantool.errors import UsageError

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
    extractor: str | None = None  # a fixed feature extractor, or None: the evaluation's
    frechet = False  # True: can take its real side from --real-stats
    keeps_samples = False  # True: also fed the samples themselves (`update_samples`)

    def check_counts(self, n_fake: int, n_real: int | None) -> None:
        """Raise UsageError when these sample counts cannot give a result (before any work)."""

    def update_samples(self, samples: torch.Tensor, *, real: bool) -> None:
        """The samples behind the last `update` (only for metrics with keeps_samples)."""

    def note(self) -> str:
        """A line for the user about how the number was made, or ''."""
        return ""

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        raise NotImplementedError

    def compute(self) -> list[Score]:
        raise NotImplementedError


def subset_keys(seed: int, index: np.ndarray) -> np.ndarray:
    """A pseudo-random uint64 key for each sample index (splitmix64 of seed and index).

    A key depends only on (seed, index), never on how the samples were batched, so the rows
    with the smallest keys are a uniform random subset that is the same for any batch size and
    the same in every metric that uses the same seed."""
    with np.errstate(over="ignore"):
        z = index.astype(np.uint64) + np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * np.uint64(
            0x9E3779B97F4A7C15
        )
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


class FeatureBank:
    """A seeded uniform random subset of at most `cap` of the feature rows fed to it.

    Rows are kept as float32 (half the memory). Folders are read sorted, often by class, so
    keeping the first rows would bias every metric towards the first classes; instead each row
    gets the key `subset_keys(seed, index)` and the `cap` smallest keys are kept. `tensor()`
    returns the kept rows in the order they were fed."""

    def __init__(self, cap: int, seed: int = 0) -> None:
        if cap < 2:
            raise UsageError(f"max_samples must be at least 2, got {cap}")
        self.cap, self.seed = cap, seed
        self.seen = 0
        self._rows: list[torch.Tensor] = []
        self._index: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._pending = 0

    def add(self, values: torch.Tensor) -> None:
        index = np.arange(self.seen, self.seen + len(values), dtype=np.int64)
        self.seen += len(values)
        self._rows.append(values.detach().to("cpu", torch.float32).reshape(len(values), -1))
        self._index.append(index)
        self._keys.append(subset_keys(self.seed, index))
        self._pending += len(values)
        if self._pending > 2 * self.cap:  # prune now and then: memory stays O(cap)
            self._prune()

    def _prune(self) -> None:
        if not self._rows:
            return
        rows, index, keys = torch.cat(self._rows), np.concatenate(self._index), np.concatenate(
            self._keys
        )
        if len(keys) > self.cap:
            keep = np.sort(np.argpartition(keys, self.cap - 1)[: self.cap])
            rows, index, keys = rows[torch.from_numpy(keep)], index[keep], keys[keep]
        self._rows, self._index, self._keys = [rows], [index], [keys]
        self._pending = len(keys)

    def tensor(self) -> torch.Tensor:
        self._prune()
        return self._rows[0] if self._rows else torch.empty(0, 0)

    def indices(self) -> np.ndarray:
        """The positions (in feeding order) of the kept rows."""
        self._prune()
        return self._index[0] if self._index else np.empty(0, np.int64)

    def __len__(self) -> int:
        return min(self.seen, self.cap)
