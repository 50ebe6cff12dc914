"""gantool.sweep as a Python user calls it: one real ring8 sweep at tiny budgets (interrupted,
resumed, its results object), its error paths (gantool's UsageError, never SystemExit, with
the command's messages), and `import gantool` still without torch or optuna."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pytest

import gantool
from gantool import GantoolError, UsageError

SPACE = {"lr-g": {"low": 1e-4, "high": 1e-3, "log": True}}
# What tests/test_sweep.py's ring8 sweep shares: evaluations every 20 steps, no TensorBoard.
TRAIN = {"dataset": "ring8", "tensorboard": False, "log_every": 20}


def test_import_gantool_keeps_sweep_callable_without_torch_or_optuna():
    code = ("import sys, inspect, gantool\n"
            "assert callable(gantool.sweep)\n"
            "print('budget_cpu' in inspect.signature(gantool.sweep).parameters,\n"
            "      sorted(m for m in ('torch', 'optuna', 'numpy') if m in sys.modules))\n"
            "import gantool.sweep.study\n"  # Python rebinds gantool.sweep to the package here
            "print(callable(gantool.sweep), gantool.sweep.study.Settings.__name__)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["True []", "True Settings"]


def _raised_here(exc: BaseException) -> None:
    """The traceback ends at the API's error boundary, not deep inside gantool.sweep."""
    frames = traceback.extract_tb(exc.__traceback__)
    assert frames[-1].name == "wrapper" and frames[-1].filename.endswith("_common.py"), \
        [f"{f.filename}:{f.name}" for f in frames]


@pytest.mark.parametrize(("options", "message"), [
    ({"space": "missing.toml"}, "--space: file not found: "),
    ({"space": "bad.toml"}, "is not valid TOML"),
    ({"space": {}}, "--space names no option to search over"),
    ({"space": {"lr_g": [1e-4]}}, "'lr_g' is not a gantool train option; did you mean lr-g"),
    ({"train_args": {"stepz": 10}}, "options after --: 'stepz' is not a gantool train option"),
    ({"train_args": ["--dataset", "ring8", "--stepz", "10"]}, "No such option: --stepz"),
    ({"train_args": {"steps": 10}}, "options after --: --steps cannot be set"),
    ({"train_args": {"dataset": "ring8", "lr_g": 1e-3}},
     "--lr-g is both in SPACE.toml and after --"),
    ({"budget_cpu": 0}, "--budget-cpu must be at least 1, got 0"),
    ({"trials": 0}, "--trials must be at least 1, got 0"),
    ({"leaders": -1}, "--leaders must be at least 0, got -1"),
    ({"trials": 2.5}, "--trials must be an integer, got 2.5"),
    ({"pruner": "hyperband"}, "--pruner must be one of: median, halving, none"),
    ({"resume": True}, "holds no sweep (sweep.json is missing)"),
])
def test_sweep_errors_are_usage_errors_before_any_trial(tmp_path, options, message):
    (tmp_path / "bad.toml").write_text("lr-g = [1e-4\n")
    if isinstance(options.get("space"), str):
        options = {**options, "space": tmp_path / options["space"]}
    out = tmp_path / "out"
    arguments = {"space": SPACE, "budget_cpu": 2, "train_args": TRAIN, "out": out, **options}
    with pytest.raises(UsageError) as info:
        gantool.sweep(**arguments)
    assert message in str(info.value) and "\n" not in str(info.value)
    _raised_here(info.value)
    assert not (out / "trials").exists()  # no trial ran


def test_the_command_says_what_the_function_says(cli, tmp_path):
    """The bounds moved from typer's min= into gantool.api.sweep: one message for both."""
    (tmp_path / "space.toml").write_text('lr-g = [1e-4]\n')
    with pytest.raises(UsageError) as info:
        gantool.sweep(space=tmp_path / "space.toml", budget_cpu=2, trials=0)
    proc = cli("sweep", "--space", str(tmp_path / "space.toml"), "--budget-cpu", "2",
               "--trials", "0", "--", "--dataset", "ring8")
    assert proc.returncode == 2
    assert proc.stderr.decode() == f"Error: {info.value}\n"


@pytest.fixture
def ctrl_c_raises():
    """Ctrl-C raises KeyboardInterrupt even when the suite was started in the background
    (nohup, &), which leaves SIGINT ignored in every process it starts."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_sweep_on_ring8_interrupted_resumed_and_its_results(tmp_path, ctrl_c_raises):
    pytest.importorskip("optuna")
    out = tmp_path / "out"
    tiny = {"space": SPACE, "budget_cpu": 1, "eval_every": 20, "trials": 2, "seed": 0,
            "leaders": 1, "leader_seeds": 1, "out": out, "train_args": TRAIN}

    def interrupt_once_trial_0_trains():
        deadline = time.monotonic() + 120
        while not (out / "trials" / "0000" / "config.json").exists() \
                and time.monotonic() < deadline:
            time.sleep(0.1)
        os.kill(os.getpid(), signal.SIGINT)  # Jupyter's stop button, Ctrl-C

    thread = threading.Thread(target=interrupt_once_trial_0_trains, daemon=True)
    thread.start()
    with pytest.raises(GantoolError, match="interrupted; the trials so far are in") as info:
        gantool.sweep(**tiny)
    thread.join()
    assert info.value.exit_code == 130
    stopped = info.value.results
    assert [t["state"] for t in stopped.trials] == ["interrupted"]
    assert stopped.results_json.is_file()
    assert "trial 0 interrupted (queued again for --resume)" in stopped.messages

    with pytest.raises(UsageError, match="already holds a sweep; add --resume"):
        gantool.sweep(**tiny)

    results = gantool.sweep(**tiny, resume=True, progress=False)
    assert isinstance(results, gantool.SweepResults) and results.path == out
    assert results.metric["name"] == "modes" and results.metric["direction"] == "maximize"
    trials = {t["trial"]: t for t in results.trials}
    assert [t["state"] for t in results.trials] == ["complete", "complete", "interrupted"]
    assert trials[1]["params"] == stopped.trials[0]["params"]  # the stopped trial, again
    best = results.best
    assert best is results.trials[0] and best["value"] >= results.trials[1]["value"]
    assert best["value"] == pytest.approx(
        best["final"]["modes"] + 0.5 * best["final"]["high_quality"])
    assert best["cpu_s"] >= 1 and best["evals"] and best["args"][0] == "--lr-g"
    lead = results.leaders[0]
    assert lead["trial"] == best["trial"] and lead["n"] == 2 and lead["runs"][0]["seed"] == 1
    # The files the command writes, and the table it prints.
    assert results.table() == results.table_md.read_text()
    assert results._repr_markdown_().startswith("3 trials at 1 CPU-seconds each")
    assert results.results_csv.is_file()
    assert results.frontier()._repr_png_()[:4] == b"\x89PNG"
    assert results.to_dict()["settings"]["budget_s"] == 1
    assert any(m.startswith(f"trial {best['trial']} finished at") for m in results.messages)
    run = results.run(best["trial"])
    assert run.status == "stopped" and run.records  # stopped at the budget, with its evals
    with pytest.raises(UsageError, match="no trial 7"):
        results.run(7)
    assert f"best trial {best['trial']}" in repr(results)


def test_progress_in_a_notebook_is_one_line_updated_in_place(tmp_path):
    """In a real Jupyter kernel the trial events update one progress line (trials done of
    trials, the latest event), not a stderr line each; every event is still kept."""
    pytest.importorskip("ipykernel", reason="the test extra: pip install -e '.[test]'")
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    cell = ("from gantool.api._sweep import _Progress\n"
            "class Study:  # stands in for the running sweep: how many trials are done\n"
            "    n = 0\n"
            "    def done(self): return self.n\n"
            "say, study = _Progress(True, 3), Study()\n"
            "say.sweep = study\n"
            "say('trial 0 started: --lr-g 0.0003')\n"
            "study.n = 1\n"
            "say('trial 0 finished at 2.0 CPU-s, step 80: modes 7.25')\n"
            "say.close()\n"
            "print(len(say.said))")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(cell)])
    repo = str(Path(__file__).resolve().parents[1])
    saved = dict(os.environ)
    os.environ.update({"PYTHONPATH": repo, "OMP_NUM_THREADS": "1"})
    try:
        NotebookClient(nb, timeout=120, kernel_name="python3",
                       resources={"metadata": {"path": str(tmp_path)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.get("name") == "stderr"]
    bars = [o for o in outputs if "<progress" in str(o.get("data", {}).get("text/html", ""))]
    assert len(bars) == 1
    assert bars[0]["data"]["text/plain"].startswith(
        "trials 1/3 | trial 0 finished at 2.0 CPU-s, step 80: modes 7.25 |")
    assert outputs[-1]["text"] == "2\n"
