"""`is`: the Inception Score (Salimans et al. 2016), exp(E_x KL(p(y|x) || p(y))), over splits.

Splits are a seeded random partition, as torch-fidelity and torchmetrics shuffle the samples
before cutting them into splits: samples need not come in random order (a conditional G is
sampled with the labels 0, 1, ..., K-1 in turn; a fixed interleaving i mod `splits` then put one
class in each split and scored a good conditional G near 1). Streaming: each run of `splits`
consecutive samples is dealt to the splits by a random permutation drawn from a generator seeded
with `seed`, in order, so the partition does not depend on the batch size, and every split gets
N // splits or one more. Each split keeps only sum_x p(y|x) and sum_x sum_y p log p, so memory is
independent of N. For split s with n_s samples:
IS_s = exp(sum_x sum_y p log p / n_s - sum_y pbar log pbar), pbar = sum_x p(y|x) / n_s.
"""

from __future__ import annotations

import torch

from gantool.errors import GantoolError, UsageError
from gantool.metrics.base import Metric, Score
from gantool.metrics.options import Option, declare
from gantool.registry import register


def split_scores(
    prob_sums: torch.Tensor, plogp_sums: torch.Tensor, counts: torch.Tensor
) -> torch.Tensor:
    """IS of each split from its sums: prob_sums (S, K), plogp_sums (S,), counts (S,)."""
    mean = prob_sums / counts[:, None]
    entropy_of_mean = -torch.xlogy(mean, mean).sum(1)
    mean_entropy = -plogp_sums / counts
    return torch.exp(entropy_of_mean - mean_entropy)


class InceptionScore(Metric):
    name = "is"
    uses = "probabilities"
    needs_real = False

    def __init__(self, splits: int = 10, seed: int = 0) -> None:
        if splits < 1:
            raise UsageError(f"IS needs splits >= 1, got {splits}")
        self.splits = splits
        self.generator = torch.Generator().manual_seed(seed)
        self.dealt = torch.zeros(0, dtype=torch.long)  # splits of the samples still to come
        self.n = 0
        self.prob_sums: torch.Tensor | None = None
        self.plogp_sums = torch.zeros(splits, dtype=torch.float64)
        self.counts = torch.zeros(splits, dtype=torch.float64)

    def check_counts(self, n_fake: int, n_real: int | None) -> None:
        if n_fake < self.splits:
            raise UsageError(f"--is-splits {self.splits} needs at least {self.splits} samples, "
                             f"got {n_fake}")

    def update(self, values: torch.Tensor, *, real: bool) -> None:
        if real:
            return
        p = values.detach().to("cpu", torch.float64)
        if self.prob_sums is None:
            self.prob_sums = torch.zeros(self.splits, p.shape[1], dtype=torch.float64)
        split = self._deal(len(p))
        self.prob_sums.index_add_(0, split, p)
        self.plogp_sums.index_add_(0, split, torch.xlogy(p, p).sum(1))
        self.counts.index_add_(0, split, torch.ones(len(p), dtype=torch.float64))
        self.n += len(p)

    def _deal(self, count: int) -> torch.Tensor:
        """The splits of the next `count` samples: one random permutation per `splits` samples."""
        rounds = -(-(count - len(self.dealt)) // self.splits)
        if rounds > 0:
            fresh = [torch.randperm(self.splits, generator=self.generator) for _ in range(rounds)]
            self.dealt = torch.cat([self.dealt, *fresh])
        split, self.dealt = self.dealt[:count], self.dealt[count:]
        return split

    def compute(self) -> list[Score]:
        if self.n < self.splits or self.prob_sums is None:
            raise GantoolError(
                f"IS with {self.splits} splits needs at least {self.splits} samples, got {self.n}"
            )
        scores = split_scores(self.prob_sums, self.plogp_sums, self.counts)
        return [Score("is", float(scores.mean()), float(scores.std(unbiased=False)), n=self.n)]


@register("metric", "is", "Inception Score over splits (mean, std); higher is better")
@declare(Option("splits", "--is-splits", 10, "IS splits", minimum=1))
def inception_score(*, splits: int = 10, seed: int = 0) -> Metric:
    return InceptionScore(splits, seed)
