"""Adaptive augmentation on constructed logits: p follows the overfitting heuristic r_t, which
each loss defines (the sign of D's verdict on a training image, read where that loss puts it)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from gantool import registry
from gantool.errors import UsageError
from gantool.train.ada import MAX_P, AdaptiveAugment
from gantool.train.objective import Objective


def drive(ada, signs, steps, batch=64):
    for _ in range(steps):
        ada.observe(signs)
        ada.update(batch)


def test_p_rises_while_d_overfits_and_falls_otherwise():
    ada = AdaptiveAugment(target=0.6, interval=4, kimg_to_full=1)
    overfit = torch.tensor([1.0] * 9 + [-1.0])  # r_t = 0.8 > 0.6
    drive(ada, overfit, 4)
    assert ada.rt == pytest.approx(0.8)
    # one adjustment after 4 steps: 64 images x 4 steps / 1000 images
    assert ada.p == pytest.approx(64 * 4 / 1000)
    drive(ada, overfit, 8)
    assert ada.p == pytest.approx(3 * 64 * 4 / 1000)
    honest = torch.tensor([1.0] * 5 + [-1.0] * 5)  # r_t = 0 < 0.6
    drive(ada, honest, 4)
    assert ada.rt == 0.0 and ada.p == pytest.approx(2 * 64 * 4 / 1000)
    drive(ada, honest, 40)
    assert ada.p == 0.0  # clamped at 0
    drive(ada, overfit, 400)
    assert ada.p == MAX_P < 1  # and below 1


def test_p_only_moves_every_interval_steps():
    ada = AdaptiveAugment(interval=4, kimg_to_full=1)
    logits = torch.ones(8)
    adjusted = []
    for _ in range(8):
        ada.observe(logits)
        adjusted.append(ada.update(8))
    assert adjusted == [False, False, False, True] * 2
    assert ada.log_values() == {"ada_p": pytest.approx(2 * 8 * 4 / 1000), "ada_rt": 1.0}
    assert AdaptiveAugment().log_values() == {"ada_p": 0.0}  # no r_t before it is measured


def test_augmentation_reaches_about_p_of_the_samples_and_is_seeded():
    x = torch.full((2000, 1, 8, 8), 0.5, requires_grad=True)
    ada = AdaptiveAugment(p=0.3)
    out = ada(x, torch.Generator().manual_seed(0))
    changed = (out != x).flatten(1).any(1).float().mean()
    assert 0.27 < float(changed) < 0.33
    assert torch.equal(out, ada(x, torch.Generator().manual_seed(0)))
    out.sum().backward()  # differentiable: gradients reach x through both branches
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(AdaptiveAugment(p=0.0)(x, torch.Generator()), x)


def test_state_round_trips_mid_interval():
    a = AdaptiveAugment(interval=4, kimg_to_full=1)
    drive(a, torch.ones(4), 6)
    b = AdaptiveAugment(interval=4, kimg_to_full=1)
    b.load_state_dict(a.state_dict())
    drive(a, -torch.ones(4), 2)
    drive(b, -torch.ones(4), 2)
    assert a.state_dict() == b.state_dict()


@pytest.mark.parametrize(("option", "value"), [("target", 1.5), ("interval", 0),
                                               ("kimg_to_full", 0), ("p", 1.0)])
def test_bad_settings_are_usage_errors(option, value):
    with pytest.raises(UsageError, match=f"ADA {option}"):
        AdaptiveAugment(**{option: value})


# ---- r_t per loss, measured where the loop measures it: Objective.d_loss on one real batch

class MeanD(torch.nn.Module):
    """logit = scale * (mean pixel - centre) + offset: brighter images look more real."""

    def __init__(self, scale=4.0, centre=0.0, offset=0.0):
        super().__init__()
        self.scale, self.centre = scale, centre
        self.offset = torch.nn.Parameter(torch.tensor(offset))

    def forward(self, x, y=None):
        return self.scale * (x.flatten(1).mean(1) - self.centre) + self.offset


class DarkG(torch.nn.Module):
    """Fakes darker than any real below: pixels about -0.5."""

    z_dim = 4

    def forward(self, z, y=None):
        return (-0.5 + 0.1 * torch.tanh(z[:, :1, None, None])).expand(-1, 1, 4, 4)


def rt_and_loss(loss_name, D, real):
    """ADA's r_t after one D pass of the objective on `real` (ADA adjusts every step here)."""
    ada = AdaptiveAugment(interval=1)
    objective = Objective(registry.create("loss", loss_name), G_run=DarkG(), D_run=D, D=D,
                          batch_size=len(real), rows=slice(None), z_dim=DarkG.z_dim,
                          num_classes=0, device=torch.device("cpu"), ada=ada)
    loss, _ = objective.d_loss(real, None, torch.Generator().manual_seed(0), d_update=0,
                               keep_graph=False)
    return ada.rt, loss


def bright_reals(n=16):
    return torch.rand(n, 1, 4, 4, generator=torch.Generator().manual_seed(1))  # pixels in [0, 1]


@pytest.mark.parametrize("loss_name", ["relativistic", "rpgan", "wgan", "wgan-gp"])
def test_rt_does_not_move_when_every_logit_is_shifted(loss_name):
    # These losses see only differences of logits: D and D - 5 have the same loss and no
    # gradient moves the offset, so the sign of D's real logits says nothing. Every real here is
    # brighter than every fake, so D ranks each real above its fake: r_t = 1 at any offset.
    measured = {}
    for offset in (0.0, -5.0):
        D = MeanD(offset=offset)
        rt, loss = rt_and_loss(loss_name, D, bright_reals())
        loss.backward()
        assert float(D.offset.grad) == pytest.approx(0.0, abs=1e-7)
        measured[offset] = (rt, float(loss.detach()))
    assert measured[0.0][1] == pytest.approx(measured[-5.0][1])
    assert measured[0.0][0] == measured[-5.0][0] == 1.0, measured


def test_lsgan_rt_reads_d_against_its_equilibrium_output_half():
    # LSGAN's D (targets 0 fake, 1 real) outputs 0.5 where it cannot tell: reals scored
    # 0.48 and 0.52, half each, are no evidence of overfitting (r_t 0, not 1).
    real = torch.cat([torch.full((8, 1, 4, 4), 0.4), torch.full((8, 1, 4, 4), 0.6)])
    rt, _ = rt_and_loss("lsgan", MeanD(scale=0.2, centre=0.5, offset=0.5), real)
    assert rt == pytest.approx(0.0)


@pytest.mark.parametrize("loss_name", ["minimax", "non-saturating", "hinge"])
def test_logistic_and_hinge_losses_keep_the_sign_of_the_real_logit(loss_name):
    # Karras et al.'s r_t = E[sign D(x_real)]: 0 is these losses' verdict boundary.
    real = torch.cat([torch.full((4, 1, 4, 4), 0.25), torch.full((12, 1, 4, 4), 0.75)])
    rt, _ = rt_and_loss(loss_name, MeanD(centre=0.5), real)
    assert rt == pytest.approx((12 - 4) / 16)


PLAIN_LOSS_PLUGIN = """
    import torch.nn.functional as F

    from gantool.losses import AdversarialLoss
    from gantool.registry import register


    @register("loss", "plain-plugin", "a plugin loss that defines no overfitting signal")
    class PlainLoss(AdversarialLoss):
        def d_loss(self, real_logits, fake_logits):
            return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()

        def g_loss(self, fake_logits, real_logits=None):
            return F.softplus(-fake_logits).mean()
"""


def test_ada_refuses_a_loss_without_an_overfitting_signal(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "plain_plugin.py").write_text(textwrap.dedent(PLAIN_LOSS_PLUGIN))
    info = site / "plain_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plain-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gantool.plugins]\nplain_plugin = plain_plugin\n")
    env = {**os.environ, "PYTHONPATH": str(site), "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    run = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "gantool", "train", "--loss", "plain-plugin", "--ada",
         "--dataset", "mnist-5k", "--arch", "mlp", "--image-size", "8", "--arch-opt", "width=8",
         "--batch-size", "8", "--steps", "1", "--run-dir", str(run), "--no-tensorboard"],
        capture_output=True, text=True, env=env)
    assert done.returncode == 2, done.stderr[-2000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --ada"), done.stderr
    assert "plain-plugin" in lines[0] and "overfit_sign" in lines[0]
    assert not run.exists()
