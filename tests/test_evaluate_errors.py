"""Bad input to `gantool evaluate`: one `Error:` line, the right exit code, no traceback, and
nothing written. Most cases run the CLI entry point in-process (same code path, much faster);
two run it as a real subprocess."""

from __future__ import annotations

import numpy as np
import pytest

from gantool.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "digits.npz", data=rng.integers(0, 256, (20, 28, 28), dtype=np.uint8))
    np.savez(tmp_path / "points.npz", data=rng.standard_normal((20, 2)).astype(np.float32))
    nan = rng.standard_normal((20, 2)).astype(np.float32)
    nan[3, 1] = np.nan
    np.savez(tmp_path / "nan.npz", data=nan)
    np.savez(tmp_path / "one.npz", data=rng.integers(0, 256, (1, 28, 28), dtype=np.uint8))
    np.savez(tmp_path / "nostats.npz", mean=np.zeros(3))
    np.savez(tmp_path / "small_stats.npz", mu=np.zeros(64), sigma=np.eye(64))
    np.savez(tmp_path / "inc_stats.npz", mu=np.zeros(128), sigma=np.eye(128),
             feature_extractor="inception")
    (tmp_path / "empty").mkdir()
    (tmp_path / "exists.npz").write_bytes(b"keep me")
    return tmp_path


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", *args])
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


CASES = [
    (["--fake", "{d}/nan.npz", "--real", "ring8", "--metrics", "fid"], 2, "NaN"),
    (["--fake", "{d}/empty", "--real", "{d}/digits.npz"], 1, "no image files"),
    (["--fake", "{d}/points.npz", "--real", "{d}/digits.npz"], 2,
     "fake samples are points but real ones are images"),
    (["--fake", "{d}/one.npz", "--real", "{d}/digits.npz", "--metrics", "fid"], 2,
     "at least 2 are needed"),
    (["--fake", "{d}/digits.npz", "--real", "{d}/digits.npz", "--classifier-weights",
      "{d}/none.safetensors"], 1, "digit classifier weights not found"),
    (["--fake", "{d}/digits.npz", "--real", "{d}/digits.npz", "--metrics", "fdi"], 2,
     "unknown metric 'fdi'. Did you mean 'fid'?"),
    (["--fake", "{d}/digits.npz", "--real-stats", "{d}/nostats.npz"], 2, "'mu' and 'sigma'"),
    (["--fake", "{d}/digits.npz", "--real-stats", "{d}/small_stats.npz", "--metrics", "fid"], 2,
     "holds 64-d statistics but the digits features are 128-d"),
    (["--fake", "{d}/digits.npz", "--real-stats", "{d}/inc_stats.npz", "--metrics", "fid"], 2,
     "holds inception statistics but the feature extractor is digits"),
    (["--fake", "{d}/digits.npz", "--real-stats", "{d}/small_stats.npz", "--metrics", "fid,kid"],
     2, "--real-stats serves fid and fd-dinov2 only; kid need"),
    (["--fake", "{d}/missing.npz", "--real", "mnist-5k"], 1, "not found"),
    (["--fake", "{d}/digits.npz", "--real", "{d}/digits.npz", "--resize", "clean"], 2,
     "--resize applies to the inception extractor, not digits"),
    (["--fake", "{d}/digits.npz", "--real", "{d}/digits.npz", "--feature-extractor", "inception",
      "--resize", "bicubic"], 2, "unknown --resize 'bicubic'"),
    (["--fake", "{d}/digits.npz", "--real-stats", "{d}/missing-stats.npz"], 1, "not found"),
    (["--fake", "{d}/digits.npz", "--real", "{d}/digits.npz", "--save-stats", "{d}/exists.npz"],
     2, "exists; use --force"),
    (["--fake", "{d}/points.npz", "--real", "ring8", "--feature-extractor", "inception"], 2,
     "reads images, but the samples are points"),
    (["--fake", "{d}/points.npz", "--metrics", "is"], 2, "needs class probabilities"),
    (["--fake", "{d}/points.npz", "--metrics", "fid"], 2, "fid need real samples"),
    (["--fake", "-", "--real", "-"], 2, "only one of --fake and --real can read stdin"),
    (["--fake", "{d}/digits.npz", "--run", "x"], 2, "give one of --fake, --run"),
    (["--runs-root", "{d}/noruns"], 2, "no run given"),
    (["--fake", "{d}/digits.npz", "--real", "{d}/digits.npz", "--metrics", "mode-coverage",
      "--feature-extractor", "nope"], 2, "unknown feature-extractor 'nope'"),
]


@pytest.mark.parametrize(("args", "code", "message"), CASES, ids=lambda v: str(v)[:40])
def test_bad_input_is_one_clear_line(files, capsys, args, code, message):
    exit_code, out, err = run_main(capsys, *[a.format(d=files) for a in args])
    assert exit_code == code, err
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    assert message in lines[0]
    assert (files / "exists.npz").read_bytes() == b"keep me"


def test_subprocess_errors_have_no_traceback(files, cli):
    result = cli("evaluate", "--fake", str(files / "nan.npz"), "--real", "ring8", "--json")
    assert result.returncode == 2 and result.stdout == b""
    err = result.stderr.decode()
    assert err.count("\n") == 1 and err.startswith("Error: ") and "NaN" in err
    result = cli("evaluate", "--fake", str(files / "empty"), "--real", "mnist-5k")
    assert result.returncode == 1 and "Traceback" not in result.stderr.decode()
    assert result.stderr.decode().strip().splitlines() == [
        f"Error: no image files in {files / 'empty'} (searched recursively)"
    ]
