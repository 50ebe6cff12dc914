"""`gantool prepare`: shards that read back exactly, a manifest, resumable, safe with OUT."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data import load_dataset
from gantool.data.preparing import open_source, prepare
from gantool.errors import GantoolError


def _images(n=40, size=8, channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, channels, size, size), dtype=np.uint8)


@pytest.fixture
def labelled_npz(tmp_path) -> tuple[Path, np.ndarray, np.ndarray]:
    images, labels = _images(), np.arange(40) % 4
    path = tmp_path / "set.npz"
    np.savez(path, images=images, labels=labels)
    return path, images, labels


def _read_all(out: Path):
    dataset = load_dataset("prepared", root=str(out))
    return dataset.read(dataset.manifest["shards"])


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def test_array_round_trip_with_labels_and_manifest(cli, tmp_path, labelled_npz):
    path, images, labels = labelled_npz
    out = tmp_path / "shards"
    result = cli("prepare", str(path), str(out), "--shard-size", "16")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == str(out)
    manifest = _manifest(out)
    assert manifest["count"] == 40 and manifest["shape"] == [3, 8, 8]
    assert manifest["num_classes"] == 4 and manifest["class_counts"] == [10, 10, 10, 10]
    assert [s["count"] for s in manifest["shards"]] == [16, 16, 8]
    read_images, read_labels = _read_all(out)
    assert torch.equal(read_images, torch.from_numpy(images))
    assert torch.equal(read_labels, torch.from_numpy(labels))
    # A shard is a plain WebDataset tar: key.npy + key.cls per sample.
    with tarfile.open(out / "shard-000000.tar") as tar:
        assert tar.getnames()[:2] == ["000000000.cls", "000000000.npy"]


def test_same_source_same_checksum(tmp_path, labelled_npz):
    source = open_source(str(labelled_npz[0]))
    a = prepare(source, tmp_path / "a", shard_size=16)
    b = prepare(source, tmp_path / "b", shard_size=16)
    assert a["checksum"] == b["checksum"]
    assert (tmp_path / "a" / "shard-000001.tar").read_bytes() == (
        tmp_path / "b" / "shard-000001.tar").read_bytes()


@pytest.mark.parametrize("encoding", ["png", "jpeg"])
def test_encoded_images(tmp_path, encoding):
    ramp = np.linspace(0, 255, 16).astype(np.uint8)  # smooth images: what JPEG is made for
    images = np.stack([np.broadcast_to(np.roll(ramp, i), (3, 16, 16)) for i in range(12)])
    np.save(tmp_path / "smooth.npy", images)
    prepare(open_source(str(tmp_path / "smooth.npy")), tmp_path / encoding, encoding=encoding)
    read, labels = _read_all(tmp_path / encoding)
    assert labels is None
    error = (read.float() - torch.from_numpy(images).float()).abs().mean()
    assert error == 0 if encoding == "png" else 0 < error < 8  # jpeg is lossy


def test_existing_output_is_never_overwritten_without_force(cli, cli_here, tmp_path,
                                                            labelled_npz):
    path = labelled_npz[0]
    out = tmp_path / "shards"
    assert cli_here("prepare", str(path), str(out)).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    again = cli("prepare", str(path), str(out), "--encoding", "png")
    assert again.returncode == 1
    assert again.stderr.decode().startswith("Error: ") and again.stderr.count(b"\n") == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    forced = cli_here("prepare", str(path), str(out), "--encoding", "png", "--force")
    assert forced.returncode == 0, forced.stderr
    assert _manifest(out)["encoding"] == "png"
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refused = cli_here("prepare", str(path), str(other))
    assert refused.returncode == 1 and b"not empty" in refused.stderr
    assert [p.name for p in other.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize(("args", "code", "words"), [
    (["no-such-set"], 2, "no-such-set"),
    (["ring8"], 2, "points"),
    (["SET", "--encoding", "webp"], 2, "--encoding"),
    (["SET", "--shard-size", "0"], 2, "--shard-size"),
    (["CORRUPT"], 1, "corrupt.npz"),
])
def test_bad_input_is_one_error_line(cli, cli_here, tmp_path, labelled_npz, args, code, words):
    (tmp_path / "corrupt.npz").write_bytes(b"PK\x03\x04 not a zip")
    names = {"SET": str(labelled_npz[0]), "CORRUPT": str(tmp_path / "corrupt.npz")}
    out = tmp_path / "out"
    run = cli if args == ["no-such-set"] else cli_here  # one real process, the rest in main()
    result = run("prepare", names.get(args[0], args[0]), str(out), *args[1:])
    err = result.stderr.decode()
    assert result.returncode == code, err
    assert err.startswith("Error: ") and err.count("\n") == 1 and words in err
    assert not (out / "manifest.json").exists()


def _folder(directory: Path, n: int) -> Path:
    directory.mkdir()
    for i, image in enumerate(_images(n, size=16, seed=1)):
        Image.fromarray(image.transpose(1, 2, 0)).save(directory / f"{i:04d}.png")
    return directory


def test_killed_prepare_resumes_to_the_same_checksum(tmp_path):
    photos = _folder(tmp_path / "photos", 400)
    fresh = prepare(open_source(str(photos)), tmp_path / "fresh", shard_size=10)
    out = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    args = [sys.executable, "-m", "gantool", "prepare", str(photos), str(out),
            "--shard-size", "10"]
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "shard-000003.tar").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (out / "manifest.json").exists(), "finished before it could be killed"
    assert (out / ".prepare-progress.json").exists()
    written = sorted(out.glob("shard-*.tar"))
    written[0].write_bytes(b"damaged")  # a damaged finished shard is written again
    resumed = subprocess.run(args, env=env, capture_output=True)
    assert resumed.returncode == 0, resumed.stderr
    assert _manifest(out)["checksum"] == fresh["checksum"]
    assert _manifest(out)["count"] == 400
    assert not (out / ".prepare-progress.json").exists()
    assert not list(out.glob(".*.tmp"))


def test_a_kill_while_the_progress_file_is_replaced_leaves_no_temp_after_resume(
        tmp_path, labelled_npz):
    """A kill inside the progress file's atomic write leaves its temp file beside it (seen once
    in test_killed_prepare_resumes_to_the_same_checksum under load): the resume removes it."""
    source = open_source(str(labelled_npz[0]))
    out = tmp_path / "out"

    def stop_after_first_shard(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(source, out, shard_size=16, progress=stop_after_first_shard)
    # the name atomic_write gives it: "." + the file's name + a random part
    (out / "..prepare-progress.json.k1ll3d.tmp").write_text('{"key": ')
    prepare(source, out, shard_size=16)
    assert not list(out.glob(".*.tmp"))
    assert _manifest(out)["count"] == 40


def test_interrupted_prepare_of_another_source_is_refused(tmp_path, labelled_npz):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".prepare-progress.json").write_text(json.dumps({"key": {"dataset": "x"}, "done": {}}))
    with pytest.raises(GantoolError, match="another source"):
        prepare(open_source(str(labelled_npz[0])), out)


def _damaged(tmp_path, npz: Path, damage: str) -> Path:
    out = tmp_path / "shards"
    prepare(open_source(str(npz)), out, shard_size=16)
    manifest = _manifest(out)
    if damage == "name":
        manifest["shards"][0]["name"] = "../../etc/passwd.tar"
    elif damage == "count":
        manifest["shards"][0]["count"] += 1
        manifest["count"] += 1
    elif damage == "format":
        manifest["format"] = "pickle"
    (out / "manifest.json").write_text(json.dumps(manifest))
    if damage == "truncate":
        shard = out / "shard-000000.tar"
        shard.write_bytes(shard.read_bytes()[:3000])
    return out


@pytest.mark.parametrize("damage", ["name", "truncate", "count", "format"])
def test_hostile_or_damaged_prepared_data_raises(tmp_path, labelled_npz, damage):
    out = _damaged(tmp_path, labelled_npz[0], damage)
    with pytest.raises(GantoolError):
        dataset = load_dataset("prepared", root=str(out))
        dataset.read(dataset.manifest["shards"])


def test_damaged_shard_stops_training_with_one_error_line(cli, tmp_path, labelled_npz):
    out = _damaged(tmp_path, labelled_npz[0], "truncate")
    result = cli("train", "--dataset", "prepared", "--data-root", str(out), "--arch", "mlp",
                 "--steps", "1",
                 "--batch-size", "4", "--device", "cpu", "--runs-root", str(tmp_path / "runs"))
    err = result.stderr.decode()
    assert result.returncode == 1, err
    assert err.startswith("Error: ") and err.count("\n") == 1 and "truncated" in err, err
