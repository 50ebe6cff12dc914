"""The `inception` extractor is pytorch-fid's FID Inception-v3: same weights, same features."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from gantool.errors import GantoolError
from gantool.metrics.inception import WEIGHTS_NAME, FIDInception, load_fid_inception


def random_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights in pytorch-fid's key layout, scaled so activations stay moderate."""
    generator = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in FIDInception().net.state_dict().items():
        if key.endswith("num_batches_tracked"):
            state[key] = value.clone()
        elif value.ndim == 4 or key == "fc.weight":
            fan_in = value[0].numel()
            state[key] = torch.randn(value.shape, generator=generator) * (2 / fan_in) ** 0.5
        elif key.endswith(("running_var", ".weight")):
            state[key] = 0.5 + torch.rand(value.shape, generator=generator)
        else:  # biases and running means
            state[key] = 0.1 * torch.randn(value.shape, generator=generator)
    return state


def pytorch_fid_network(state: dict[str, torch.Tensor], monkeypatch):
    """pytorch-fid's InceptionV3 (FID variant), fed `state` instead of downloading weights."""
    inception = pytest.importorskip("pytorch_fid.inception")
    monkeypatch.setattr(inception, "load_state_dict_from_url", lambda *a, **k: state)
    return inception.InceptionV3([inception.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()


@torch.no_grad()
def test_features_agree_with_pytorch_fid(monkeypatch):
    state = random_state_dict()
    reference = pytorch_fid_network(state, monkeypatch)
    ours = FIDInception()
    ours.load_weights(state)
    ours.eval()
    images = torch.rand(2, 3, 40, 56, generator=torch.Generator().manual_seed(1))
    (expected,) = reference(images)
    features, logits = ours(images)
    expected = expected.flatten(1)
    assert features.shape == (2, 2048) and logits.shape == (2, 1008)
    scale = expected.abs().max()
    assert scale > 0
    assert ((features - expected).abs().max() / scale) < 1e-5


def test_weights_file_is_loaded_and_checked(tmp_path):
    path = tmp_path / WEIGHTS_NAME
    torch.save(random_state_dict(seed=2), path)
    model = load_fid_inception(path)
    assert not model.training
    torch.save({"not": torch.zeros(1)}, tmp_path / "bad.pth")
    with pytest.raises(GantoolError, match="does not hold the FID Inception weights"):
        load_fid_inception(tmp_path / "bad.pth")
    with pytest.raises(GantoolError, match="not found"):
        load_fid_inception(tmp_path / "missing.pth")


def test_offline_without_weights_is_one_clear_error(tmp_path):
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "hub"), "GANTOOL_OFFLINE": "1"}
    import numpy as np

    np.savez(tmp_path / "x.npz", data=np.zeros((4, 32, 32, 3), dtype=np.uint8))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gantool",
            "evaluate",
            "--fake",
            str(tmp_path / "x.npz"),
            "--real",
            str(tmp_path / "x.npz"),
            "--metrics",
            "fid",
            "--feature-extractor",
            "inception",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert WEIGHTS_NAME in lines[0] and "--inception-weights" in lines[0]
    assert str(tmp_path / "hub" / "hub" / "checkpoints") in lines[0]  # $TORCH_HOME/hub


@pytest.mark.slow
def test_evaluate_runs_the_inception_extractor_from_a_weights_file(tmp_path, cli):
    import json

    import numpy as np

    torch.save(random_state_dict(seed=3), tmp_path / "w.pth")
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "fake.npz", data=rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    np.savez(tmp_path / "real.npz", data=rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8))
    result = cli("evaluate", "--fake", str(tmp_path / "fake.npz"), "--real",
                 str(tmp_path / "real.npz"), "--inception-weights", str(tmp_path / "w.pth"),
                 "--metrics", "fid,is", "--is-splits", "1", "--json")
    assert result.returncode == 0, result.stderr.decode()
    report = json.loads(result.stdout)
    assert report["feature_extractor"] == "inception"  # the default for 16x16 images
    assert report["metrics"]["fid"]["value"] > 0 and report["metrics"]["is"]["value"] >= 1
    assert "fewer than the 2048 feature dimensions" in result.stderr.decode()


def write_bad_weights(kind: str, path) -> str:
    """A weights file that is not the FID Inception's; returns what its one error line says."""
    if kind == "garbage":
        path.write_bytes(b"garbage")  # torch answers with five lines of weights_only advice
        return "not a weights file, or corrupt (Unsupported operand"
    state = random_state_dict(seed=4)
    if kind == "wrong-network":  # names and shapes of another network entirely
        torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.bias": torch.zeros(64)}, path)
        return ("566 of its 566 tensors missing (Conv2d_1a_3x3.conv.weight); "
                "2 unexpected (conv1.weight)")
    state.pop("Mixed_7c.branch_pool.conv.weight")
    state["fc.weight"] = torch.zeros(1000, 2048)  # torchvision's ImageNet head
    torch.save(state, path)
    return ("1 of its 566 tensors missing (Mixed_7c.branch_pool.conv.weight); "
            "1 of another shape (fc.weight: 1000x2048, expected 1008x2048)")


@pytest.mark.parametrize("kind", ["garbage", "wrong-network", "near-miss"])
def test_bad_inception_weights_are_one_clear_line(tmp_path, cli, kind):
    """Issue 22 section 5: torch's weights_only advice was five lines, and a wrong state dict's
    one line ended in a dangling "for Inception3:"."""
    import numpy as np

    expected = write_bad_weights(kind, tmp_path / "w.pth")
    np.savez(tmp_path / "x.npz", data=np.zeros((2, 16, 16, 3), dtype=np.uint8))
    result = cli("evaluate", "--fake", str(tmp_path / "x.npz"), "--real", str(tmp_path / "x.npz"),
                 "--metrics", "fid", "--inception-weights", str(tmp_path / "w.pth"))
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and result.stdout == b"" and len(lines) == 1, lines
    assert lines[0].startswith("Error: ") and expected in lines[0], lines[0]
    assert "weights_only" not in lines[0] and not lines[0].endswith(":")
