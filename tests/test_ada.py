"""Adaptive augmentation on constructed logits: p follows the overfitting heuristic r_t."""

from __future__ import annotations

import pytest
import torch

from gantool.errors import UsageError
from gantool.train.ada import MAX_P, AdaptiveAugment


def drive(ada, logits, steps, batch=64):
    for _ in range(steps):
        ada.observe(logits)
        ada.update(batch)


def test_p_rises_while_d_overfits_and_falls_otherwise():
    ada = AdaptiveAugment(target=0.6, interval=4, kimg_to_full=1)
    overfit = torch.tensor([3.0] * 9 + [-1.0])  # r_t = 0.8 > 0.6
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
