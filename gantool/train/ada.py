"""Adaptive discriminator augmentation (ADA, Karras et al. 2020, "Training Generative Adversarial
Networks with Limited Data").

The augmentation (our DiffAugment, gantool/train/augment.py) is applied to each image D sees, real
or fake, with probability p. p is steered by the overfitting heuristic r_t, the mean of the
loss's `overfit_sign` over the training images D sees: 0 when D cannot tell the training images
from the fakes, 1 when it is certain of every training image (it has memorised them). Karras et
al.'s r_t = E[sign(D(x_real))] holds for the logistic losses, whose verdict boundary is logit 0;
each loss reads D's verdict where it puts it (losses.py): LSGAN's output against 0.5, and for the
losses that see only differences of logits (relativistic, WGAN), where a constant added to every
logit changes nothing, sign(D(x_real) - D(G(z))) over the batch's pairs. Every `interval` D
steps, p moves by
sign(r_t - target) * (images in those steps) / (kimg_to_full * 1000), so it can go from 0 to 1 in
`kimg_to_full` thousand real images: up while D overfits, down while it does not.
"""

from __future__ import annotations

import torch

from gantool.errors import UsageError
from gantool.train.augment import diff_augment
from gantool.train.distributed import BatchDraws

# p stays below 1 so that some images always reach D unaugmented.
MAX_P = 1.0 - 1e-3


class AdaptiveAugment:
    def __init__(self, target: float = 0.6, interval: int = 4, kimg_to_full: float = 500.0,
                 p: float = 0.0) -> None:
        if not 0.0 < target < 1.0:
            raise UsageError(f"ADA target must be in (0, 1), got {target!r}")
        if not isinstance(interval, int) or interval < 1:
            raise UsageError(f"ADA interval must be a positive integer, got {interval!r}")
        if not kimg_to_full > 0:
            raise UsageError(f"ADA kimg_to_full must be positive, got {kimg_to_full!r}")
        if not 0.0 <= p <= MAX_P:
            raise UsageError(f"ADA p must be in [0, 1), got {p!r}")
        self.target, self.interval, self.kimg_to_full = float(target), interval, float(kimg_to_full)
        self.p = float(p)
        self.rt: float | None = None  # the last r_t measured
        self._sign_sum: torch.Tensor | float = 0.0
        self._count = 0
        self._steps = 0

    def observe(self, signs: torch.Tensor) -> None:
        """Add the loss's overfitting signs (`overfit_sign`) for a batch of (augmented) training
        images."""
        # Summed on the device: no host sync until update() reads it every `interval` steps.
        self._sign_sum = self._sign_sum + signs.detach().float().sum()
        self._count += signs.numel()

    def update(self, batch_images: int) -> bool:
        """Count one D step of `batch_images` images; every `interval` steps adjust p.

        Returns True when p was adjusted."""
        self._steps += 1
        if self._steps % self.interval or self._count == 0:
            return False
        self.rt = float(self._sign_sum) / self._count
        step = batch_images * self.interval / (self.kimg_to_full * 1000)
        direction = (self.rt > self.target) - (self.rt < self.target)
        self.p = min(max(self.p + direction * step, 0.0), MAX_P)
        self._sign_sum, self._count = 0.0, 0
        return True

    def __call__(self, x: torch.Tensor, draws: BatchDraws | torch.Generator) -> torch.Tensor:
        """x with DiffAugment applied to each image with probability p (differentiable); x
        holds the rows of `draws` (a generator: x is the whole batch)."""
        draws = BatchDraws.of(draws, len(x))
        # Chosen over the global batch, so every process knows which rows the others augment
        # and draws what one process would for them.
        chosen = torch.rand(draws.total, generator=draws.generator, device=x.device) < self.p
        if not chosen.any():
            return x
        index = chosen[draws.rows].nonzero().squeeze(1)
        return x.index_copy(0, index, diff_augment(x[index], draws.among(chosen)))

    def log_values(self) -> dict[str, float]:
        """`ada_p` and (once measured) `ada_rt`, for metrics.jsonl."""
        values = {"ada_p": self.p}
        if self.rt is not None:
            values["ada_rt"] = self.rt
        return values

    def state_dict(self) -> dict:
        return {"p": self.p, "rt": self.rt, "sign_sum": float(self._sign_sum),
                "count": self._count, "steps": self._steps}

    def load_state_dict(self, state: dict) -> None:
        self.p, self.rt = float(state["p"]), state["rt"]
        self._sign_sum, self._count = float(state["sign_sum"]), int(state["count"])
        self._steps = int(state["steps"])
