"""`gantool runs`: a real run seen while it trains (running), after SIGTERM (stopped) and after
it is resumed to its end (finished); diverged runs, unreadable runs and bad roots."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import REPO, run_cli

TRAIN = ["train", "--dataset", "ring8", "--log-every", "5", "--sample-every", "1000",
         "--checkpoint-every", "1000", "--device", "cpu"]


def _runs(root) -> dict:
    done = run_cli("runs", str(root), "--json")
    assert done.returncode == 0, done.stderr.decode()
    return {entry["name"]: entry for entry in json.loads(done.stdout)}


def _wait_for_metrics(path, process, timeout=120.0) -> None:
    deadline = time.monotonic() + timeout
    while not (path.exists() and path.read_text().count("\n") >= 2):
        assert process.poll() is None, process.stderr.read().decode()
        assert time.monotonic() < deadline, "training logged nothing in time"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def lived(tmp_path_factory):
    """One real run at each point of its life: {status: (entry as `runs --json` printed it)}."""
    root = tmp_path_factory.mktemp("runs")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    live = subprocess.Popen([sys.executable, "-m", "gantool", *TRAIN, "--steps", "100000",
                             "--runs-root", str(root), "--name", "live"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        _wait_for_metrics(root / "live" / "metrics.jsonl", live)
        seen = {"running": _runs(root)["live"]}
        live.send_signal(signal.SIGTERM)
        _, err = live.communicate(timeout=120)
    finally:
        if live.poll() is None:
            live.kill()
    assert live.returncode == 128 + signal.SIGTERM, err.decode()
    seen["stopped"] = _runs(root)["live"]
    done = run_cli(*TRAIN[:1], "--resume", str(root / "live"),
                   "--steps", str(seen["stopped"]["steps_done"] + 5))
    assert done.returncode == 0, done.stderr.decode()
    seen["finished"] = _runs(root)["live"]
    return root, seen


def test_a_run_is_running_then_stopped_then_finished(lived):
    _, seen = lived
    running, stopped, finished = seen["running"], seen["stopped"], seen["finished"]
    assert running["status"] == "running"
    assert (running["dataset"], running["arch"], running["loss"]) == ("ring8", "mlp2d",
                                                                      "non-saturating")
    assert running["steps_planned"] == 100000 and running["steps_done"] >= 5
    assert set(running["last"]) >= {"loss_d", "loss_g", "d_real", "d_fake"}
    assert stopped["status"] == "stopped" and stopped["steps_done"] >= running["steps_done"]
    assert finished["status"] == "finished"
    assert finished["steps_done"] == finished["steps_planned"] == stopped["steps_done"] + 5
    assert finished["last"]["step"] == finished["steps_done"]


def test_diverged_runs_from_summary_status_or_a_non_finite_last_record(lived):
    root, _ = lived
    said, nan = root / "said-diverged", root / "nan-diverged"
    shutil.copytree(root / "live", said)
    shutil.copytree(root / "live", nan)
    (said / "summary.json").write_text(json.dumps({"status": "diverged", "steps": 3}))
    (nan / "summary.json").unlink()
    with open(nan / "metrics.jsonl", "a") as handle:
        handle.write(json.dumps({"step": 999999, "loss_d": float("nan"), "loss_g": 1.0}) + "\n")
    try:
        entries = _runs(root)
        assert entries["said-diverged"]["status"] == "diverged"
        assert entries["nan-diverged"]["status"] == "diverged"
        assert entries["nan-diverged"]["last"]["loss_d"] is None  # strict JSON: NaN -> null
        assert entries["live"]["status"] == "finished"
    finally:
        shutil.rmtree(said)
        shutil.rmtree(nan)


def test_table_has_one_line_per_run_and_skips_unreadable_runs(lived):
    root, seen = lived
    broken = root / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")
    try:
        done = run_cli("runs", str(root))
    finally:
        shutil.rmtree(broken)
    assert done.returncode == 0
    lines = done.stdout.decode().splitlines()
    assert lines[0].split() == ["name", "dataset", "arch", "loss", "steps", "last", "status"]
    row = next(line for line in lines if line.split()[0] == "live")
    steps = seen["finished"]["steps_done"]
    assert f"{steps}/{steps}" in row and row.split()[-1] == "finished" and "D(x)" in row
    assert not any(line.split()[0] == "broken" for line in lines[1:])
    err = done.stderr.decode().strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Warning: skipped") and "broken" in err[0]


def test_a_missing_root_is_one_error_line(tmp_path):
    done = run_cli("runs", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    err = done.stderr.decode().strip().splitlines()
    assert err == [f"Error: runs root not found: {tmp_path / 'nowhere'}"]


def test_an_empty_root_lists_nothing(tmp_path):
    done = run_cli("runs", str(tmp_path), "--json")
    assert done.returncode == 0 and json.loads(done.stdout) == []
