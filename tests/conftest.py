"""Shared fixtures: the real MNIST test files, and running the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    # One core per test worker (pytest -n auto runs one per core): torch would otherwise start
    # a thread per core in every worker and they would fight over the cores.
    os.environ.setdefault("OMP_NUM_THREADS", "1")

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = REPO.parent / "shared" / "data" / "mnist"


@pytest.fixture
def mnist_dir() -> Path:
    """The 10,000 real MNIST test digits (IDX gz files) that sit beside the repository."""
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST test files not found in {MNIST_DIR}")
    return MNIST_DIR


def run_cli(*args: str, env: dict | None = None, input: bytes | None = None, cwd=None,
            timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `python -m gantool ARGS` for real; stdout and stderr are kept apart (bytes)."""
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    full_env.pop("GANTOOL_DEBUG", None)
    return subprocess.run(
        [sys.executable, "-m", "gantool", *args],
        capture_output=True, env=full_env, input=input, cwd=cwd, timeout=timeout,
    )


@pytest.fixture
def cli():
    return run_cli
