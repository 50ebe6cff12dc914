"""TensorBoard events written by gantool.train.tensorboard, read back with tensorboard's reader."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from gantool.train.tensorboard import TensorBoardLog, scalar_tags

event_accumulator = pytest.importorskip(
    "tensorboard.backend.event_processing.event_accumulator",
    reason="the tensorboard package (test extra) reads the events back")

RECORDS = [  # the shape of real metrics.jsonl records, plus an in-training metric
    {"step": 20, "epoch": 1, "loss_d": 1.18, "loss_g": 0.60, "d_real": 0.76, "d_fake": 0.59,
     "grad_g": 0.55, "grad_d": 1.47, "img_per_s": 1136.6, "diversity": 0.10, "grad_g_rel": 1.0,
     "diag": {"diminished_gradient": False, "non_convergence": False, "mode_collapse": True}},
    {"step": 40, "epoch": 1, "loss_d": 1.26, "loss_g": 0.85, "d_real": 0.68, "d_fake": 0.58,
     "grad_g": 1.55, "grad_d": 2.87, "img_per_s": 1347.0, "diversity": 0.12, "grad_g_rel": 0.9,
     "diag": {"diminished_gradient": True, "non_convergence": False, "mode_collapse": False},
     "eval": {"fid": 88.5}, "note": "text is not a scalar"},
]


def _read(run_dir):
    acc = event_accumulator.EventAccumulator(
        str(run_dir), size_guidance={event_accumulator.IMAGES: 0, event_accumulator.TENSORS: 0,
                                     event_accumulator.SCALARS: 0})
    acc.Reload()
    return acc


def test_scalar_tags_group_every_numeric_field():
    tags = scalar_tags(RECORDS[1])
    assert tags == {
        "progress/epoch": 1.0, "loss/d": 1.26, "loss/g": 0.85, "D/real": 0.68, "D/fake": 0.58,
        "grad/g": 1.55, "grad/d": 2.87, "speed/img_per_s": 1347.0,
        "diagnostics/diversity": 0.12, "grad/g_relative": 0.9,
        "diagnostics/diminished_gradient": 1.0, "diagnostics/non_convergence": 0.0,
        "diagnostics/mode_collapse": 0.0, "eval/fid": 88.5}


def test_events_read_back_with_tensorboard(tmp_path):
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 256, size=(34, 66, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, size=(10, 12), dtype=np.uint8)
    config = {"options": {"loss": "hinge", "lr_g": 1e-4}}
    with TensorBoardLog(tmp_path) as board:
        board.text("config", "```json\n" + json.dumps(config, indent=2) + "\n```")
        for record in RECORDS:
            board.scalars(record["step"], record)
        board.image("samples", 20, grid)
        board.image("samples", 40, grey)
        board.scalars(60, {"loss_d": float("nan"), "loss_g": float("inf")})

    assert list(tmp_path.glob("events.out.tfevents.*")), "no event file in the run directory"
    acc = _read(tmp_path)
    scalars = acc.Tags()["scalars"]
    assert {"loss/d", "loss/g", "D/real", "D/fake", "grad/g", "grad/d",
            "diagnostics/mode_collapse", "eval/fid"} <= set(scalars)
    loss_d = [(e.step, e.value) for e in acc.Scalars("loss/d")]
    assert [s for s, _ in loss_d] == [20, 40, 60]
    assert loss_d[0][1] == pytest.approx(1.18) and loss_d[1][1] == pytest.approx(1.26)
    assert math.isnan(loss_d[2][1])  # a divergence stays visible
    assert [e.value for e in acc.Scalars("diagnostics/mode_collapse")] == [1.0, 0.0]
    assert [(e.step, e.value) for e in acc.Scalars("eval/fid")] == [(40, pytest.approx(88.5))]

    from PIL import Image

    images = acc.Images("samples")
    assert [e.step for e in images] == [20, 40]
    decoded = np.asarray(Image.open(io.BytesIO(images[0].encoded_image_string)).convert("RGB"))
    assert np.array_equal(decoded, grid)  # the grid's exact pixels, not rescaled
    decoded = np.asarray(Image.open(io.BytesIO(images[1].encoded_image_string)).convert("L"))
    assert np.array_equal(decoded, grey)

    texts = acc.Tensors("config/text_summary")
    assert '"loss": "hinge"' in texts[0].tensor_proto.string_val[0].decode()


@pytest.mark.parametrize("bad", [np.zeros((4, 4, 3), np.float32), np.zeros((4, 4, 2), np.uint8)])
def test_image_refuses_what_it_cannot_show(tmp_path, bad):
    with TensorBoardLog(tmp_path) as board, pytest.raises(ValueError, match="TensorBoard image"):
        board.image("samples", 0, bad)
