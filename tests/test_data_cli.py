"""Dataset and architecture errors as a user meets them: the real `gantool train` subprocess
prints one `Error:` line on stderr, nothing on stdout, exits 1 or 2, and writes no run."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image


@pytest.fixture
def workdir(tmp_path):
    np.save(tmp_path / "nan.npy", np.full((3, 4, 4), np.nan, np.float32))
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["--dataset", "mnist", "--data-root", "nowhere"],
            1,
            "mnist train files not found: train-images-idx3-ubyte, train-labels-idx1-ubyte",
        ),
        (["--dataset", "array", "--data-root", "nan.npy"], 2, "contains NaN or infinite values"),
        (["--dataset", "folder", "--data-root", "empty"], 1, "no image files in"),
        (["--dataset", "ring8", "--image-size", "32"], 2, "2-D points; option image_size"),
        (["--dataset", "ring8", "--arch", "mlp"], 2, "for 2-D points use --arch mlp2d"),
    ],
)
def test_train_reports_data_and_shape_errors_in_one_line(cli, workdir, args, code, message):
    result = cli(
        "train", *args, "--steps", "1", cwd=workdir, env={"GANTOOL_CACHE": str(workdir / "cache")}
    )
    err = result.stderr.decode().strip()
    assert result.returncode == code, err
    assert result.stdout == b""
    assert err.startswith("Error: ") and "\n" not in err and "Traceback" not in err
    assert message in err
    assert not (workdir / "runs").exists() or not any((workdir / "runs").iterdir())


def test_unreadable_images_are_reported_on_stderr_and_skipped(cli, tmp_path):
    images = tmp_path / "images" / "nested"
    images.mkdir(parents=True)
    for i in range(4):
        Image.fromarray(np.full((12, 12), 40 * i, np.uint8)).save(images / f"{i}.png")
    (images / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    result = cli(
        "train",
        "--dataset",
        "folder",
        "--data-root",
        "images",
        "--arch",
        "mlp",  # any image size (the default dcgan takes 28, 32 or 64 px)
        "--steps",
        "1",
        "--batch-size",
        "2",
        "--sample-every",
        "1",
        cwd=tmp_path,
        env={"GANTOOL_CACHE": str(tmp_path / "cache")},
    )
    err = result.stderr.decode()
    assert result.returncode == 0, err
    assert "skipped 1 unreadable image(s)" in err and "broken.jpg" in err
    assert "broken.jpg" not in result.stdout.decode()
