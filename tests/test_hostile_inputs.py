"""Hostile and broken inputs: files that would run code, broken checkpoints, diverged models,
absurd sizes. Each one gives one `Error: ...` line, runs nothing and leaves the disk as it was."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gantool.data.dataset import load_dataset
from gantool.errors import GantoolError, UsageError
from gantool.sampling import generate, sample_array
from gantool.train.checkpoint import build_models, load_generator, save_checkpoint


def one_error_line(proc, code: int, text: str) -> str:
    lines = proc.stderr.decode().strip().splitlines()
    assert proc.returncode == code, proc.stderr.decode()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and text in lines[0], lines
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
            for p in sorted(folder.rglob("*"))}


# ---- dataset files may not run code ----------------------------------------------------

class _Payload:
    """Unpickling this with the plain pickle module runs exec(): it creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').close()",))


def write_cifar(root: Path, payload_in: str | None = None, marker: Path | None = None) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        entry = {"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), "labels": [1, 2]}
        if name == payload_in:
            entry["labels"] = _Payload(marker)
        (folder / name).write_bytes(pickle.dumps(entry, protocol=2))


def test_a_crafted_cifar_batch_never_runs_its_payload(tmp_path, cli):
    marker = tmp_path / "pwned"
    write_cifar(tmp_path, payload_in="data_batch_1", marker=marker)
    with pytest.raises(GantoolError) as info:
        load_dataset("cifar10", root=tmp_path)
    assert not marker.exists()
    message = str(info.value)
    assert "data_batch_1" in message and "refused to load __builtin__.exec" in message
    proc = cli("train", "--dataset", "cifar10", "--data-root", str(tmp_path), "--steps", "1",
               "--device", "cpu", "--runs-root", str(tmp_path / "runs"), cwd=tmp_path)
    one_error_line(proc, 1, "cifar10: ")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar_batches_of_any_pickle_protocol_still_load(tmp_path, protocol):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    pixels = np.arange(2 * 3072, dtype=np.int64).astype(np.uint8).reshape(2, 3072)
    for name in [f"data_batch_{i}" for i in range(1, 6)]:
        # The published files' fields (Python 2 str, read back as str).
        entry = {"batch_label": "training batch", "data": pixels, "labels": [3, 4],
                 "filenames": ["a.png", "b.png"]}
        (folder / name).write_bytes(pickle.dumps(entry, protocol=protocol))
    data = load_dataset("cifar10", root=tmp_path)
    assert data.data.shape == (10, 3, 32, 32)
    assert np.array_equal(data.data[:2].numpy(), pixels.reshape(2, 3, 32, 32))
    assert data.labels[:2].tolist() == [3, 4]


def test_an_image_over_pillows_pixel_limit_is_skipped_not_decoded(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "small.png")
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # 144 px: over the limit, under 2x
    with pytest.warns(UserWarning, match=r"skipped 1 unreadable image.*big\.png"):
        data = load_dataset("folder", root=tmp_path)
    assert len(data) == 1


# ---- array readers refuse what they would silently mangle ------------------------------

@pytest.mark.parametrize(("array", "text"), [
    (np.ones((4, 2), np.complex64), "complex"),
    (np.ones((4, 8, 8), np.complex128), "complex"),
    (np.array([["a", "b"]] * 4), "dtype <U1"),
    (np.zeros(4, dtype=[("x", "f4"), ("y", "f4")]), "dtype"),
])
@pytest.mark.parametrize("suffix", [".npy", ".npz"])
def test_array_readers_refuse_complex_text_and_records(tmp_path, array, text, suffix):
    path = tmp_path / f"bad{suffix}"
    if suffix == ".npy":
        np.save(path, array)
    else:
        np.savez(path, data=array)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning: refused before any cast
        with pytest.raises(UsageError, match=text):
            load_dataset("array", root=path)


def test_float_arrays_with_nan_are_refused(tmp_path):
    path = tmp_path / "nan.npy"
    np.save(path, np.array([[0.0, np.nan]] * 4, np.float32))
    with pytest.raises(UsageError, match="NaN"):
        load_dataset("array", root=path)


def test_evaluation_stats_refuse_complex(tmp_path):
    from gantool.io import read_arrays

    np.savez(tmp_path / "s.npz", mu=np.ones(2, np.complex128), sigma=np.eye(2))
    with pytest.raises(UsageError, match="mu.*complex"):
        read_arrays(tmp_path / "s.npz")


# ---- checkpoints -----------------------------------------------------------------------

ARCH = {"name": "mlp", "kwargs": {"sample_shape": [1, 8, 8], "z_dim": 4, "num_classes": 0,
                                  "spectral_norm": False, "width": 4}}


def write_run(run: Path, step: int = 1, **changes) -> Path:
    """A real checkpoint of a tiny 8x8-pixel MLP, with `changes` applied to its dict."""
    torch.manual_seed(0)
    G, _ = build_models(ARCH)
    state = {"config": {"dataset": "array"}, "arch": ARCH, "data_info": {},
             "G": G.state_dict(), "G_ema": None}
    state.update(changes)
    state = {k: v for k, v in state.items() if v is not ...}
    return save_checkpoint(run / "checkpoints", step, state, keep_last=5)


@pytest.fixture
def run(tmp_path) -> Path:
    write_run(tmp_path / "run")
    return tmp_path / "run"


def load_fails(path, text: str) -> str:
    with pytest.raises(GantoolError) as info:
        load_generator(path)
    message = str(info.value)
    assert text in message and "\n" not in message, message
    return message


@pytest.mark.parametrize(("raw", "text"), [
    (b"\x80\x02a.", "IndexError"),           # APPEND on an empty stack
    (b"\x80\x02h\x05.", "KeyError"),        # a memo entry that does not exist
    (b"garbage", "Unsupported operand"),     # torch's five-line weights_only advice
    (pickle.dumps({"a": 1}, protocol=4), "not a gantool checkpoint"),
])
def test_garbage_checkpoints_are_one_line(tmp_path, raw, text):
    path = tmp_path / "bad.pt"
    path.write_bytes(raw)
    message = load_fails(path, "cannot load checkpoint")
    assert text in message and "weights_only" not in message and "PyTorch 2.6" not in message


def test_a_checkpoint_that_would_run_code_says_so(tmp_path):
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("true",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps(Evil(), protocol=2))
    load_fails(path, "system")


@pytest.mark.parametrize("key", ["arch", "G", "config"])
def test_a_checkpoint_missing_a_key_names_it(tmp_path, key):
    write_run(tmp_path / "run", **{key: ...})
    load_fails(tmp_path / "run", f"has no {key!r}")


@pytest.mark.parametrize(("changes", "text"), [
    ({"arch": {"name": "mlp"}}, "'arch'"),
    ({"arch": "mlp"}, "'arch'"),
    ({"arch": {**ARCH, "name": "nope"}}, "unknown architecture 'nope'"),
    ({"G": [1, 2]}, "'G'"),
    ({"G": {"body.0.weight": "text"}}, "'G'"),
    ({"config": "text"}, "'config'"),
])
def test_a_checkpoint_of_the_wrong_structure_is_one_line(tmp_path, changes, text):
    write_run(tmp_path / "run", **changes)
    load_fails(tmp_path / "run", text)


def test_shapes_that_do_not_match_the_architecture_name_the_parameter(tmp_path):
    G, _ = build_models({**ARCH, "kwargs": {**ARCH["kwargs"], "width": 6}})
    write_run(tmp_path / "run", G=G.state_dict())
    message = load_fails(tmp_path / "run", "does not fit architecture 'mlp'")
    assert "(6, 4)" in message and "(4, 4)" in message, message


def test_a_stale_last_pointer_is_refused_not_silently_replaced(run):
    write_run(run, step=2)
    (run / "checkpoints" / "step-000002.pt").unlink()
    message = load_fails(run, "step-000002.pt")
    assert "missing" in message and "step-000001.pt" in message


@pytest.mark.parametrize("raw", [b"\x80\x02a.", pickle.dumps({"a": 1}, protocol=4)])
def test_sample_from_a_broken_checkpoint_is_one_line_and_writes_nothing(tmp_path, cli, raw):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(raw)
    before = snapshot(tmp_path)
    proc = cli("sample", "--checkpoint", str(bad), "--out", str(tmp_path / "s.png"))
    one_error_line(proc, 1, "cannot load checkpoint")
    assert snapshot(tmp_path) == before


# ---- sampling --------------------------------------------------------------------------

def test_generate_does_not_leave_the_caller_in_inference_mode(run):
    G, _ = load_generator(run)
    for batch in generate(G, 4, batch_size=2):
        assert not torch.is_inference_mode_enabled() and torch.is_grad_enabled()
        assert not batch.is_inference() and not batch.requires_grad
        (batch * 2).add_(1)  # the caller may work on it freely


def test_diverged_weights_are_refused(tmp_path):
    G, _ = build_models(ARCH)
    weights = G.state_dict()
    name = next(iter(weights))
    weights[name][0, 0] = float("nan")
    write_run(tmp_path / "run", G=weights)
    G, _ = load_generator(tmp_path / "run")
    with pytest.raises(GantoolError, match=f"NaN or infinite.*{name}"):
        sample_array(G, 4)


def test_non_finite_outputs_are_refused(run):
    G, _ = load_generator(run)
    G.register_forward_hook(lambda module, args, out: out * float("inf"))
    with pytest.raises(GantoolError, match="non-finite"):
        sample_array(G, 4)


def test_sample_refuses_a_diverged_checkpoint_and_writes_nothing(tmp_path, cli):
    G, _ = build_models(ARCH)
    weights = {k: torch.full_like(v, float("nan")) for k, v in G.state_dict().items()}
    write_run(tmp_path / "run", G=weights)
    before = snapshot(tmp_path)
    for fmt in ("grid", "npz"):
        proc = cli("sample", "--checkpoint", str(tmp_path / "run"), "--format", fmt,
                   "--out", str(tmp_path / f"s.{fmt}"))
        one_error_line(proc, 1, "diverged")
    assert snapshot(tmp_path) == before


def test_sample_refuses_an_output_larger_than_memory_up_front(run, cli):
    proc = cli("sample", "--checkpoint", str(run), "--n", "1000000000000", "--format", "npz",
               "--out", str(run / "huge.npz"), timeout=60)
    line = one_error_line(proc, 2, "--n 1000000000000")
    assert "GB" in line and not (run / "huge.npz").exists()


def test_sample_out_in_a_missing_folder_is_refused(run, cli):
    for fmt, out in (("grid", "a/b/c.png"), ("png", "a/b"), ("npz", "a/b.npz")):
        proc = cli("sample", "--checkpoint", str(run), "--format", fmt, "--out", out,
                   cwd=run)
        one_error_line(proc, 2, "does not exist")
        assert not (run / "a").exists()


def test_sample_array_refuses_before_allocating_beyond_available_memory(run, monkeypatch):
    from gantool import memory

    G, _ = load_generator(run)
    monkeypatch.setattr(memory, "available_bytes", lambda: 1000)
    assert sample_array(G, 15).shape == (15, 8, 8, 1)  # 960 bytes fit
    with pytest.raises(UsageError, match=r"16 samples of shape \(1, 8, 8\) needs 1.0 KB"):
        sample_array(G, 16)


def test_a_gz_bomb_is_not_unpacked_into_the_cache(tmp_path, monkeypatch):
    import gzip

    from gantool.data import torchvision_sets

    cache = tmp_path / "cache"
    monkeypatch.setenv("GANTOOL_CACHE", str(cache))
    monkeypatch.setattr(torchvision_sets, "MAX_UNPACKED_BYTES", 10_000, raising=False)
    header = bytes([0, 0, 8, 3]) + (200).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + bytes(156800)))
    labels = bytes([0, 0, 8, 1]) + (200).to_bytes(4, "big") + bytes(200)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(GantoolError, match="unpacks to more than 10,000 bytes"):
        load_dataset("mnist", root=tmp_path)
    assert not [p for p in cache.rglob("*") if p.is_file()]  # nothing half-unpacked left
