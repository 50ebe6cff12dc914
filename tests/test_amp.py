"""`gantool train --amp` (bfloat16 autocast) with every built-in architecture, through the
command's main() in this process (cli_here: no subprocess importing torch again): a couple of
steps each, on a small image file the test writes (ring8 for mlp2d)."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from gantool import registry
from gantool.train.setup import _bf16_autocast_runs_on

# Per case: the architecture and the options that keep its run tiny. r3gan trains with its
# recipe's relativistic loss and R1 + R2 (the penalties differentiate D's bf16 pass).
R3GAN_TINY = ["--arch-opt", "width=8", "--arch-opt", "min_width=4", "--arch-opt", "blocks=1",
              "--arch-opt", "group_size=4", "--loss", "relativistic", "--r1", "0.05",
              "--r2", "0.05"]
CASES = {
    "mlp": ["--arch-opt", "width=8"],
    "gan-mlp": [],
    "dcgan": ["--arch-opt", "width=4"],
    "resnet": ["--arch-opt", "width=8"],
    "r3gan": R3GAN_TINY,
    "r3gan-conditional": [*R3GAN_TINY, "--conditional"],
    "mlp2d": ["--dataset", "ring8", "--arch-opt", "width=8"],
}
BUILTIN = [e.name for e in registry.entries("architecture") if e.origin == registry.BUILTIN]
CPU_HAS_BF16 = _bf16_autocast_runs_on(torch.device("cpu"))  # the check that allows --amp



def test_every_builtin_architecture_has_a_case():
    assert set(BUILTIN) <= {case.removesuffix("-conditional") for case in CASES}


@pytest.fixture
def images(tmp_path):
    """16 labelled 32x32 RGB images in an .npz (the `array` dataset)."""
    rng = np.random.default_rng(0)
    path = tmp_path / "images.npz"
    np.savez(path, images=rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8),
             labels=np.arange(16) % 2)
    return path


def train_amp(cli_here, case: str, images, tmp_path) -> subprocess.CompletedProcess:
    arch = case.removesuffix("-conditional")
    data = [] if "--dataset" in CASES[case] else ["--dataset", "array", "--data-root",
                                                  str(images)]
    args = ["train", *data, "--arch", arch, *CASES[case], "--amp", "--device", "cpu",
            "--steps", "2", "--batch-size", "8", "--log-every", "1", "--no-tensorboard",
            "--run-dir", str(tmp_path / "run")]
    return cli_here(*args)


def check_finished(proc: subprocess.CompletedProcess, tmp_path) -> None:
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Warning: --amp" not in proc.stderr.decode()  # bf16 really ran, no float32 fallback
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["steps"] == 2
    records = [json.loads(line)
               for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert all(np.isfinite([r["loss_d"], r["loss_g"]]).all() for r in records)


@pytest.mark.skipif(not CPU_HAS_BF16, reason="this CPU has no bf16 autocast (AVX512-BF16/AMX); "
                    "gantool train --amp falls back to float32 here")
@pytest.mark.parametrize("case", CASES)
def test_amp_trains_every_architecture(case, images, tmp_path, cli_here):
    check_finished(train_amp(cli_here, case, images, tmp_path), tmp_path)


@pytest.mark.parametrize("case", ["r3gan", "r3gan-conditional"])
def test_amp_bf16_path_on_any_cpu(case, images, tmp_path, cli_here, monkeypatch):
    """r3gan's antialiased /2 had no bf16 CPU kernel: with the check forced, --amp failed with
    `Error: unexpected NotImplementedError: "compute_index_ranges_weights" not implemented for
    'BFloat16'`. The bf16 check answers yes here: CPU autocast computes in bfloat16 on any CPU
    (slowly without bf16 instructions), so the bf16 training path is tested on every machine."""
    import gantool.train.setup as setup

    monkeypatch.setattr(setup, "_bf16_autocast_runs_on", lambda device: True)
    check_finished(train_amp(cli_here, case, images, tmp_path), tmp_path)
