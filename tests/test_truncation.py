"""The truncation trick at sampling time (BigGAN, Brock et al. 2019, section 3.1): latents drawn
from N(0, I) with every entry outside [-t, t] redrawn; `gantool sample --truncation` and
`gantool evaluate --truncation`, whose results record it so they never pass for untruncated ones.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

import gantool
from gantool.errors import UsageError
from gantool.sampling import generate, interpolation_latents, latent_noise, sample_array, slerp
from gantool.train.checkpoint import load_generator


class Echo(torch.nn.Module):
    """A 'generator' that returns its latents: what generate() feeds G, seen directly."""

    z_dim = 16
    sample_shape = (16,)

    def forward(self, z, y=None):
        return z.clone()


def _drawn(n, *, seed=0, batch_size=500, truncation=None) -> torch.Tensor:
    batches = generate(Echo(), n, seed=seed, batch_size=batch_size, truncation=truncation)
    return torch.cat(list(batches))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A real 3-step run of the default model on the bundled digits."""
    root = tmp_path_factory.mktemp("runs")
    trained = gantool.train(steps=3, log_every=1, runs_root=str(root), name="tiny",
                            device="cpu", progress=False)
    return trained.path


def test_truncated_latents_lie_within_the_threshold_and_are_redrawn_not_clipped():
    z = _drawn(4000, batch_size=700, truncation=0.5)
    assert z.shape == (4000, 16) and float(z.abs().max()) <= 0.5
    # Redrawn, not clipped: no mass piles up at +-t, and the spread is the truncated normal's,
    # var = 1 - 2 t phi(t) / (2 Phi(t) - 1) (std 0.284 at t = 0.5; clipping would give 0.43).
    assert int((z.abs() == 0.5).sum()) == 0
    phi = math.exp(-0.125) / math.sqrt(2 * math.pi)
    expected = math.sqrt(1 - 2 * 0.5 * phi / math.erf(0.5 / math.sqrt(2)))
    assert abs(float(z.std()) - expected) < 0.005
    assert abs(float(z.mean())) < 0.005


def test_same_seed_same_latents_and_another_seed_others():
    a = _drawn(300, seed=4, batch_size=128, truncation=0.7)
    assert torch.equal(a, _drawn(300, seed=4, batch_size=128, truncation=0.7))
    assert not torch.equal(a, _drawn(300, seed=5, batch_size=128, truncation=0.7))
    assert not torch.equal(a, _drawn(300, seed=4, batch_size=128, truncation=0.9))


def test_untruncated_latents_are_todays_torch_randn_bit_for_bit():
    gen = torch.Generator().manual_seed(3)
    expected = torch.cat([torch.randn(128, 16, generator=gen) for _ in range(2)]
                         + [torch.randn(44, 16, generator=gen)])
    assert torch.equal(_drawn(300, seed=3, batch_size=128), expected)
    assert torch.equal(_drawn(300, seed=3, batch_size=128, truncation=None), expected)
    # A threshold nothing exceeds redraws nothing: the same latents again.
    assert torch.equal(_drawn(300, seed=3, batch_size=128, truncation=1e6), expected)


def test_interpolation_truncates_its_ends_and_is_unchanged_without():
    gen = torch.Generator().manual_seed(2)
    ends = torch.randn(2, 3, 1, 16, generator=gen)
    t = torch.linspace(0, 1, 10).view(1, 10, 1)
    assert torch.equal(interpolation_latents(3, 10, 16, 2),
                       slerp(ends[0], ends[1], t).reshape(30, 16))
    walk = interpolation_latents(3, 10, 16, 2, truncation=0.5).view(3, 10, 16)
    assert float(walk[:, [0, -1]].abs().max()) <= 0.5 + 1e-6  # the ends of every row
    with pytest.raises(UsageError, match="not given ones"):
        next(generate(Echo(), 30, latents=walk.view(30, 16), truncation=0.5))


@pytest.mark.parametrize("bad", [0, -0.5, float("nan"), float("inf"), "abc", 0.001])
def test_bad_thresholds_are_refused(bad):
    with pytest.raises(UsageError, match="--truncation must be") as info:
        next(generate(Echo(), 4, truncation=bad))
    assert "\n" not in str(info.value)


def test_api_sample_truncates_and_titles_it(run):
    G, _ = load_generator(run, device="cpu", ema=True)
    truncated = gantool.sample(run, n=20, seed=1, truncation=0.5, device="cpu")
    assert np.array_equal(truncated, sample_array(G, 20, seed=1, truncation=0.5))
    assert not np.array_equal(truncated, gantool.sample(run, n=20, seed=1, device="cpu"))
    assert np.array_equal(gantool.Run(run).sample(20, seed=1, truncation=0.5, device="cpu"),
                          truncated)
    with pytest.raises(UsageError, match="--truncation must be a positive number"):
        gantool.sample(run, n=4, truncation=-1)
    assert "truncation 0.5" in gantool.Run(run).grid(4, truncation=0.5, device="cpu").title


def test_cli_sample_writes_a_truncated_grid(run, cli_here, monkeypatch):
    monkeypatch.chdir(run.parent.parent)
    proc = cli_here("sample", "--run", str(run), "--n", "16", "--truncation", "0.5",
                    "--grid-scale", "1", "--out", "t.png", "--device", "cpu")
    assert proc.returncode in (0, None), proc.stderr.decode()
    assert proc.stdout.decode().strip() == "t.png"
    with Image.open(run.parent.parent / "t.png") as im:
        grid = np.asarray(im)
    assert im.size == (4 * 30 + 2, 4 * 30 + 2)
    G, _ = load_generator(run, device="cpu", ema=True)
    first = sample_array(G, 16, seed=0, truncation=0.5)[0, :, :, 0]
    assert np.array_equal(grid[2:30, 2:30], first)  # the top-left cell is the first sample


def test_bad_truncation_is_one_line_with_exit_2(run, cli):
    proc = cli("sample", "--run", str(run), "--truncation", "nan", "--out", "x.png",
               cwd=run.parent)
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr.decode()
    assert lines[0].startswith("Error: --truncation must be a positive number"), lines
    assert not (run.parent / "x.png").exists()


def test_evaluate_records_the_truncation_and_compare_refuses_a_mix(run, cli_here, tmp_path):
    common = ("evaluate", "--run", str(run), "--n", "200", "--metrics", "is", "--device", "cpu",
              "--json")
    results = {}
    for name, extra in (("plain", ()), ("t07", ("--truncation", "0.7")),
                        ("t07b", ("--truncation", "0.7"))):
        proc = cli_here(*common, *extra)
        assert proc.returncode in (0, None), proc.stderr.decode()
        (tmp_path / f"{name}.json").write_text(proc.stdout.decode())
        results[name] = json.loads(proc.stdout)
    assert results["t07"]["protocol"]["truncation"] == 0.7
    assert "truncation 0.7" in results["t07"]["fake"]
    assert "truncation" not in results["plain"]["protocol"]
    assert "truncation" not in results["plain"]["fake"]

    mixed = cli_here("evaluate", "--compare", str(tmp_path / "plain.json"),
                     str(tmp_path / "t07.json"))
    lines = mixed.stderr.decode().strip().splitlines()
    assert mixed.returncode == 2 and len(lines) == 1, lines
    assert "different protocols" in lines[0] and "truncation: None vs 0.7" in lines[0]
    same = cli_here("evaluate", "--compare", str(tmp_path / "t07.json"),
                    str(tmp_path / "t07b.json"), "--json")
    assert same.returncode in (0, None), same.stderr.decode()
    assert json.loads(same.stdout)[0]["difference"] == 0


def test_evaluate_refuses_truncation_without_a_generator(run, tmp_path):
    fake = tmp_path / "fake.npy"
    np.save(fake, np.zeros((10, 28, 28, 1), dtype=np.uint8))
    with pytest.raises(UsageError, match="--fake samples are made already"):
        gantool.evaluate(str(fake), real="mnist-5k", truncation=0.5, progress=False)
    with pytest.raises(UsageError, match="--save-stats alone draws none"):
        gantool.evaluate(real="mnist-5k", save_stats=tmp_path / "s.npz", truncation=0.5,
                         progress=False)
    with pytest.raises(UsageError, match="--truncation must be a positive number"):
        gantool.Run(run).evaluate(truncation=0, progress=False)
