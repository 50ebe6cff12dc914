"""Adversarial losses (registry kind "loss") and the penalties R1, R2 and the gradient penalty.

Every loss works on raw discriminator logits and returns scalars to MINIMISE. Where a loss is
written with D(x) = sigmoid(logit), the logs are computed stably from logits:
log D = -softplus(-logit), log(1 - D) = -softplus(logit).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from gantool.errors import UsageError
from gantool.registry import register


class AdversarialLoss:
    """A GAN loss: `d_loss(real, fake)` and `g_loss(fake, real)` on logits.

    `weight_clip`: WGAN's clip value for D's weights after each D step (None: no clipping).
    `default_gp`: the gradient-penalty weight the loss was published with (None: none).
    `g_uses_real`: g_loss needs the real logits too (relativistic losses); others accept None.
    `overfit_sign(real_logits, fake_logits)`: ADA's overfitting signal, one sign per real
    sample, +1 where D is sure that training image is real, read where this loss puts D's
    verdict; r_t is its mean. None (a loss that defines none): --ada is refused.
    """

    name = ""
    weight_clip: float | None = None
    default_gp: float | None = None
    g_uses_real = False
    overfit_sign: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def d_loss(self, real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def g_loss(
        self, fake_logits: torch.Tensor, real_logits: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Minimax(AdversarialLoss):
    """The lecture's game exactly: D maximises E log D(x) + E log(1 - D(G(z))),
    G minimises E log(1 - D(G(z))) (saturates when D confidently rejects fakes)."""

    name = "minimax"

    def d_loss(self, real_logits, fake_logits):
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

    def g_loss(self, fake_logits, real_logits=None):
        return -F.softplus(fake_logits).mean()  # = E log(1 - D(G(z)))

    def overfit_sign(self, real_logits, fake_logits):
        """Karras et al. 2020's sign D(x_real): D(x) = sigmoid(logit) > 1/2 where logit > 0."""
        return torch.sign(real_logits)


class NonSaturating(Minimax):
    """Goodfellow et al. 2014's practical fix: G maximises E log D(G(z)) instead."""

    name = "non-saturating"

    def g_loss(self, fake_logits, real_logits=None):
        return F.softplus(-fake_logits).mean()  # = -E log D(G(z))


class Wasserstein(AdversarialLoss):
    """WGAN (Arjovsky et al. 2017): critic maximises E f(x) - E f(G(z)); weights clipped."""

    name = "wgan"
    weight_clip = 0.01

    def d_loss(self, real_logits, fake_logits):
        return fake_logits.mean() - real_logits.mean()

    def g_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()

    def overfit_sign(self, real_logits, fake_logits):
        """A critic only ranks (a constant added to every score changes nothing): +1 where it
        scores a real above its paired fake, so r_t = 2 P[f(x) > f(G(z))] - 1."""
        return pair_signs(real_logits, fake_logits)


class WassersteinGP(Wasserstein):
    """WGAN-GP (Gulrajani et al. 2017): the WGAN loss with a gradient penalty, lambda 10."""

    name = "wgan-gp"
    weight_clip = None
    default_gp = 10.0


class Hinge(AdversarialLoss):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""

    name = "hinge"

    def d_loss(self, real_logits, fake_logits):
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()

    def g_loss(self, fake_logits, real_logits=None):
        return -fake_logits.mean()

    def overfit_sign(self, real_logits, fake_logits):
        """The margins +1 (real) and -1 (fake) put D's verdict boundary at 0."""
        return torch.sign(real_logits)


class LeastSquares(AdversarialLoss):
    """LSGAN (Mao et al. 2017) with targets a=0 (fake), b=1 (real), c=1 (G's target)."""

    name = "lsgan"

    def d_loss(self, real_logits, fake_logits):
        return 0.5 * ((real_logits - 1) ** 2).mean() + 0.5 * (fake_logits**2).mean()

    def g_loss(self, fake_logits, real_logits=None):
        return 0.5 * ((fake_logits - 1) ** 2).mean()

    def overfit_sign(self, real_logits, fake_logits):
        """Targets 0 (fake) and 1 (real): D outputs 0.5 where it cannot tell them apart."""
        return torch.sign(real_logits - 0.5)


class Relativistic(AdversarialLoss):
    """Relativistic standard GAN, RpGAN (Jolicoeur-Martineau 2018): D(x_r, x_f) =
    sigmoid(C(x_r) - C(x_f)) on paired real/fake samples; both players use both logits."""

    name = "relativistic"
    g_uses_real = True

    def d_loss(self, real_logits, fake_logits):
        _same_size(real_logits, fake_logits)
        return F.softplus(fake_logits - real_logits).mean()  # -E log sigmoid(r - f)

    def g_loss(self, fake_logits, real_logits=None):
        if real_logits is None:
            raise UsageError("the relativistic loss needs real logits for the generator step")
        _same_size(real_logits, fake_logits)
        return F.softplus(real_logits - fake_logits).mean()  # -E log sigmoid(f - r)

    def overfit_sign(self, real_logits, fake_logits):
        """D's verdict is sigmoid(C(x_r) - C(x_f)) on a pair, and a constant added to every
        logit changes nothing: +1 where D is sure the real is more real than its fake."""
        return pair_signs(real_logits, fake_logits)


def pair_signs(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """sign(real - fake) over the (real, fake) pairs of a batch: unchanged by a shift of every
    logit, for the losses that see only differences of logits."""
    _same_size(real_logits, fake_logits)
    return torch.sign(real_logits - fake_logits)


def _same_size(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> None:
    if real_logits.shape != fake_logits.shape:
        raise UsageError(
            f"the loss pairs real and fake samples: batch sizes differ "
            f"({tuple(real_logits.shape)} vs {tuple(fake_logits.shape)})"
        )


_LOSSES = {
    Minimax: "the lecture's saturating minimax loss: G minimises log(1 - D(G(z)))",
    NonSaturating: "non-saturating GAN loss: G maximises log D(G(z)) (Goodfellow et al. 2014)",
    Wasserstein: "Wasserstein loss with weight clipping 0.01 (Arjovsky et al. 2017)",
    WassersteinGP: "Wasserstein loss with gradient penalty, lambda 10 (Gulrajani et al. 2017)",
    Hinge: "hinge loss (Lim & Ye 2017; SNGAN, BigGAN)",
    LeastSquares: "least-squares loss, targets 0/1 (Mao et al. 2017)",
    Relativistic: "relativistic standard loss, RpGAN (Jolicoeur-Martineau 2018)",
}
for _cls, _text in _LOSSES.items():
    register("loss", _cls.name, _text)(_cls)
# R3GAN (Huang et al. 2024) calls the same loss RpGAN: D softplus(-(D(x) - D(G(z)))), G
# softplus(-(D(G(z)) - D(x))) with D's current logits on the real batch (objective.g_backward).
register("loss", "rpgan", "relativistic pairing loss, R3GAN's name for `relativistic`")(
    Relativistic)


def input_grad(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """d sum(logits) / dx per sample, flattened and kept in the graph (so a penalty trains D).
    Per sample only if D treats samples independently (no BatchNorm)."""
    (grad,) = torch.autograd.grad(logits.sum(), x, create_graph=True)
    return grad.reshape(len(x), -1)


def squared_gradient_penalty(logits: torch.Tensor, x: torch.Tensor, gamma: float) -> torch.Tensor:
    """gamma/2 * E ||grad_x D(x)||^2: R1 (Mescheder et al. 2018) with x real, R2 with x fake.
    `logits` = D(x) computed from `x` with requires_grad."""
    if gamma < 0:
        raise UsageError(f"penalty weight gamma must be >= 0, got {gamma}")
    return 0.5 * gamma * input_grad(logits, x).pow(2).sum(1).mean()


def interpolates(real: torch.Tensor, fake: torch.Tensor,
                 eps: torch.Tensor | None = None) -> torch.Tensor:
    """x_hat = eps * real + (1 - eps) * fake, eps ~ U(0, 1) per pair, requiring grad.
    `eps` (one per pair, any shape of len(real) values): the caller's draw (training draws it
    for the global batch); None draws it from torch's global generator."""
    if real.shape != fake.shape:
        raise UsageError(
            "gradient penalty pairs real and fake samples: shapes "
            f"{tuple(real.shape)} and {tuple(fake.shape)} differ"
        )
    shape = (len(real),) + (1,) * (real.ndim - 1)
    eps = (torch.rand(shape, device=real.device, dtype=real.dtype) if eps is None
           else eps.reshape(shape))
    return (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)


def gradient_penalty(logits: torch.Tensor, x_hat: torch.Tensor, lam: float = 10.0) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): lam * E (||grad D(x_hat)|| - 1)^2, `logits` = D(x_hat)
    at `interpolates(real, fake)`."""
    if lam < 0:
        raise UsageError(f"gradient-penalty lambda must be >= 0, got {lam}")
    return lam * (input_grad(logits, x_hat).norm(2, dim=1) - 1).pow(2).mean()
