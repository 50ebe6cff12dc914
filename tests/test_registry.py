"""The plugin registry: decorators, lookups with suggestions, and real entry-point discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gantool import registry
from gantool.errors import UsageError


def test_register_and_create_drop_none_kwargs(monkeypatch):
    monkeypatch.setitem(registry._entries, "loss", dict(registry._entries["loss"]))

    @registry.register("loss", "test-scaled", "a loss used by this test")
    def scaled(scale=3):
        return scale

    assert registry.get("loss", "test-scaled").description == "a loss used by this test"
    assert registry.create("loss", "test-scaled", scale=None) == 3
    assert registry.create("loss", "test-scaled", scale=5) == 5


def test_unknown_name_lists_known_and_suggests_closest(monkeypatch):
    monkeypatch.setitem(registry._entries, "game", {})
    monkeypatch.setattr(registry, "_builtins_loaded", registry._builtins_loaded | {"game"})

    @registry.register("game", "bilinear", "V = x*y")
    def bilinear():
        return None

    with pytest.raises(UsageError, match=r"unknown game 'bilinaer'\. Did you mean 'bilinear'\?"):
        registry.get("game", "bilinaer")


def test_unknown_kind_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown kind 'widget'"):
        registry.register("widget")


def _write_distribution(site: Path, dist: str, module: str, source: str) -> None:
    """A minimal installed distribution: a module and a .dist-info with an entry point."""
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[gantool.plugins]\n{module} = {module}\n")


def _list_with(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run(
        [sys.executable, "-m", "gantool", "list", *args], capture_output=True, text=True, env=env
    )


def test_plugin_from_an_entry_point_is_listed_with_its_origin(tmp_path):
    _write_distribution(tmp_path, "gantool-demo", "gantool_demo", """
        from gantool.registry import register

        @register("optimizer", "demo-sgd", "a plugin optimizer")
        def demo_sgd():
            return None
    """)
    result = _list_with(tmp_path, "optimizer", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["demo-sgd"] == {
        "name": "demo-sgd", "kind": "optimizer",
        "description": "a plugin optimizer", "origin": "gantool-demo",
    }
    assert rows["simgd"]["origin"] == "built-in"


def test_broken_plugin_is_reported_and_skipped(tmp_path):
    _write_distribution(tmp_path, "gantool-broken", "gantool_broken", """
        raise ImportError("needs a library that is not installed")
    """)
    result = _list_with(tmp_path, "game")
    assert result.returncode == 0
    assert "gantool-broken" in result.stderr
    assert "needs a library that is not installed" in result.stderr
    assert "bilinear" in result.stdout
    assert "Traceback" not in result.stderr
