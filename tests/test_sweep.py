"""gantool sweep: the space format, option rendering, the CPU-time runner (with a stand-in
child), and one real sweep on ring8 (interrupted, resumed, a failing trial; its leaders are
tests/test_api_sweep.py's, through the same gantool.api.sweep)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("optuna")

from gantool.errors import UsageError  # noqa: E402
from gantool.sweep import runner, space  # noqa: E402
from gantool.sweep.study import Metric, _Marks  # noqa: E402


# ---- the space
def test_space_parses_choices_ranges_flags_and_sub_options():
    dims = {d.key: d for d in space.parse_space({
        "loss": ["hinge", "non-saturating"],
        "lr-g": {"low": 1e-4, "high": 2e-3, "log": True},
        "d-steps": {"low": 1, "high": 3},
        "spectral-norm": [True, False],
        "arch-opt.width": [32, 64]})}
    assert dims["loss"].choices == ["hinge", "non-saturating"]
    assert (dims["lr-g"].low, dims["lr-g"].high, dims["lr-g"].log,
            dims["lr-g"].integer) == (1e-4, 2e-3, True, False)
    assert dims["d-steps"].integer
    assert dims["arch-opt.width"].choices == [32, 64]


@pytest.mark.parametrize(("raw", "message"), [
    ({"lr_g": [1e-4]}, "'lr_g' is not a gantool train option; did you mean lr-g"),
    ({"los": ["hinge"]}, "did you mean loss"),
    ({"steps": [100]}, "--steps cannot be set"),
    ({"eval-every": [10]}, "gantool sweep --eval-every"),
    ({"seed": [0, 1]}, "fix --seed after --"),
    ({"arch-opt": ["width=3"]}, "\"arch-opt.KEY\""),
    ({"model.width": [3]}, "arch-opt.KEY or update-opt.KEY"),
    ({"lr-g": ["fast"]}, "'fast' is not a number"),
    ({"d-steps": {"low": 1.5, "high": 3}}, "takes integers"),
    ({"spectral-norm": ["yes"]}, "not true or false"),
    ({"loss": {"low": 1, "high": 2}}, "give a list of choices"),
    ({"lr-g": {"low": 2e-3, "high": 1e-4}}, "must be below high"),
    ({"lr-g": {"low": 0.0, "high": 1e-3, "log": True}}, "log = true needs low > 0"),
    ({"lr-g": 1e-3}, "give a list of choices"),
    ({"loss": []}, "non-empty list"),
    ({"loss": ["hinge", "hinge"]}, "repeat a value"),
])
def test_space_refuses_with_one_line(raw, message):
    with pytest.raises(UsageError, match=None) as info:
        space.parse_space(raw)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_render_flags_sub_options_and_floats():
    args = space.render({"spectral-norm": False, "amp": True, "lr-g": 0.00031,
                         "d-steps": 2, "arch-opt.width": 48, "arch-opt.norm": "batch",
                         "update-opt.align": True})
    assert args == ["--no-spectral-norm", "--amp", "--lr-g", "0.00031", "--d-steps", "2",
                    "--arch-opt", "width=48", "--arch-opt", 'norm="batch"',
                    "--update-opt", "align=true"]


def test_candidates_are_checked_with_train_dry_run():
    dims = space.parse_space({"lr-g": [2e-4, -1.0]})
    with pytest.raises(UsageError) as info:
        space.check_candidates(dims, ["--dataset", "ring8"])
    assert str(info.value) == "SPACE.toml: lr-g = -1.0: --lr-g must be a positive number"
    space.check_candidates(space.parse_space({"lr-g": [2e-4]}), ["--dataset", "ring8"])


# ---- pruning at equal CPU time
class _FakeTrial:
    def __init__(self, prune_after: int) -> None:
        self.reports: list[tuple[float, int]] = []
        self.prune_after = prune_after

    def report(self, value, step):
        self.reports.append((value, step))

    def should_prune(self):
        return len(self.reports) >= self.prune_after


def test_marks_report_the_latest_eval_at_whole_cpu_seconds():
    trial = _FakeTrial(prune_after=3)
    marks = _Marks(40.0, Metric("fid", "minimize", "FID"), trial)  # a mark every 4 CPU-s
    assert marks.check(3.0, [{"cpu_s": 2.0, "fid": 90.0}]) is False  # before the first mark
    assert trial.reports == []
    evals = [{"cpu_s": 2.0, "fid": 90.0}, {"cpu_s": 5.0, "fid": 70.0}]
    assert marks.check(9.5, evals) is False  # marks 4 and 8: the eval seen by then
    assert trial.reports == [(90.0, 4), (70.0, 8)]
    assert marks.check(12.0, [*evals, {"cpu_s": 11.0, "fid": 50.0}]) is True
    assert trial.reports[-1] == (50.0, 12)


def test_mixture_objective_orders_modes_first():
    metric = Metric("modes", "maximize", "modes")
    assert metric.value({"modes": 7, "high_quality": 1.0}) < metric.value(
        {"modes": 8, "high_quality": 0.0})
    assert metric.value({"modes": 8, "high_quality": 0.9}) == pytest.approx(8.45)


# ---- the runner, with a stand-in for gantool train (no torch: fast and exact)
FAKE_TRAIN = textwrap.dedent("""
    import json, signal, sys, time
    from pathlib import Path
    run = Path(sys.argv[1]); mode = sys.argv[2]
    stop = []
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    if mode == "crash":
        print("Error: width must be >= 1, got 0", file=sys.stderr); sys.exit(2)
    (run / "config.json").write_text("{}")
    step, log = 0, open(run / "metrics.jsonl", "a")
    while not stop:
        t = time.process_time()
        while time.process_time() - t < 0.1:  # burn 0.1 CPU-seconds per step
            pass
        step += 1
        log.write(json.dumps({"step": step, "eval": {"fid": 100.0 / step}}) + "\\n"); log.flush()
    if mode == "scored-at-stop":  # as train does: the step it stopped at, evaluated
        log.write(json.dumps({"step": step, "eval": {"fid": -1.0}}) + "\\n"); log.flush()
    (run / "summary.json").write_text(json.dumps({"status": "stopped", "steps": step}))
    sys.exit(130)
""")


def _fake(tmp_path: Path, mode: str, budget: float, check=lambda cpu, evals: False):
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    run = tmp_path / mode
    return runner.run_train([sys.executable, str(script), str(run), mode], run,
                            budget_s=budget, env=dict(os.environ), check=check,
                            stop=threading.Event())


def test_runner_stops_a_trial_at_its_cpu_budget(tmp_path):
    out = _fake(tmp_path, "budget", budget=1.0)
    assert out.state == "complete" and out.exit_code == 130
    assert 1.0 <= out.cpu_s < 1.6
    assert out.steps >= 8 and out.evals[-1]["fid"] == pytest.approx(100.0 / out.evals[-1]["step"])
    assert all(e["cpu_s"] <= out.cpu_s + 0.005 for e in out.evals)  # rounded to 0.01


def test_the_evaluation_made_when_the_trial_stops_is_its_last(tmp_path):
    out = _fake(tmp_path, "scored-at-stop", budget=1.0)
    assert out.state == "complete"
    assert out.evals[-1]["fid"] == -1.0 and out.evals[-1]["step"] == out.steps
    assert out.evals[-1]["cpu_s"] == round(out.cpu_s, 2)


def test_runner_prunes_when_asked_and_records_a_crash(tmp_path):
    out = _fake(tmp_path, "prune", budget=30.0, check=lambda cpu, evals: cpu >= 0.5)
    assert out.state == "pruned" and 0.5 <= out.cpu_s < 1.2
    crashed = _fake(tmp_path, "crash", budget=30.0)
    assert crashed.state == "failed"
    assert crashed.error == "Error: width must be >= 1, got 0 (exit 2)"


# ---- one real sweep on ring8
SPACE = """
lr-g = {low = 1e-4, high = 1e-3, log = true}
"arch-opt.width" = [32, 0]
"""


def _sweep(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gantool", "sweep", "--space", str(tmp_path / "space.toml"),
            "--trials", "2", "--budget-cpu", "1", "--eval-every", "20", "--seed", "0",
            "--leaders", "0", "--out", str(tmp_path / "out"), *extra,
            "--", "--dataset", "ring8", "--no-tensorboard", "--log-every", "20"]


def test_sweep_on_ring8_interrupted_resumed_with_a_failing_trial(tmp_path):
    (tmp_path / "space.toml").write_text(SPACE)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Ctrl-C during the first trial: the child saves, the sweep writes its results, exit 130.
    # SIGINT back to its default in the child: a suite started in the background (nohup, &)
    # inherits it ignored, and Python then installs no Ctrl-C handler.
    sweep = subprocess.Popen(_sweep(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 40
    while not (out / "trials" / "0000" / "config.json").exists():
        assert sweep.poll() is None and time.monotonic() < deadline, sweep.communicate()
        time.sleep(0.1)
    sweep.send_signal(signal.SIGINT)
    _, err = sweep.communicate(timeout=60)
    assert sweep.returncode == 130, err
    assert "trial 0 interrupted" in err
    assert err.strip().splitlines()[-1].startswith("Error: interrupted; the trials so far")
    first = json.loads((out / "results.json").read_text())
    assert [t["state"] for t in first["trials"]] == ["interrupted"]
    assert (out / "trials" / "0000" / "summary.json").exists()  # the child stopped cleanly

    # A second sweep into the same DIR without --resume is refused.
    again = subprocess.run(_sweep(tmp_path), capture_output=True, text=True, env=env)
    assert again.returncode == 2
    assert "already holds a sweep; add --resume" in again.stderr

    done = subprocess.run(_sweep(tmp_path, "--resume"), capture_output=True, text=True, env=env,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    result = json.loads((out / "results.json").read_text())
    trials = {t["trial"]: t for t in result["trials"]}
    assert trials[0]["state"] == "interrupted"
    rerun = [t for t in result["trials"] if t["trial"] > 0]
    assert len(rerun) == 2
    assert trials[1]["params"] == trials[0]["params"]  # the interrupted trial ran again
    # --seed 0 draws width 32 for trial 0 (so 1) and, resumed, width 0 for trial 2.
    for t in rerun:
        if t["params"]["arch-opt.width"] == 0:  # fails when train builds the network
            assert t["state"] == "failed"
            assert t["error"] == "Error: width must be >= 1, got 0 (exit 2)"
        else:
            assert t["state"] in ("complete", "pruned"), t
            assert t["evals"] and t["cpu_s"] > 0 and t["steps"] > 0
            if t["state"] == "complete":
                assert t["cpu_s"] >= 1 and t["value"] is not None
                assert t["value"] == pytest.approx(
                    t["final"]["modes"] + 0.5 * t["final"]["high_quality"])
            else:
                assert t["cpu_s"] < 1 and t["value"] is None
    assert [t["state"] for t in rerun] == ["complete", "failed"]
    assert result["leaders"] == [] and not (out / "leaders").exists()  # --leaders 0 (default 3)
    assert done.stdout == (out / "table.md").read_text()
    assert "| trial | state | modes (higher is better) |" in done.stdout
    assert "width must be >= 1" in done.stdout
    csv_rows = (out / "results.csv").read_text().splitlines()
    assert len(csv_rows) == 1 + 3 and csv_rows[0].startswith("trial,state,value,cpu_s")
    assert (out / "frontier.png").stat().st_size > 1000
    for t in rerun:
        assert f"trial {t['trial']} started" in done.stderr


def test_sweep_refuses_bad_input_in_one_line(tmp_path):
    (tmp_path / "space.toml").write_text('lr_g = [1e-4]\n')
    bad = subprocess.run(_sweep(tmp_path), capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr == ("Error: SPACE.toml: 'lr_g' is not a gantool train option; did you "
                          "mean lr-g or lr-d?\n")
    (tmp_path / "space.toml").write_text('lr-g = [1e-4]\n')
    fixed = subprocess.run([*_sweep(tmp_path), "--steps", "10"], capture_output=True,
                           text=True)
    assert fixed.returncode == 2
    assert fixed.stderr.startswith("Error: options after --: --steps cannot be set")
