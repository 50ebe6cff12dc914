"""`gantool train` then `gantool sample`: every output format, read back; the library API
(load_generator, generate); and the errors, each one line. Real subprocesses where the process
shows something (stdout's bytes, exit status); else the command's main() in this process
(cli_here), which spares a second torch import per call."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.sampling import generate, sample_array
from gantool.train.checkpoint import load_generator


def _cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "gantool", *args], capture_output=True,
                          cwd=cwd, env=env, timeout=600)


def _one_error_line(proc, code: int, text: str) -> None:
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == code, proc.stderr.decode()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], lines


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A real 3-step run of the default dcgan on the bundled digits (runs/latest points at it)."""
    root = tmp_path_factory.mktemp("work")
    proc = _cli("train", "--steps", "3", "--ema", "0.5", "--name", "tiny", "--log-every", "1",
                "--device", "cpu", cwd=root)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == str(Path("runs") / "tiny")  # stdout: the path only
    assert "mnist-5k" in proc.stderr.decode()  # says which default dataset it used
    return root


def test_grid_has_ceil_sqrt_n_columns(trained):
    proc = _cli("sample", "--n", "10", "--out", "g.png", "--grid-scale", "1", cwd=trained)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout.decode().strip() == "g.png"
    with Image.open(trained / "g.png") as im:
        assert im.size == (4 * 30 + 2, 3 * 30 + 2) and im.mode == "L"  # 4 per row, 3 rows


def test_grids_are_upscaled_for_a_screen_with_crisp_pixels(trained, cli_here):
    raw = cli_here("sample", "--n", "64", "--out", "raw.png", "--grid-scale", "1", cwd=trained)
    auto = cli_here("sample", "--n", "64", "--out", "auto.png", cwd=trained)
    three = _cli("sample", "--n", "64", "--out", "-", "--grid-scale", "3", cwd=trained)
    assert raw.returncode == auto.returncode == three.returncode == 0, auto.stderr.decode()
    with Image.open(trained / "raw.png") as r, Image.open(trained / "auto.png") as a:
        raw_px, auto_px = np.asarray(r), np.asarray(a)
    assert raw_px.shape == (242, 242) and auto_px.shape == (726, 726)  # 8x8 digits: 3x
    # Nearest neighbour: each raw pixel is a 3x3 block of the same value, nothing blurred.
    assert np.array_equal(auto_px, raw_px.repeat(3, axis=0).repeat(3, axis=1))
    with Image.open(io.BytesIO(three.stdout)) as s:
        assert np.array_equal(np.asarray(s), auto_px)


def test_png_format_writes_one_file_per_image(trained, cli_here):
    proc = cli_here("sample", "--n", "5", "--format", "png", "--out", "each", cwd=trained)
    assert proc.returncode == 0, proc.stderr.decode()
    files = sorted((trained / "each").iterdir())
    assert [f.name for f in files] == [f"sample-{i:06d}.png" for i in range(5)]
    with Image.open(files[0]) as im:
        assert im.size == (28, 28)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["npz", "npy"])
def test_arrays_to_files_and_stdout_are_the_same(trained, fmt, cli_here):
    to_file = cli_here("sample", "--n", "37", "--format", fmt, "--out", f"a.{fmt}",
                       "--batch-size", "8", cwd=trained)
    to_stdout = _cli("sample", "--n", "37", "--format", fmt, "--out", "-", cwd=trained)
    assert to_file.returncode == 0 and to_stdout.returncode == 0, to_stdout.stderr.decode()
    loaded = np.load(trained / f"a.{fmt}")
    streamed = np.load(io.BytesIO(to_stdout.stdout))
    a = loaded["data"] if fmt == "npz" else loaded
    b = streamed["data"] if fmt == "npz" else streamed
    assert a.shape == (37, 28, 28, 1) and a.dtype == np.uint8
    # The same latents whatever the batch size; only float rounding in G may differ.
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert len(np.unique(a)) > 1  # not a constant (a 3-step G varies by a few grey levels)


def test_ema_and_seed_change_the_samples(trained):
    G, meta = load_generator(trained / "runs" / "tiny")
    G_raw, meta_raw = load_generator(trained / "runs" / "tiny", ema=False)
    assert meta["ema"] and not meta_raw["ema"] and meta["step"] == 3
    a = sample_array(G, 4, seed=1)
    assert np.array_equal(a, sample_array(G, 4, seed=1))
    assert not np.array_equal(a, sample_array(G, 4, seed=2))
    assert not np.array_equal(a, sample_array(G_raw, 4, seed=1))
    batches = list(generate(G, 10, seed=0, batch_size=4, device="cpu"))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert all(b.dtype == torch.float32 and b.abs().max() <= 1 for b in batches)


def test_interpolation_grid(trained, cli_here):
    proc = cli_here("sample", "--interpolate", "2", "--out", "walk.png", cwd=trained)
    assert proc.returncode == 0, proc.stderr.decode()
    with Image.open(trained / "walk.png") as im:
        assert im.size == (2 * (10 * 30 + 2), 2 * (2 * 30 + 2))  # auto scale: 2x


def test_existing_output_is_never_overwritten_without_force(trained, cli_here):
    target = trained / "keep.npz"
    target.write_bytes(b"precious")
    proc = cli_here("sample", "--n", "4", "--format", "npz", "--out", "keep.npz", cwd=trained)
    _one_error_line(proc, 2, "use --force")
    assert target.read_bytes() == b"precious"
    forced = cli_here("sample", "--n", "4", "--format", "npz", "--out", "keep.npz", "--force",
                      cwd=trained)
    assert forced.returncode == 0 and np.load(target)["data"].shape == (4, 28, 28, 1)


@pytest.mark.parametrize(("args", "code", "text"), [
    (["--format", "tiff"], 2, "unknown --format"),
    (["--n", "0"], 2, "--n must be at least 1"),
    (["--run", "nowhere"], 2, "run directory not found"),
    (["--format", "csv"], 2, "csv is for 2-D point models"),
    (["--class", "3"], 2, "--class needs a class-conditional model"),
    (["--checkpoint", "broken.pt"], 1, "cannot load checkpoint"),
    (["--grid-scale", "big"], 2, "--grid-scale must be auto"),
    (["--grid-scale", "2", "--format", "npz"], 2, "--grid-scale applies to --format grid"),
])
def test_sample_errors_are_one_line(trained, args, code, text, cli_here):
    (trained / "broken.pt").write_bytes(b"not a checkpoint")
    # A real process for one case of each exit status; the others through main() here.
    run = _cli if text in ("unknown --format", "cannot load checkpoint") else cli_here
    _one_error_line(run("sample", "--out", "x.png", *args, cwd=trained), code, text)


def test_train_errors_are_one_line(trained, tmp_path, cli_here):
    bad = tmp_path / "bad.toml"
    bad.write_text("lr = 0.1\n")
    _one_error_line(_cli("train", "--config", str(bad), cwd=trained), 2, "unknown key 'lr'")
    _one_error_line(cli_here("train", "--arch", "nope", "--steps", "1", cwd=trained), 2,
                    "unknown architecture 'nope'")
    _one_error_line(cli_here("train", "--batch-size", "0", cwd=trained), 2, "--batch-size")
    _one_error_line(cli_here("train", "--resume", "tiny", "--loss", "minimax", cwd=trained), 2,
                    "--loss cannot change")


def test_dry_run_prints_config_file_then_flags(trained, tmp_path, cli_here):
    toml = tmp_path / "c.toml"
    toml.write_text('lr-g = 1e-4\nsteps = 50\nloss = "minimax"\n')
    proc = cli_here("train", "--config", str(toml), "--steps", "7", "--dry-run", cwd=trained)
    assert proc.returncode == 0, proc.stderr.decode()
    resolved = json.loads(proc.stdout)
    assert (resolved["lr_g"], resolved["steps"], resolved["loss"]) == (1e-4, 7, "minimax")
    assert resolved["dataset"] == "mnist-5k" and resolved["arch"] == "dcgan"


@pytest.mark.slow
def test_points_model_gives_a_scatter_plot_and_csv(tmp_path, cli_here):
    proc = cli_here("train", "--dataset", "ring8", "--arch", "mlp2d", "--steps", "2",
                    "--name", "pts", "--device", "cpu", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    scatter = cli_here("sample", "--n", "200", "--out", "ring.png", cwd=tmp_path)
    assert scatter.returncode == 0, scatter.stderr.decode()
    with Image.open(tmp_path / "ring.png") as im:
        assert im.size == (400, 400)
    csv = cli_here("sample", "--n", "5", "--format", "csv", "--out", "-", cwd=tmp_path)
    rows = csv.stdout.decode().strip().splitlines()
    assert rows[0] == "x0,x1" and len(rows) == 6
    assert np.loadtxt(io.StringIO(csv.stdout.decode()), delimiter=",", skiprows=1).shape == (5, 2)
