"""examples/lecture.ipynb, run top to bottom by a real Jupyter kernel (nbclient + ipykernel)
with short budgets injected after its "parameters" cell, as papermill does; and the notebook
in git has no outputs and matches examples/make_lecture.py."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "examples" / "lecture.ipynb"
SHORT = "STEPS = 10\nRING8_STEPS = 20\nEVAL_SAMPLES = 100\n"

nbformat = pytest.importorskip("nbformat", reason="the test extra: pip install -e '.[test]'")


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_lecture", REPO / "examples" /
                                                  "make_lecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_notebook_has_no_outputs_and_is_generated():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert NOTEBOOK.read_text(encoding="utf-8") == _load_maker().render(), \
        "examples/lecture.ipynb is out of date: run `python examples/make_lecture.py`"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and "STEPS" in tagged[0].source


def _with_short_budgets(nb):
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nbformat.v4.new_code_cell(SHORT, id="injected-parameters")
    injected.metadata = {"tags": ["injected-parameters"]}
    nb.cells.insert(index + 1, injected)
    return nb


@pytest.mark.slow
def test_the_lecture_runs_top_to_bottom_in_a_real_kernel(tmp_path):
    pytest.importorskip("ipykernel", reason="the test extra: pip install -e '.[test]'")
    from nbclient import NotebookClient

    nb = _with_short_budgets(nbformat.read(NOTEBOOK, as_version=4))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    client = NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    start = time.perf_counter()
    with _environment(env):
        client.execute()
    seconds = time.perf_counter() - start
    print(f"lecture.ipynb executed in {seconds:.0f} s")  # the run time, shown with -s / -rA
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "\n".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
                     for o in outputs)
    assert "simgd spirals outward" in text  # the x*y game's verdict
    pngs = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) >= 8  # game plots, grids at step 0 and final, losses, ring8 scatters
    assert "modes" in text and "fid" in text  # evaluate's results
    bars = [str(o["data"]["text/plain"]) for o in outputs
            if "<progress" in str(o.get("data", {}).get("text/html", ""))]
    training = [text for text in bars if text.startswith("step ")]
    # one progress line per training run, updated in place to its last step (not a log)
    assert [t.split(" |")[0] for t in training] == ["step 10/10", "step 20/20", "step 20/20"]
    assert len(bars) == len(training) + 4  # evaluate's: fake (ring8 twice), real + fake
    assert (tmp_path / "runs").is_dir()  # runs were written where the notebook runs


class _environment:
    """The kernel inherits this process's environment: run it on the checkout, one thread."""

    def __init__(self, env: dict):
        self.env, self.saved = env, None

    def __enter__(self):
        self.saved = dict(os.environ)
        os.environ.update(self.env)

    def __exit__(self, *exc):
        os.environ.clear()
        os.environ.update(self.saved)


def test_interrupting_a_training_cell_saves_a_checkpoint(tmp_path):
    """Jupyter's stop button sends SIGINT to the kernel: the cell ends with gantool.Interrupted,
    the run has a checkpoint, and the kernel is still usable."""
    pytest.importorskip("ipykernel", reason="the test extra: pip install -e '.[test]'")
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        kc.execute_interactive("import gantool", timeout=120)
        code = ("try:\n"
                "    gantool.train(dataset='ring8', steps=10**6, progress=False)\n"
                "except gantool.Interrupted as stop:\n"
                "    stopped = stop.run\n"
                "    print('INTERRUPTED', stopped.status, len(stopped.checkpoints))\n")
        msg_id = kc.execute(code)
        deadline = time.monotonic() + 120
        while not (tmp_path / "runs").is_dir() or not list((tmp_path / "runs").glob("*/config.json")):
            assert time.monotonic() < deadline, "training did not start"
            time.sleep(0.5)
        time.sleep(2)
        km.interrupt_kernel()
        printed = []
        while True:
            msg = kc.get_iopub_msg(timeout=120)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                break
        assert "INTERRUPTED stopped 1" in "".join(printed), printed
        reply = kc.execute_interactive("print(stopped.steps > 0)", timeout=60)
        assert reply["content"]["status"] == "ok"
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-s", "-n", "0"]))
