"""One trial: a `gantool train` child process, watched by its CPU time and its metrics.jsonl.

The clock starts when the child writes config.json (its setup done, the loop about to begin),
so imports and data loading, the same for every trial, do not eat into the budget. Every poll
passes the CPU seconds so far and the evaluations seen to `check`, which may ask to stop (a
prune); at --budget-cpu the child is stopped too. Stopping is SIGINT: train finishes its step,
scores it (its last evaluation, outside the budget), saves a checkpoint and summary.json, and
exits 130; a second SIGINT after GRACE_S stops it at once, and SIGKILL follows if even that is
ignored.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gantool.sweep.cputime import cpu_seconds

POLL_S = 0.2
GRACE_S = 60.0  # wall seconds a stopped trial gets to save before the second SIGINT
LOG = "train.log"  # the child's stdout and stderr


@dataclass
class Outcome:
    state: str  # complete (budget reached), pruned, failed, interrupted (the sweep stopped)
    cpu_s: float = 0.0  # training CPU seconds when it was stopped (or ended)
    wall_s: float = 0.0
    steps: int = 0
    evals: list[dict] = field(default_factory=list)  # {"cpu_s", "step", **the eval record}
    error: str | None = None
    exit_code: int | None = None


class _Tail:
    """The complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, 0

    def lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            return []
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next poll
        self.offset += end
        return data[:end].decode("utf-8", "replace").splitlines()


def run_train(argv: list[str], run_dir: Path, *, budget_s: float, env: dict[str, str],
              check: Callable[[float, list[dict]], bool], stop: threading.Event) -> Outcome:
    """Run `argv` (a gantool train command writing `run_dir`) until budget, prune or stop."""
    run_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with open(run_dir / LOG, "wb") as log:
        # Its own session: a Ctrl-C at the terminal reaches the sweep, which stops the child.
        child = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                 start_new_session=True)
        outcome = _watch(child, run_dir, budget_s, check, stop)
    outcome.wall_s = time.monotonic() - started
    outcome.exit_code = child.returncode
    outcome.steps = _steps(run_dir, outcome)
    if outcome.state == "running":  # it ended by itself
        outcome.state = "complete" if child.returncode == 0 else "failed"
    elif child.returncode not in (0, 128 + signal.SIGINT):
        outcome.state = "failed"  # it was asked to stop and crashed instead
    if outcome.state == "failed":
        outcome.error = last_error(run_dir / LOG, child.returncode)
    return outcome


def _watch(child: subprocess.Popen, run_dir: Path, budget_s: float,
           check: Callable[[float, list[dict]], bool], stop: threading.Event) -> Outcome:
    outcome = Outcome("running")
    metrics = _Tail(run_dir / "metrics.jsonl")
    cpu0 = None  # the child's CPU seconds when its config.json appeared
    signalled_at = None
    while child.poll() is None:
        cpu = cpu_seconds(child.pid)
        if cpu is not None and cpu0 is None and (run_dir / "config.json").exists():
            cpu0 = cpu
        if cpu is not None and cpu0 is not None and signalled_at is None:
            outcome.cpu_s = cpu - cpu0
            _read_evals(metrics, outcome)
            if stop.is_set():
                outcome.state = "interrupted"
            elif outcome.cpu_s >= budget_s:
                outcome.state = "budget"  # complete once it has saved and exited
            elif check(outcome.cpu_s, outcome.evals):
                outcome.state = "pruned"
            if outcome.state != "running":
                child.send_signal(signal.SIGINT)
                signalled_at = time.monotonic()
        elif stop.is_set() and signalled_at is None:  # interrupted before training began
            outcome.state = "interrupted"
            child.send_signal(signal.SIGINT)
            signalled_at = time.monotonic()
        elif signalled_at is not None:
            waited = time.monotonic() - signalled_at
            if waited > 2 * GRACE_S:
                child.kill()
            elif waited > GRACE_S:
                child.send_signal(signal.SIGINT)  # train: a second one stops at once
        time.sleep(POLL_S)
    child.wait()
    # A stopped train scores the step it stopped at (gantool/train/loop.py): that evaluation,
    # made after the budget was spent, is the trial's last and stands at the budget's CPU time.
    _read_evals(metrics, outcome)
    if outcome.state == "budget":
        outcome.state = "complete"
    return outcome


def _read_evals(metrics: _Tail, outcome: Outcome) -> None:
    for line in metrics.lines():
        record = _json(line)
        if isinstance(record.get("eval"), dict):
            outcome.evals.append({"cpu_s": round(outcome.cpu_s, 2),
                                  "step": record.get("step"), **record["eval"]})


def _json(line: str) -> dict:
    try:
        record = json.loads(line)
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _steps(run_dir: Path, outcome: Outcome) -> int:
    """The steps the run reached: summary.json's, else the last evaluation's."""
    summary = _json((run_dir / "summary.json").read_text()) if (
        run_dir / "summary.json").exists() else {}
    if isinstance(summary.get("steps"), int):
        return summary["steps"]
    return max([e["step"] for e in outcome.evals if isinstance(e.get("step"), int)] or [0])


def last_error(log: Path, code: int | None) -> str:
    """The line that says why a child failed: its last 'Error: ...' line, else its last line."""
    try:
        lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    except FileNotFoundError:
        lines = []
    errors = [ln for ln in lines if ln.startswith("Error:")]
    line = errors[-1] if errors else (lines[-1] if lines else "no output")
    return f"{line} (exit {code})"
