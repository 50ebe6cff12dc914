"""Data-parallel training under torchrun on CPU (gloo): two real processes.

- after training, both ranks hold identical G and D weights (each checkpoint records every
  rank's weight checksums, and training refuses to save if they differ);
- the weights match single-process training on the same global batch within 1e-4 (measured:
  about 2e-6 after 10 steps; float sums are reduced in a different order);
- a checkpoint written by two processes resumes in one process, matching the same tolerance;
- with DiffAugment and the gradient penalty, the two processes log what one process logs on
  the same global batch, and a killed 2-process run with an uneven batch resumes bit for bit
  (every random draw is made for the global batch: BatchDraws).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gantool.losses import interpolates
from gantool.train.ada import AdaptiveAugment
from gantool.train.augment import diff_augment
from gantool.train.checkpoint import latest_checkpoint, load_checkpoint
from gantool.train.config import build_config
from gantool.train.distributed import BatchDraws, World
from gantool.train.loop import train
from gantool.train.progress import Reporter

TOLERANCE = 1e-4
COMMON = ["--dataset", "ring8", "--arch", "mlp2d", "--log-every", "5", "--sample-every", "5",
          "--device", "cpu"]


def _torchrun(tmp_path, nproc: int, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone",
         f"--nproc_per_node={nproc}", "-m", "gantool", "train", *args],
        capture_output=True, env=env, cwd=tmp_path, timeout=600)


def _single(tmp_path, name: str, steps: int) -> dict:
    config = build_config({}, {"dataset": "ring8", "arch": "mlp2d", "steps": steps,
                               "log_every": 5, "sample_every": 5, "device": "cpu",
                               "runs_root": str(tmp_path / "single"), "name": name})
    return load_checkpoint(latest_checkpoint(train(config, reporter=Reporter(enabled=False))))


def _max_difference(a: dict, b: dict) -> float:
    return max(float((a[part][k] - b[part][k]).abs().max()) for part in ("G", "D")
               for k in a[part])


@pytest.mark.slow
def test_two_processes_match_one_and_resume_with_any_number(tmp_path):
    two = _torchrun(tmp_path, 2, *COMMON, "--steps", "10", "--name", "two")
    assert two.returncode == 0, two.stderr.decode()[-3000:]
    assert two.stdout.decode().strip() == "runs/two"  # printed once, by rank 0
    state = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "two"))
    assert state["world_size"] == 2 and state["step"] == 10
    assert torch.equal(state["rank_checksums"][0], state["rank_checksums"][1])
    straight = _single(tmp_path, "straight", 10)
    assert _max_difference(state, straight) < TOLERANCE

    # A run written by two processes, continued by one.
    half = _torchrun(tmp_path, 2, *COMMON, "--steps", "6", "--name", "half")
    assert half.returncode == 0, half.stderr.decode()[-3000:]
    resumed = subprocess.run(
        [sys.executable, "-m", "gantool", "train", "--resume", "half", "--steps", "10"],
        capture_output=True, cwd=tmp_path, timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr.decode()
    continued = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "half"))
    assert continued["world_size"] == 1 and continued["step"] == 10
    assert _max_difference(continued, straight) < TOLERANCE


@pytest.mark.slow
def test_two_process_resume_continues_every_ranks_random_stream(tmp_path):
    # mlp's D has dropout: its masks come from each rank's global RNG, which must resume as it
    # was (v1 reseeded it from seed + rank + step, so masks changed after a resume).
    images = ["--dataset", "mnist-5k", "--arch", "mlp", "--image-size", "8", "--arch-opt",
              "width=8", "--batch-size", "16", "--log-every", "3", "--sample-every", "100",
              "--device", "cpu"]
    straight = _torchrun(tmp_path, 2, *images, "--steps", "8", "--name", "straight")
    assert straight.returncode == 0, straight.stderr.decode()[-3000:]
    half = _torchrun(tmp_path, 2, *images, "--steps", "4", "--name", "half")
    assert half.returncode == 0, half.stderr.decode()[-3000:]
    resumed = _torchrun(tmp_path, 2, "--resume", "half", "--steps", "8")
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    a = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "straight"))
    b = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "half"))
    assert len(b["rng"]["torch_ranks"]) == 2
    assert not torch.equal(*b["rng"]["torch_ranks"])  # the ranks' streams differ
    for part in ("G", "D"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"


# Small images through DiffAugment and WGAN-GP's penalty: every random draw of a step (z, the
# augmentations, the mixing weights) comes from the noise stream. No dropout in D: dropout masks
# come from each rank's own global RNG and would differ from one process's by design.
AUGMENTED = ["--dataset", "mnist-5k", "--arch", "mlp", "--image-size", "8", "--arch-opt",
             "width=8", "--arch-opt", "dropout=0", "--augment", "--loss", "wgan-gp",
             "--sample-every", "1000", "--device", "cpu"]


def _logged(run) -> list[dict]:
    """metrics.jsonl without its timings (the only thing allowed to differ between runs)."""
    return [{k: v for k, v in json.loads(line).items() if k != "img_per_s"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_two_processes_augment_and_penalise_the_global_batch_as_one_process(tmp_path):
    # Each rank must apply to its rows the augmentations and mixing weights one process applies
    # to those rows of the global batch (not the first rows' draws again on every rank).
    # SGD: Adam's first steps are lr * sign(g), so a gradient at rounding level (a bias whose
    # gradient is about 0) can take the other sign when the all-reduce sums in another order,
    # and move that weight by 2 lr; SGD keeps the two runs' differences at rounding level.
    options = [*AUGMENTED, "--batch-size", "16", "--steps", "3", "--log-every", "1",
               "--optimizer", "sgd"]
    two = _torchrun(tmp_path, 2, *options, "--name", "two")
    assert two.returncode == 0, two.stderr.decode()[-3000:]
    one = subprocess.run([sys.executable, "-m", "gantool", "train", *options, "--name", "one"],
                         capture_output=True, cwd=tmp_path, timeout=600,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert one.returncode == 0, one.stderr.decode()[-3000:]
    for a, b in zip(_logged(tmp_path / "runs" / "one"), _logged(tmp_path / "runs" / "two"),
                    strict=True):
        for key in ("loss_d", "loss_g", "logit_real", "logit_fake", "grad_d", "grad_g"):
            assert b[key] == pytest.approx(a[key], rel=1e-5), (a["step"], key)
    single = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "one"))
    double = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "two"))
    assert _max_difference(single, double) < TOLERANCE


def _children(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in children.read_text().split()] if children.exists() else []


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds workers through /proc")
def test_killed_two_process_run_with_an_uneven_batch_resumes_bit_for_bit(tmp_path):
    # Batch 7 on 2 ranks: rank 0 holds 4 rows, rank 1 holds 3. Each rank's noise stream must stay
    # where rank 0's is (only rank 0's is saved), or the resumed run draws differently.
    total = "200"
    options = [*AUGMENTED, "--batch-size", "7", "--steps", total, "--log-every", "5",
               "--checkpoint-every", "10"]
    straight = _torchrun(tmp_path, 2, *options, "--name", "straight")
    assert straight.returncode == 0, straight.stderr.decode()[-3000:]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    run = tmp_path / "runs" / "killed"
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "gantool", "train", *options, "--name", "killed"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
    try:
        while not list((run / "checkpoints").glob("step-*.pt")):
            assert proc.poll() is None, "the run ended before its first checkpoint"
            time.sleep(0.02)
    finally:  # kill -9 both training processes (each in its own session), then torchrun
        for pid in _children(proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
    killed_at = load_checkpoint(latest_checkpoint(run))["step"]
    assert 0 < killed_at < int(total)
    resumed = _torchrun(tmp_path, 2, "--resume", "killed", "--steps", total)
    assert resumed.returncode == 0, resumed.stderr.decode()[-3000:]
    a = load_checkpoint(latest_checkpoint(tmp_path / "runs" / "straight"))
    b = load_checkpoint(latest_checkpoint(run))
    assert a["step"] == b["step"] == int(total)
    for part in ("G", "D"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])
    assert _logged(run) == _logged(tmp_path / "runs" / "straight")


# ---- the same draws split over ranks, in one process (fast; ADA is refused under torchrun)

def _split_like_ranks(function, batch: torch.Tensor, size: int = 2):
    """`function(rows_of_batch, draws)` on each simulated rank's rows, each rank with its own
    generator seeded alike, joined in rank order; and every rank's generator state after."""
    outputs, states = [], []
    for rank in range(size):
        rows = World(rank, size).batch_slice(len(batch))
        generator = torch.Generator().manual_seed(5)
        outputs.append(function(batch[rows], BatchDraws(generator, len(batch), rows)))
        states.append(generator.get_state())
    return torch.cat(outputs), states


@pytest.mark.parametrize("augment", [diff_augment, AdaptiveAugment(p=0.5)],
                         ids=["diff_augment", "ada"])
def test_ranks_augment_their_rows_as_one_process_augments_the_global_batch(augment):
    batch = torch.rand(7, 3, 8, 8) * 2 - 1  # 7 rows: rank 0 holds 4, rank 1 holds 3
    one = torch.Generator().manual_seed(5)
    whole = augment(batch, one)
    joined, states = _split_like_ranks(augment, batch)
    assert torch.equal(joined, whole)
    assert all(torch.equal(state, one.get_state()) for state in states)  # streams in step


def test_ranks_mix_their_gradient_penalty_pairs_as_one_process():
    pairs = torch.rand(7, 2, 3)  # (real, fake) pairs
    mix = lambda rows, draws: interpolates(rows[:, 0], rows[:, 1],  # noqa: E731
                                           draws.uniform(1, device="cpu"))
    one = torch.Generator().manual_seed(5)
    whole = mix(pairs, BatchDraws(one, 7))
    joined, states = _split_like_ranks(mix, pairs)
    assert torch.equal(joined, whole)
    assert all(torch.equal(state, one.get_state()) for state in states)
