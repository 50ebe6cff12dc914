"""`gantool evaluate` end to end: the real CLI on files it reads back, pipes, runs, and errors."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from gantool.data import load_dataset


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    """The bundled 5,000 digits, uint8 (N, 28, 28), shuffled (the bundle is sorted by class)."""
    images = load_dataset("mnist-5k").data[:, 0].numpy()
    return images[np.random.default_rng(0).permutation(len(images))]


def write_pngs(directory, images: np.ndarray) -> None:
    directory.mkdir()
    for i, image in enumerate(images):
        Image.fromarray(image).save(directory / f"{i:04d}.png")


def one_json(result) -> dict:
    assert result.returncode == 0, result.stderr.decode()
    lines = result.stdout.decode().strip().splitlines()
    assert len(lines) == 1, "stdout must hold one JSON object and nothing else"
    return json.loads(lines[0])


def test_folder_of_images_against_a_dataset(tmp_path, cli, digits):
    write_pngs(tmp_path / "fake", digits[:60])
    result = cli(
        "evaluate",
        "--fake",
        str(tmp_path / "fake"),
        "--real",
        "mnist-5k",
        "--metrics",
        "fid,kid,prdc,is,mode-coverage",
        "--kid-subset-size",
        "30",
        "--is-splits",
        "2",
        "--json",
    )
    report = one_json(result)
    assert report["feature_extractor"] == "digits"
    assert report["real"] == "mnist-5k" and report["fake"] == str(tmp_path / "fake")
    assert report["n_fake"] == 60 and report["n_real"] == 5000
    metrics = report["metrics"]
    assert set(metrics) == {
        "fid",
        "kid",
        "precision",
        "recall",
        "density",
        "coverage",
        "is",
        "modes",
        "mode_kl",
    }
    for name, entry in metrics.items():
        assert math.isfinite(entry["value"]), name
        assert entry["n"] == 60
    assert metrics["kid"]["std"] > 0 and metrics["is"]["std"] >= 0
    assert metrics["modes"]["total"] == 10 and metrics["modes"]["value"] >= 9
    assert metrics["precision"]["value"] > 0.8  # real digits are on the real manifold
    assert metrics["is"]["value"] > 5  # confident and varied classes
    assert "60 fake samples, fewer than the 128 feature dimensions" in result.stderr.decode()


def test_real_digits_score_better_than_noise_and_stats_round_trip(tmp_path, cli, digits):
    np.savez(tmp_path / "real.npz", data=digits[:400])
    np.savez(tmp_path / "same.npz", data=digits[400:800])
    noise = np.random.default_rng(0).integers(0, 256, (400, 28, 28), dtype=np.uint8)
    np.save(tmp_path / "noise.npy", noise)
    stats = tmp_path / "stats.npz"
    good = one_json(
        cli(
            "evaluate",
            "--fake",
            str(tmp_path / "same.npz"),
            "--real",
            str(tmp_path / "real.npz"),
            "--metrics",
            "fid",
            "--save-stats",
            str(stats),
            "--json",
        )
    )
    bad = one_json(
        cli(
            "evaluate",
            "--fake",
            str(tmp_path / "noise.npy"),
            "--real-stats",
            str(stats),
            "--metrics",
            "fid",
            "--json",
        )
    )
    assert good["saved_stats"] == str(stats)
    with np.load(stats) as saved:
        assert saved["mu"].shape == (128,) and saved["sigma"].shape == (128, 128)
    assert bad["real"] == str(stats) and bad["n_real"] == 400
    assert bad["metrics"]["fid"]["value"] > 10 * good["metrics"]["fid"]["value"]
    again = one_json(
        cli(
            "evaluate",
            "--fake",
            str(tmp_path / "same.npz"),
            "--real-stats",
            str(stats),
            "--metrics",
            "fid",
            "--json",
        )
    )
    assert again["metrics"]["fid"]["value"] == pytest.approx(good["metrics"]["fid"]["value"])


@pytest.mark.slow
def test_sample_pipes_into_evaluate(tmp_path, digits):
    from gantool.train.config import build_config
    from gantool.train.loop import train
    from gantool.train.progress import Reporter

    config = build_config(
        {},
        {
            "dataset": "mnist-5k",
            "arch": "mlp",
            "steps": 2,
            "batch_size": 16,
            "runs_root": str(tmp_path / "runs"),
            "name": "r",
            "device": "cpu",
            "sample_every": 2,
            "checkpoint_every": 2,
            "log_every": 2,
        },
    )
    run = train(config, reporter=Reporter(enabled=False))
    np.savez(tmp_path / "real.npz", data=digits[:300])
    gantool = f"{sys.executable} -m gantool"
    command = (
        f"{gantool} sample --run {run} --n 300 --format npz --out - | "
        f"{gantool} evaluate --fake - --real {tmp_path / 'real.npz'} --json "
        "--metrics fid,kid,mode-coverage --kid-subset-size 100"
    )
    result = subprocess.run(
        command,
        shell=True,
        capture_output=True,
        timeout=600,
        env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
    )
    report = one_json(result)
    assert report["fake"] == "stdin" and report["n_fake"] == 300
    assert report["metrics"]["fid"]["value"] > 0
    # Straight from the run: same seed, same samples, so the same FID.
    from_run = one_json(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "gantool",
                "evaluate",
                "--run",
                str(run),
                "--n",
                "300",
                "--batch-size",
                "64",
                "--real",
                str(tmp_path / "real.npz"),
                "--metrics",
                "fid",
                "--json",
            ],
            capture_output=True,
            timeout=600,
        )
    )
    assert from_run["metrics"]["fid"]["value"] == pytest.approx(
        report["metrics"]["fid"]["value"], rel=1e-6
    )


def test_a_2d_run_is_scored_against_its_own_dataset(tmp_path, cli):
    from gantool.train.config import build_config
    from gantool.train.loop import train
    from gantool.train.progress import Reporter

    config = build_config(
        {},
        {
            "dataset": "ring8",
            "arch": "mlp2d",
            "steps": 3,
            "batch_size": 32,
            "runs_root": str(tmp_path / "runs"),
            "name": "p",
            "device": "cpu",
            "sample_every": 3,
            "checkpoint_every": 3,
            "log_every": 3,
        },
    )
    train(config, reporter=Reporter(enabled=False))
    report = one_json(
        cli(
            "evaluate",
            "--runs-root",
            str(tmp_path / "runs"),
            "--n",
            "500",
            "--metrics",
            "fid,mode-coverage",
            "--json",
        )
    )
    assert report["real"] == "ring8" and report["feature_extractor"] == "identity"
    metrics = report["metrics"]
    assert metrics["modes"]["total"] == 8 and 0 <= metrics["modes"]["value"] <= 8
    assert 0 <= metrics["high_quality"]["value"] <= 1 and metrics["fid"]["value"] > 0


def test_mixture_samples_cover_every_mode_through_the_cli(tmp_path, cli):
    points = load_dataset("grid25", size=2000, seed=5).data.numpy()
    np.savez(tmp_path / "fake.npz", data=points)
    np.savez(tmp_path / "collapsed.npz", data=np.repeat(points[:1], 500, axis=0))
    full = one_json(
        cli(
            "evaluate",
            "--fake",
            str(tmp_path / "fake.npz"),
            "--real",
            "grid25",
            "--metrics",
            "fid,mode-coverage",
            "--json",
        )
    )["metrics"]
    assert full["modes"]["value"] == 25 and full["high_quality"]["value"] > 0.98
    assert full["fid"]["value"] < 0.05
    one = one_json(
        cli(
            "evaluate",
            "--fake",
            str(tmp_path / "collapsed.npz"),
            "--real",
            "grid25",
            "--metrics",
            "mode-coverage",
            "--json",
        )
    )["metrics"]
    assert one["modes"]["value"] == 1
    assert one["mode_kl"]["value"] == pytest.approx(math.log(25))


def test_table_output_and_conversion_note(tmp_path, cli, digits):
    rgb = np.repeat(digits[:50, :, :, None], 3, axis=3)
    big = np.stack([np.array(Image.fromarray(im).resize((32, 32))) for im in rgb])
    np.savez(tmp_path / "fake.npz", data=big)  # (50, 32, 32, 3)
    np.savez(tmp_path / "real.npz", data=digits[100:150])
    result = cli(
        "evaluate",
        "--fake",
        str(tmp_path / "fake.npz"),
        "--real",
        str(tmp_path / "real.npz"),
        "--metrics",
        "fid,prdc",
    )
    assert result.returncode == 0, result.stderr.decode()
    out, err = result.stdout.decode(), result.stderr.decode()
    assert "fid" in out and "precision" in out and "coverage" in out
    assert "3x32x32 converted to the real images' 1x28x28" in err
    assert "fewer than the 128 feature dimensions" in err  # 50 samples < 128-d features


def test_real_statistics_alone_can_be_saved(tmp_path, capsys, digits):
    from gantool.cli import main

    np.savez(tmp_path / "real.npz", data=digits[:200])
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--real", str(tmp_path / "real.npz"), "--save-stats",
              str(tmp_path / "s.npz"), "--json"])
    assert exit_info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["metrics"] == {} and report["saved_stats"] == str(tmp_path / "s.npz")
    with np.load(tmp_path / "s.npz") as saved:
        assert saved["mu"].shape == (128,) and int(saved["n"]) == 200
        assert str(saved["feature_extractor"]) == "digits"


def test_pytorch_fid_statistics_files_are_read(tmp_path, capsys, digits):
    """pytorch-fid's --save-stats writes np.savez_compressed(mu=..., sigma=...) and nothing else."""
    from gantool.cli import main
    from gantool.metrics.features import DigitsExtractor

    features = DigitsExtractor()(load_dataset("mnist-5k").data[::25]).features.numpy()
    np.savez_compressed(tmp_path / "ref.npz", mu=features.mean(0),
                        sigma=np.cov(features, rowvar=False))
    np.savez(tmp_path / "fake.npz", data=digits[:300])
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "--fake", str(tmp_path / "fake.npz"), "--real-stats",
              str(tmp_path / "ref.npz"), "--metrics", "fid", "--json"])
    assert exit_info.value.code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_real"] is None and report["real"] == str(tmp_path / "ref.npz")
    assert 0 < report["metrics"]["fid"]["value"] < 1000
