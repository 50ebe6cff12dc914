"""What D and G minimise: the adversarial loss and everything added to it, as two backward passes.

`Objective.d_backward` fills D's gradients for one D update (loss on a real batch and fresh fakes,
plus R1 / R2 / the gradient penalty), `Objective.g_backward` fills G's (D frozen). Neither steps
an optimiser: the update rule (updates.py) decides when and in what order the players move, so a
new rule never touches the objective and a new penalty never touches a rule.

How the penalties are kept right (each is a per-sample input gradient of D, and must be the
gradient of the D being trained, with no side effects):
- R1 and R2 differentiate the logits of the main D pass itself (what stylegan2-ada's "Dboth"
  phase does): the real (R1) or fake (R2) inputs require grad before augmentation, so the
  penalty sees exactly what D saw, through the same augmentation draw, with no second forward
  pass to move spectral norm's power iteration or draw another dropout mask.
- The gradient penalty needs D at interpolates, a second forward: it runs with every layer but
  dropout in eval mode (`_penalty_mode`), so spectral norm reuses this step's estimate.
- A BatchNorm discriminator couples the samples of a batch (the "per-sample" gradient would be
  that of a sum over the batch), so penalties with one are refused (see `check_penalties`).
- Lazy regularisation (--reg-every N, StyleGAN2): the penalties run on every N-th D update only,
  with their weight multiplied by N.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch

from gantool.errors import UsageError
from gantool.losses import gradient_penalty, interpolates, squared_gradient_penalty
from gantool.train.distributed import BatchDraws


@dataclass
class DPass:
    """What one D update computed; the G step and the log read it."""

    loss: torch.Tensor
    real_logits: torch.Tensor
    fake_logits: torch.Tensor
    real: torch.Tensor
    y_real: torch.Tensor | None
    fake_g: torch.Tensor | None  # the fakes with G's graph kept (for the G step), else None
    y_fake: torch.Tensor | None


@dataclass
class GPass:
    loss: torch.Tensor
    fake_logits: torch.Tensor


def has_batch_norm(module: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in module.modules())


def couples_samples(module: torch.nn.Module) -> bool:
    """Whether a sample's output depends on the others in its batch (BatchNorm, or a layer
    that says so, like the minibatch standard deviation)."""
    return has_batch_norm(module) or any(getattr(m, "couples_samples", False)
                                         for m in module.modules())


def check_penalties(D: torch.nn.Module, arch: str, r1: float, r2: float, gp: float) -> None:
    """Refuse an input-gradient penalty on a BatchNorm discriminator, naming the fix."""
    used = [name for name, w in (("--r1", r1), ("--r2", r2), ("the gradient penalty", gp)) if w]
    if used and has_batch_norm(D):
        raise UsageError(
            f"{' and '.join(used)} need a discriminator without BatchNorm (it mixes the samples "
            f"of a batch, so a per-sample input gradient is not defined); architecture {arch!r} "
            "has BatchNorm in D: add --arch-opt d_batch_norm=false or --spectral-norm, or "
            "choose another --arch")


@contextmanager
def _penalty_mode(D: torch.nn.Module):
    """Eval mode for every layer but dropout: no running statistics or power-iteration updates."""
    changed = [m for m in D.modules() if m.training and not isinstance(m, torch.nn.Dropout)]
    for m in changed:
        m.training = False
    try:
        yield
    finally:
        for m in changed:
            m.training = True


class Objective:
    def __init__(self, loss, *, G_run, D_run, D, batch_size: int, rows: slice, z_dim: int,
                 num_classes: int, device: torch.device, r1: float = 0.0, r2: float = 0.0,
                 gp: float = 0.0, reg_every: int = 1, augment=None, ada=None,
                 autocast=nullcontext):
        self.loss = loss
        self.G_run, self.D_run, self.D = G_run, D_run, D
        self._G = getattr(G_run, "_orig_mod", G_run)  # the plain G, for double backward
        self.batch_size, self.rows, self.z_dim = batch_size, rows, z_dim
        self.num_classes, self.device = num_classes, device
        self.r1, self.r2, self.gp, self.reg_every = r1, r2, gp, reg_every
        self.augment = ada if ada is not None else augment
        self.ada = ada  # adaptive augmentation: D's real logits steer its probability
        self.autocast = autocast
        # When no layer of D mixes the samples of a batch, real and fake go through D as one
        # batch: the same function, one larger matrix product instead of two (and one
        # spectral-norm power iteration).
        self.one_pass = not couples_samples(D)

    # ---- one D update's gradients
    def d_backward(self, real: torch.Tensor, y_real: torch.Tensor | None, noise: torch.Generator,
                   *, d_update: int, keep_graph: bool) -> DPass:
        """Fill D's .grad for one update; `d_update` counts D updates (lazy regularisation),
        `keep_graph` keeps G's graph on the fakes for the G step that follows."""
        loss, d = self.d_loss(real, y_real, noise, d_update=d_update, keep_graph=keep_graph)
        self.D.zero_grad(set_to_none=True)
        loss.backward()
        return d

    def d_loss(self, real, y_real, noise, *, d_update: int, keep_graph: bool,
               joint: bool = False) -> tuple[torch.Tensor, DPass]:
        """D's loss (with its graph) and the pass that made it. `joint` (consensus, SGA) keeps
        G's graph through D's loss too, so D's gradient is a function of G's weights and the
        joint gradient field can be differentiated; the plain modules are used then, since
        torch.compile'd ones do not double-backward."""
        z = torch.randn(self.batch_size, self.z_dim, generator=noise,
                        device=self.device)[self.rows]
        y_fake = self._fake_labels(y_real, noise)
        G = self._G if joint else self.G_run
        with self.autocast(), (nullcontext() if keep_graph or joint else torch.no_grad()):
            fake_g = G(z, y_fake)
        regularise = d_update % self.reg_every == 0
        lazy = self.reg_every  # every N-th update at N times the weight: the same on average
        r1, r2, gp = (lazy * w if regularise else 0.0 for w in (self.r1, self.r2, self.gp))
        real_in = real.detach().requires_grad_(r1 > 0)
        fake_in = fake_g if joint else fake_g.detach().requires_grad_(r2 > 0)
        # torch.compile'd modules do not double-backward: penalised passes use the plain D.
        D = self.D if r1 or r2 or joint else self.D_run
        with self.autocast():
            real_logits, fake_logits = self._discriminate(D, self._aug(real_in, noise), y_real,
                                                          self._aug(fake_in, noise), y_fake)
            loss = self.loss.d_loss(real_logits, fake_logits)
        if r1:
            loss = loss + squared_gradient_penalty(real_logits, real_in, r1)
        if r2:
            loss = loss + squared_gradient_penalty(fake_logits, fake_in, r2)
        if gp:
            loss = loss + self._gradient_penalty(real, fake_g, y_real, noise, gp)
        if self.ada is not None:
            self.ada.observe(self.loss.overfit_sign(real_logits.detach(), fake_logits.detach()))
            self.ada.update(self.batch_size)
        return loss, DPass(loss.detach(), real_logits.detach(), fake_logits.detach(), real,
                           y_real, fake_g if keep_graph or joint else None, y_fake)

    # ---- one G update's gradients
    def g_backward(self, d: DPass, G: torch.nn.Module, noise: torch.Generator) -> GPass:
        """Fill G's .grad with D frozen, on the fakes of `d` when it kept G's graph (G has not
        changed since they were drawn, so they are what a fresh draw would give, for one G
        forward less) and on a fresh draw otherwise."""
        self.D.requires_grad_(False)
        try:
            loss, g = self.g_loss(d, noise)
            G.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.D.requires_grad_(True)
        return g

    def g_loss(self, d: DPass, noise: torch.Generator, *,
               joint: bool = False) -> tuple[torch.Tensor, GPass]:
        """G's loss (with its graph) on the fakes of `d` or a fresh draw. With `joint` the
        relativistic loss's real logits keep their graph: G's gradient depends on D's weights
        through them, and consensus and SGA differentiate that dependence."""
        fake_g, y_fake = d.fake_g, d.y_fake
        G_run, D_run = (self._G, self.D) if joint else (self.G_run, self.D_run)
        if fake_g is None:
            z = torch.randn(self.batch_size, self.z_dim, generator=noise,
                            device=self.device)[self.rows]
            y_fake = self._fake_labels(d.y_real, noise)
            with self.autocast():
                fake_g = G_run(z, y_fake)
        with self.autocast():
            fake_logits = D_run(self._aug(fake_g, noise), y_fake).float()
            real_logits = None
            if self.loss.g_uses_real:  # relativistic: D's CURRENT logits on the same reals
                with nullcontext() if joint else torch.no_grad():
                    real_logits = D_run(self._aug(d.real, noise), d.y_real).float()
            loss = self.loss.g_loss(fake_logits, real_logits)
        return loss, GPass(loss.detach(), fake_logits.detach())

    @torch.no_grad()
    def constrain(self, D: torch.nn.Module) -> None:
        """After each D update: WGAN's weight clipping (the loss says whether it clips)."""
        if self.loss.weight_clip is not None:
            for p in D.parameters():
                p.clamp_(-self.loss.weight_clip, self.loss.weight_clip)

    # ---- parts
    def _fake_labels(self, y_real, noise):
        if not self.num_classes:
            return None
        if self.gp > 0:
            # The gradient penalty pairs each real with a fake: draw that fake for the real's
            # class, so every interpolate lies between two samples of one class.
            return y_real
        return torch.randint(self.num_classes, (self.batch_size,), generator=noise,
                             device=self.device)[self.rows]

    def _draws(self, noise) -> BatchDraws:
        """Random numbers per row, drawn for the global batch like z: every rank augments and
        mixes its rows as one process would, and the ranks' noise streams stay in step."""
        return BatchDraws(noise, self.batch_size, self.rows)

    def _aug(self, x, noise):
        return self.augment(x, self._draws(noise)) if self.augment is not None else x

    def _discriminate(self, D, real, y_real, fake, y_fake):
        """D's logits (float32) for a real and a fake batch: in one pass when that is the same."""
        if not self.one_pass:
            return D(real, y_real).float(), D(fake, y_fake).float()
        y = torch.cat([y_real, y_fake]) if y_real is not None else None
        logits = D(torch.cat([real, fake]), y).float()
        return logits[:len(real)], logits[len(real):]

    def _gradient_penalty(self, real, fake, y, noise, weight):
        """The gradient penalty at interpolates of paired real and fake samples, through the
        augmentation when augmenting (D is penalised on what it sees)."""
        eps = self._draws(noise).uniform(*(1,) * (real.ndim - 1), device=real.device,
                                         dtype=real.dtype)
        x_hat = interpolates(real, fake, eps)
        with _penalty_mode(self.D):
            logits = self.D(self._aug(x_hat, noise), y).float()
        return gradient_penalty(logits, x_hat, weight)
