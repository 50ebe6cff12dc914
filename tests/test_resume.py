"""Resuming continues exactly; SIGINT/SIGTERM save and exit cleanly; SIGKILL at random moments
never leaves a checkpoint that fails to load; a run being trained is locked."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gantool.train.checkpoint import latest_checkpoint, list_checkpoints, load_checkpoint
from gantool.train.config import build_config, resume_config
from gantool.train.loop import train
from gantool.train.progress import Reporter


def _train(tmp_path, name, steps, **options):
    config = build_config({}, {"steps": steps, "name": name, "runs_root": str(tmp_path),
                               "device": "cpu", "log_every": 4, "sample_every": 8,
                               "checkpoint_every": 100, **options})
    return train(config, reporter=Reporter(enabled=False))


def _resume(run: Path, steps: int):
    saved = json.loads((run / "config.json").read_text())["options"]
    return train(resume_config(saved, {"steps": steps}, run), resume_dir=run,
                 reporter=Reporter(enabled=False))


def _assert_same_state(a: dict, b: dict) -> None:
    for part in ("G", "D", "G_ema"):
        if a[part] is None:
            assert b[part] is None
            continue
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"
    for opt in ("opt_g", "opt_d"):
        for pid, s in a[opt]["state"].items():
            for key, value in s.items():
                assert torch.equal(value, b[opt]["state"][pid][key]), f"{opt}.{pid}.{key}"
    assert torch.equal(a["rng"]["torch"], b["rng"]["torch"])
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])


@pytest.mark.parametrize("options", [
    # images: dropout (global RNG), DiffAugment and EMA (noise stream), epochs wrap (data order)
    {"dataset": "mnist-5k", "arch": "mlp", "image_size": 8, "augment": True, "ema": 0.9,
     "batch_size": 256},
    # points: several D steps, gradient penalty (noise stream), R1
    {"dataset": "ring8", "arch": "mlp2d", "loss": "wgan-gp", "d_steps": 2, "r1": 0.5},
], ids=["mnist-mlp-augment-ema", "ring8-wgan-gp-dsteps2"])
def test_n_steps_then_resume_to_2n_equals_2n_straight(tmp_path, options):
    n = 12  # 2n = 24 steps wrap mnist-5k's 19 batches per epoch
    straight = _train(tmp_path, "straight", 2 * n, **options)
    half = _train(tmp_path, "half", n, **options)
    _resume(half, 2 * n)
    a = load_checkpoint(latest_checkpoint(straight))
    b = load_checkpoint(latest_checkpoint(half))
    assert a["step"] == b["step"] == 2 * n
    _assert_same_state(a, b)
    lines = (half / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == list(range(4, 25, 4))


def _start_training(tmp_path: Path, name: str, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("GANTOOL_DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "-m", "gantool", "train", "--dataset", "ring8", "--arch", "mlp2d",
         "--device", "cpu", "--name", name, "--runs-root", str(tmp_path), "--log-every", "5",
         "--sample-every", "100000", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def _wait_for_step_after(run: Path, step: int, proc: subprocess.Popen) -> None:
    """Until the run has checkpointed beyond `step` (so the new process is really training)."""
    pointer = run / "checkpoints" / "last"
    deadline = time.monotonic() + 120
    while not (pointer.exists() and int(pointer.read_text().strip()[5:11] or 0) > step):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, f"no checkpoint after step {step}"
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_a_checkpoint_and_exits_with_one_line(tmp_path, cli_here, sig, code):
    proc = _start_training(tmp_path, "sig", "--steps", "1000000", "--checkpoint-every",
                           "1000000")
    run = tmp_path / "sig"
    _wait_for(run / "metrics.jsonl", proc)
    time.sleep(1.0)
    # While it trains, a second trainer is refused (the run directory is locked).
    second = cli_here("train", "--resume", str(run), "--runs-root", str(tmp_path))
    assert second.returncode == 1
    assert second.stderr.decode().startswith("Error: ") and "being trained by pid" in \
        second.stderr.decode()
    assert len(second.stderr.decode().strip().splitlines()) == 1
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err.decode()
    last_line = err.decode().strip().splitlines()[-1]
    assert last_line.startswith("Error: stopped by") and "--resume" in last_line
    assert out == b""  # stdout stays clean
    state = load_checkpoint(latest_checkpoint(run))
    assert state["step"] > 0
    assert (run / "progress.gif").exists() and (run / "losses.png").exists()
    more = cli_here("train", "--resume", str(run), "--steps", str(state["step"] + 3),
                    "--runs-root", str(tmp_path))
    assert more.returncode == 0, more.stderr.decode()
    assert load_checkpoint(latest_checkpoint(run))["step"] == state["step"] + 3


@pytest.mark.slow
def test_sigkill_at_random_moments_never_corrupts_the_latest_checkpoint(tmp_path, cli_here):
    rng = random.Random(1234)
    run = tmp_path / "kill"
    total = 100000
    args = ("--steps", str(total), "--checkpoint-every", "1", "--keep-last", "2")
    proc = _start_training(tmp_path, "kill", *args)
    steps_seen = [0]
    for _ in range(4):
        _wait_for_step_after(run, steps_seen[-1], proc)
        time.sleep(rng.uniform(0.2, 1.5))  # checkpoints are written every step: likely mid-write
        proc.kill()
        proc.wait()
        state = load_checkpoint(latest_checkpoint(run))  # must load: never torn
        assert all(torch.isfinite(v).all() for v in state["G"].values())
        steps_seen.append(state["step"])
        assert len(list_checkpoints(run / "checkpoints")) <= 3
        proc = _start_training(tmp_path, "kill", "--resume", str(run), *args[2:],
                               "--steps", str(total))
    proc.kill()
    proc.wait()
    assert steps_seen == sorted(steps_seen) and len(set(steps_seen)) == len(steps_seen)
    final = latest_checkpoint(run)
    step = load_checkpoint(final)["step"]
    done = cli_here("train", "--resume", str(run), "--steps", str(step + 2),
                    "--runs-root", str(tmp_path))
    assert done.returncode == 0, done.stderr.decode()
    assert load_checkpoint(latest_checkpoint(run))["step"] == step + 2
    assert not list((run / "checkpoints").glob(".*.tmp"))  # leftovers of killed saves removed


def _logged_losses(run: Path) -> list[dict]:
    """metrics.jsonl without its timings (the only thing allowed to differ)."""
    return [{k: v for k, v in json.loads(line).items() if k != "img_per_s"}
            for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_kill_9_at_six_random_moments_then_resume_equals_the_run_never_interrupted(tmp_path):
    rng = random.Random(2026)
    total = 800
    # wgan-gp draws from the noise stream (mixing weights), d-steps 2 consumes more data per step.
    args = ("--steps", str(total), "--checkpoint-every", "7", "--keep-last", "2",
            "--log-every", "10", "--loss", "wgan-gp", "--d-steps", "2")
    straight = _start_training(tmp_path, "straight", *args)
    assert straight.wait(timeout=600) == 0, straight.stderr.read().decode()
    run = tmp_path / "soak"
    proc = _start_training(tmp_path, "soak", *args)
    kills, seen = [], 0
    while len(kills) < 6:
        _wait_for_step_after(run, seen, proc)
        time.sleep(rng.uniform(0.0, 1.0))  # anywhere: mid-step, mid-save, mid-log
        proc.kill()
        proc.wait()
        seen = load_checkpoint(latest_checkpoint(run))["step"]
        kills.append(seen)
        proc = _start_training(tmp_path, "soak", "--resume", str(run), *args)
    assert proc.wait(timeout=600) == 0, proc.stderr.read().decode()
    assert kills == sorted(kills) and kills[-1] < total, kills
    a = load_checkpoint(latest_checkpoint(tmp_path / "straight"))
    b = load_checkpoint(latest_checkpoint(run))
    assert a["step"] == b["step"] == total
    _assert_same_state(a, b)
    assert _logged_losses(run) == _logged_losses(tmp_path / "straight")
