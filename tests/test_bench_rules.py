"""bench/rules_on_mixtures.py, the experiment behind docs/theory/x-to-real-gans.md, on a tiny
real run: it must still drive today's CLI (train, evaluate, game-sim) and read what they write,
so the page's tables can be regenerated."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load():
    spec = importlib.util.spec_from_file_location("bench_rules", REPO / "bench" / "rules_on_mixtures.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


rules = _load()


def test_a_two_step_sweep_records_scores_diagnostics_and_predictions(tmp_path, capsys):
    out, results = tmp_path / "runs", tmp_path / "rules.json"
    argv = ["--datasets", "ring8", "--losses", "minimax", "--updates", "simultaneous,consensus",
            "--seeds", "0", "--steps", "2", "--consensus-gamma", "2",
            "--out-dir", str(out), "--json", str(results)]
    assert rules.main(argv) == 0
    data = json.loads(results.read_text())

    runs = {r["update"]: r for r in data["runs"]}
    assert set(runs) == {"simultaneous", "consensus"}
    for run in runs.values():
        assert run["status"] == "finished" and "error" not in run, run
        assert run["modes_total"] == 8 and 0 <= run["modes"] <= 8
        assert 0.0 <= run["high_quality"] <= 1.0
        assert run["diagnostics"]["checks"] == 2  # --log-every is steps // 20, at least 1
        assert run["wall_s"] > 0
    assert "--update-opt gamma=2" in runs["consensus"]["command"]
    assert "gamma" not in runs["simultaneous"]["command"]

    (row_sim, row_con) = sorted(data["aggregate"], key=lambda r: r["update"], reverse=True)
    assert row_sim["update"] == "simultaneous" and row_sim["seeds"] == [0]
    assert row_sim["modes_min"] <= row_sim["modes_mean"] <= row_sim["modes_max"]
    assert sum(row_con["verdicts"].values()) == 1
    assert row_con["loss_d_late_std"] is None  # two logs: one in the second half, no spread

    # predictions: Dirac-GAN with the matching loss, and x*y, under game-sim's names
    games = {(p["game"], p["game_sim"]) for p in data["predictions"]}
    assert games == {("dirac-gan", "simgd"), ("dirac-gan", "consensus"),
                     ("bilinear", "simgd"), ("bilinear", "consensus")}
    assert all(p["loss"] in ("standard", None) for p in data["predictions"])
    assert data["settings"]["lr_d"] == 1e-3 and data["settings"]["lr_g"] == 2e-4  # mlp2d's
    table = capsys.readouterr().out
    assert "| ring8 | minimax | simultaneous | 0 |" in table
    assert "| bilinear | - | simultaneous (simgd) |" in table

    # a rerun with the same results file trains nothing again
    assert rules.main(argv) == 0
    assert len(json.loads(results.read_text())["runs"]) == 2


def test_a_refused_run_is_recorded_with_its_one_line_error(tmp_path):
    record = rules.train_and_score("ring8", "minimax", "simultaneous", 0, 2, ["--d-steps", "2"],
                                   tmp_path)
    assert record["error"].startswith("Error:") and "d-steps" in record["error"]
    assert rules.verdict(record) == "failed" and "modes" not in record
    row = rules.aggregate([record])[0]
    assert row["scored"] == 0 and row["errors"] == [record["error"]]
    assert "failed 1 (Error:" in rules.markdown([row], [])
