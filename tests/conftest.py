"""Shared fixtures: the real MNIST test files, and running the real CLI as a subprocess."""

from __future__ import annotations

import contextlib
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


@pytest.fixture
def cli_here(capsys, monkeypatch):
    """`gantool ARGS` run in this process: the same main() as the command, without a subprocess
    that imports torch again (3-5 s each). For tests of what a command computes or says; the
    real subprocess (`cli`) stays for what only a process shows (exit status, streams, signals).
    Returns a CompletedProcess like `cli`'s (stdout and stderr as bytes; text only, so a
    command writing binary to stdout goes through `cli`)."""
    import warnings

    from gantool.cli import main

    monkeypatch.delenv("GANTOOL_DEBUG", raising=False)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # main replaces it

    def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
        capsys.readouterr()
        with contextlib.chdir(cwd or "."), pytest.raises(SystemExit) as exit_info:
            main(list(args))
        captured = capsys.readouterr()
        return subprocess.CompletedProcess(args, exit_info.value.code, captured.out.encode(),
                                           captured.err.encode())

    return run
