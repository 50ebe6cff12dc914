"""What the loop writes beside checkpoints: TensorBoard events of a real run, summary.json's
status on every exit, and the parts wired in from elsewhere (EMA half-life, ADA, recipes)."""

from __future__ import annotations

import json

import pytest
import torch

from gantool.train.checkpoint import latest_checkpoint, load_checkpoint
from gantool.train.config import build_config, resume_config
from gantool.train.loop import train
from gantool.train.progress import Reporter
from gantool.train.state import ema_beta

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package (test extra) reads the events back")


def quiet():
    return Reporter(enabled=False)


def tiny(tmp_path, **options):
    base = {"dataset": "mnist-5k", "arch": "mlp", "image_size": 8, "arch_options": {"width": 8},
            "steps": 6, "log_every": 3, "sample_every": 3, "checkpoint_every": 3,
            "device": "cpu", "runs_root": str(tmp_path), "name": "run"}
    return build_config({}, {**base, **options})


def test_a_run_writes_tensorboard_events_read_back_by_tensorboard(tmp_path):
    run = train(tiny(tmp_path), reporter=quiet())
    acc = event_accumulator.EventAccumulator(str(run), size_guidance={
        event_accumulator.IMAGES: 0, event_accumulator.SCALARS: 0, event_accumulator.TENSORS: 0})
    acc.Reload()
    tags = acc.Tags()
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = acc.Scalars("loss/d")
    assert [e.step for e in losses] == [r["step"] for r in logged] == [3, 6]
    assert [e.value for e in losses] == pytest.approx([r["loss_d"] for r in logged], rel=1e-6)
    assert {"loss/g", "D/real", "D/fake", "grad/g", "grad/d"} <= set(tags["scalars"])
    assert [e.step for e in acc.Images("samples")] == [0, 3, 6]
    assert "config" in "".join(tags["tensors"])


def test_no_tensorboard_writes_no_events(tmp_path):
    run = train(tiny(tmp_path, tensorboard=False), reporter=quiet())
    assert not list(run.glob("events.out.tfevents.*"))


def test_summary_says_how_the_run_ended(tmp_path):
    run = train(tiny(tmp_path), reporter=quiet())
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == summary["planned_steps"] == 6


def test_ema_half_life_follows_stylegan2_with_its_ramp_up():
    # Late in training the half-life is the given one: after ema_kimg*1000 images, weight 1/2.
    beta = ema_beta(10.0, 10**7, 64)
    assert beta ** (10_000 / 64) == pytest.approx(0.5)
    # Early, the half-life is 5% of the images seen: the EMA forgets the random start fast.
    assert ema_beta(10.0, 6400, 64) == pytest.approx(0.5 ** (64 / 320))


@pytest.mark.parametrize("options", [
    {"ema_kimg": 0.1},
    {"ada": True, "ada_target": 0.3},
], ids=["ema-kimg", "ada"])
def test_ema_kimg_and_ada_resume_exactly(tmp_path, options):
    straight = train(tiny(tmp_path, name="straight", steps=12, **options), reporter=quiet())
    half = train(tiny(tmp_path, name="half", steps=6, **options), reporter=quiet())
    saved = json.loads((half / "config.json").read_text())["options"]
    train(resume_config(saved, {"steps": 12}, half), resume_dir=half, reporter=quiet())
    a, b = (load_checkpoint(latest_checkpoint(r)) for r in (straight, half))
    for part in ("G", "D", "G_ema"):
        for key in a[part] or {}:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    if options.get("ada"):
        assert a["ada"] == b["ada"] and a["ada"]["p"] > 0  # D overfits a tiny G at first


def test_a_recipe_sets_its_options_and_flags_win(tmp_path):
    config = build_config({}, {"recipe": "lecture", "lr_d": 1e-3})
    assert (config.arch, config.loss, config.lr_d) == ("mlp", "minimax", 1e-3)


def test_the_monitors_digit_classifier_leaves_the_training_rng_alone():
    from gantool.metrics.digits import load_digit_classifier

    before = torch.get_rng_state()
    load_digit_classifier()
    assert torch.equal(torch.get_rng_state(), before)
