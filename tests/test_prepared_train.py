"""Training on a prepared dataset: a seeded stream that resumes bit-exactly, per-rank shards,
a seeded real sample for diagnostics, and the real CLI training and resuming on shards."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from gantool.data import load_dataset, prepared
from gantool.data.preparing import open_source, prepare
from gantool.errors import GantoolError
from gantool.train.checkpoint import latest_checkpoint, load_checkpoint
from gantool.train.distributed import World

N = 100
CPU = torch.device("cpu")


@pytest.fixture
def shards(tmp_path) -> Path:
    """100 tiny images whose label is their index (so a batch's labels say which samples it
    holds), 8 per shard: 13 shards."""
    rng = np.random.default_rng(0)
    path = tmp_path / "ids.npz"
    np.savez(path, images=rng.integers(0, 256, (N, 1, 4, 4), dtype=np.uint8),
             labels=np.arange(N))
    prepare(open_source(str(path)), tmp_path / "shards", shard_size=8)
    return tmp_path / "shards"


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr(prepared, "WINDOW_BYTES", 300)  # 2 shards of 8 x 16 bytes per window


def _stream(root, batch=12, seed=0, world=World()):
    return load_dataset("prepared", root=str(root)).stream(batch, CPU, seed, world, True)


def test_one_epoch_visits_each_sample_once_in_a_new_order_each_epoch(shards, small_windows):
    stream = _stream(shards)
    assert stream.window_shards == 2 and stream.steps_per_epoch == N // 12
    epochs = [torch.cat([stream.next()[1] for _ in range(stream.steps_per_epoch)])
              for _ in range(2)]
    for ids in epochs:
        assert len(set(ids.tolist())) == len(ids) == 96
    assert not torch.equal(epochs[0], epochs[1])
    assert stream.epoch == 2
    x, _ = stream.next()
    assert x.dtype == torch.float32 and x.shape == (12, 1, 4, 4) and x.min() >= -1


@pytest.mark.parametrize("at", [0, 1, 5, 8, 13, 16])
def test_resume_gives_the_same_batches_as_no_resume(shards, small_windows, at):
    straight = _stream(shards)
    expected = [straight.next() for _ in range(24)]
    first = _stream(shards)
    for _ in range(at):
        first.next()
    state = json.loads(json.dumps(first.state_dict()))  # it is plain data
    resumed = _stream(shards)
    resumed.load_state_dict(state)
    for x, y in expected[at:]:
        got_x, got_y = resumed.next()
        assert torch.equal(got_x, x) and torch.equal(got_y, y)
    assert resumed.epoch == straight.epoch


def test_same_seed_same_order_other_seed_other_order(shards, small_windows):
    a, b, c = _stream(shards), _stream(shards), _stream(shards, seed=1)
    ya, yb, yc = (torch.cat([s.next()[1] for _ in range(8)]) for s in (a, b, c))
    assert torch.equal(ya, yb) and not torch.equal(ya, yc)


def test_each_rank_reads_its_own_shards(shards, small_windows):
    world = 3
    streams = [_stream(shards, batch=10, world=World(r, world, r)) for r in range(world)]
    assert len({s.steps_per_epoch for s in streams}) == 1
    assert [s.rows for s in streams] == [4, 3, 3]
    seen = []
    for rank, stream in enumerate(streams):
        ids = torch.cat([stream.next()[1] for _ in range(stream.steps_per_epoch)]).tolist()
        own = {i for e in stream.shards for i in range(int(e["name"][6:12]) * 8,
                                                          int(e["name"][6:12]) * 8 + e["count"])}
        assert set(ids) <= own and [e["name"] for e in stream.shards] == [
            f"shard-{i:06d}.tar" for i in range(rank, 13, world)]
        seen.append(set(ids))
    assert not (seen[0] & seen[1]) and not (seen[1] & seen[2])


def test_resume_with_another_world_size_is_refused(shards):
    state = _stream(shards, batch=10, world=World(0, 2, 0)).state_dict()
    with pytest.raises(GantoolError, match="world_size"):
        _stream(shards, batch=10).load_state_dict(state)


def test_more_ranks_than_shards_is_refused(shards):
    with pytest.raises(Exception, match="fewer than the 14 ranks"):
        _stream(shards, world=World(0, 14, 0))


def test_peek_is_a_seeded_real_sample(shards):
    dataset = load_dataset("prepared", root=str(shards))
    a = dataset.peek(10, torch.Generator().manual_seed(5))
    b = dataset.peek(10, torch.Generator().manual_seed(5))
    c = dataset.peek(10, torch.Generator().manual_seed(6))
    assert a.dtype == torch.uint8 and a.shape == (10, 1, 4, 4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    everything, _ = dataset.read(dataset.manifest["shards"])
    assert all((everything == image).flatten(1).all(1).any() for image in a)
    assert dataset.peek(500, torch.Generator()).shape[0] == N


def test_image_size_and_channels_convert_the_stream(shards):
    dataset = load_dataset("prepared", root=str(shards), image_size=8, channels=3)
    assert dataset.sample_shape == (3, 8, 8) and len(dataset) == N
    x, _ = dataset.stream(4, CPU, 0, World(), False).next()
    assert x.shape == (4, 3, 8, 8)


def _train(cli, root, runs, *args):
    result = cli("train", "--dataset", "prepared", "--data-root", str(root), "--device", "cpu",
                 "--arch", "mlp", "--batch-size", "16", "--conditional", "--log-every", "4",
                 "--sample-every", "100", "--checkpoint-every", "4", "--runs-root", str(runs),
                 *args)
    assert result.returncode == 0, result.stderr.decode()
    return Path(result.stdout.decode().strip())


def test_cli_trains_on_shards_and_resumes_exactly(cli, tmp_path, shards):
    runs = tmp_path / "runs"
    straight = _train(cli, shards, runs, "--steps", "8", "--name", "straight")
    half = _train(cli, shards, runs, "--steps", "4", "--name", "half")
    _train(cli, shards, runs, "--resume", str(half), "--steps", "8")
    a, b = (load_checkpoint(latest_checkpoint(run)) for run in (straight, half))
    assert a["step"] == b["step"] == 8
    assert a["data"] == b["data"] and a["data"]["epoch"] == 2  # 6 batches of 16 per epoch
    for key in a["G"]:
        assert torch.equal(a["G"][key], b["G"][key]), key
    config = json.loads((straight / "config.json").read_text())
    assert config["options"]["dataset"] == "prepared"
