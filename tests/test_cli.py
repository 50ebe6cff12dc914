"""The top-level CLI: help, version, one-line errors with exit codes, and a torch-free start."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from gantool import __version__


def test_help_lists_every_command(cli):
    result = cli("--help")
    assert result.returncode == 0
    out = result.stdout.decode()
    for command in ("train", "sample", "evaluate", "game-sim", "list", "train-classifier"):
        assert re.search(rf"\b{command}\b", out), command


def test_version(cli):
    result = cli("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"gantool {__version__}"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["no-such-command"], 2, "No such command"),
        (["list", "--no-such-option"], 2, "No such option"),
        (["list", "widgets"], 2, "unknown kind 'widgets'"),
    ],
)
def test_bad_usage_is_one_line_with_exit_2(cli, args, code, message):
    result = cli(*args)
    err = result.stderr.decode()
    assert result.returncode == code
    assert message in err
    assert err.startswith("Error: ")
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert result.stdout == b""


@pytest.mark.parametrize("args", [["--help"], ["list", "game"], ["list", "optimizer", "--json"]])
def test_start_does_not_import_torch(args):
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gantool", *args], capture_output=True
    )
    assert proc.returncode == 0, proc.stderr.decode()[-500:]
    imported = {line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()}
    assert "torch" not in imported
    assert "matplotlib" not in imported
