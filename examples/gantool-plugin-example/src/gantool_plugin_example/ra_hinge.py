"""The relativistic average hinge loss (Jolicoeur-Martineau 2018, "The relativistic discriminator").

A standard discriminator says how real a sample looks; a relativistic average one says how much
more real it looks than the average sample of the other kind. With C(x) the raw logit:

    D_real = C(x_real) - mean C(x_fake)        D_fake = C(x_fake) - mean C(x_real)
    d_loss = mean relu(1 - D_real) + mean relu(1 + D_fake)
    g_loss = mean relu(1 - D_fake) + mean relu(1 + D_real)

The generator's loss depends on real logits too, so real data helps G's gradient: it does not
vanish when D becomes confident (the lecture's "diminished gradient").
"""

from __future__ import annotations

import torch
from torch.nn.functional import relu

from gantool.losses import AdversarialLoss


class RelativisticAverageHinge(AdversarialLoss):
    """gantool's loss contract: d_loss / g_loss return scalars to minimise."""

    name = "ra-hinge"
    weight_clip = None  # no WGAN weight clipping
    default_gp = None  # no gradient penalty unless the user asks for one
    g_uses_real = True  # the training loop must pass real logits to g_loss

    @staticmethod
    def _relative(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return a - b.mean()

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        real = self._relative(real_logits, fake_logits)
        fake = self._relative(fake_logits, real_logits)
        return relu(1 - real).mean() + relu(1 + fake).mean()

    def g_loss(self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
               ) -> torch.Tensor:
        if real_logits is None:
            raise ValueError("ra-hinge: g_loss needs the real logits (g_uses_real is set)")
        real = self._relative(real_logits, fake_logits)
        fake = self._relative(fake_logits, real_logits)
        return relu(1 - fake).mean() + relu(1 + real).mean()

    def overfit_sign(self, real_logits: torch.Tensor, fake_logits: torch.Tensor
                     ) -> torch.Tensor:
        """ADA's overfitting signal: +1 where D scores a training image above the fakes' mean
        (D's verdict here is relative, so the sign of the raw logit alone means nothing)."""
        return torch.sign(self._relative(real_logits, fake_logits))
