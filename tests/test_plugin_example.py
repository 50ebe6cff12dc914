"""examples/gantool-plugin-example installed for real into a fresh virtual environment.

Installing torch into a new environment would cost gigabytes and minutes, so the fresh venv
(made without system site packages and without pip) gets one .pth file that adds this
interpreter's site-packages *after* its own: torch, the editable gantool, pip and setuptools are
visible, and `pip install` run by the venv's python installs the plugin into the venv alone.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "gantool-plugin-example"
DIST = "gantool-plugin-example"

pytestmark = pytest.mark.slow  # a venv, a pip install and a few torch processes: over a minute


def _bin(env_dir: Path, name: str) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / name


def _run(python: Path, *args: str, cwd: Path | None = None, timeout: float = 600):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    for leaked in ("GANTOOL_DEBUG", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(leaked, None)
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=timeout)


def _listed(python: Path, kind: str) -> dict[str, dict]:
    proc = _run(python, "-m", "gantool", "list", kind, "--json")
    assert proc.returncode == 0, proc.stderr
    return {row["name"]: row for row in json.loads(proc.stdout)}


def _need_setuptools(major: int) -> None:
    """Skip (with the fix in the reason) when this environment cannot build the example."""
    try:
        from importlib.metadata import version

        found = int(version("setuptools").split(".")[0])
    except Exception:  # not installed, or an unparsable version
        found = 0
    if found < major:
        pytest.skip(f"building the example offline needs setuptools>={major} in this "
                    f"environment (found {found or 'none'}): pip install 'setuptools>={major}'")


@pytest.fixture(scope="module")
def fresh_python(tmp_path_factory) -> Path:
    """A fresh venv that sees this interpreter's packages but has the plugin installed alone."""
    _need_setuptools(77)  # --no-build-isolation builds with this environment's setuptools
    root = tmp_path_factory.mktemp("plugin-venv")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(env_dir)
    python = _bin(env_dir, "python")
    purelib = Path(_run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
                   .stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # addsitedir (not a bare path line) so the editable install's own .pth files are honoured.
    lines = [f"import site; site.addsitedir({path!r})" for path in sorted(ours)]
    (purelib / "zz_gantool_parent_env.pth").write_text("\n".join(lines) + "\n")

    before = _listed(python, "architecture")
    assert "maxout-mlp" not in before, (
        "gantool-plugin-example is installed in this environment, so a fresh venv would see it "
        "without installing it: pip uninstall gantool-plugin-example")

    source = root / "src"  # build from a copy: no build/ or egg-info left in the repository
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                   "__pycache__"))
    proc = _run(python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                str(source))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return python


def test_the_venv_is_fresh_and_holds_the_plugin(fresh_python):
    proc = _run(fresh_python, "-c",
                "import sys, gantool_plugin_example, gantool; "
                "print(sys.prefix != sys.base_prefix); print(gantool_plugin_example.__file__)")
    assert proc.returncode == 0, proc.stderr
    in_venv, location = proc.stdout.split()
    assert in_venv == "True"
    assert Path(location).is_relative_to(Path(fresh_python).parents[1])  # installed, not the source
    assert not Path(location).is_relative_to(EXAMPLE)


def test_gantool_list_shows_both_components(fresh_python):
    arch = _listed(fresh_python, "architecture")["maxout-mlp"]
    loss = _listed(fresh_python, "loss")["ra-hinge"]
    assert arch["origin"] == loss["origin"] == DIST
    assert "maxout" in arch["description"]
    assert "relativistic" in loss["description"]
    proc = _run(fresh_python, "-m", "gantool", "list")
    assert proc.returncode == 0, proc.stderr
    assert "maxout-mlp" in proc.stdout and "ra-hinge" in proc.stdout
    assert "failed to load" not in proc.stderr


def test_the_plugins_own_tests_pass_in_the_venv(fresh_python, tmp_path):
    tests = tmp_path / "tests"
    shutil.copytree(EXAMPLE / "tests", tests)
    proc = _run(fresh_python, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests),
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout


@pytest.mark.parametrize(("dataset", "steps"), [("ring8", 30), ("mnist-5k", 6)])
def test_train_a_few_steps_with_the_plugin_then_sample(fresh_python, tmp_path, dataset, steps):
    run = tmp_path / "run"
    proc = _run(fresh_python, "-m", "gantool", "train", "--dataset", dataset,
                "--arch", "maxout-mlp", "--loss", "ra-hinge", "--steps", str(steps),
                "--batch-size", "32", "--log-every", "2", "--sample-every", str(steps),
                "--checkpoint-every", str(steps), "--run-dir", str(run), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    config = json.loads((run / "config.json").read_text())
    options = config["options"]
    assert (options["arch"], options["loss"]) == ("maxout-mlp", "ra-hinge"), options
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records and records[-1]["step"] == steps
    for r in records:  # the loss really ran: finite, and D saw both kinds of samples
        assert all(math.isfinite(r[key]) for key in ("loss_d", "loss_g", "d_real", "d_fake"))
    # Both networks got gradients (a hinge loss may give D none once its margin is met).
    assert all(r["grad_g"] > 0 for r in records)
    assert any(r["grad_d"] > 0 for r in records)
    # A checkpoint stores names and options, so sampling rebuilds the plugin's networks.
    out = tmp_path / "grid.png"
    proc = _run(fresh_python, "-m", "gantool", "sample", "--run", str(run), "--n", "16",
                "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
