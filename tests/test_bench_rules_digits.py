"""bench/rules_on_digits.py, the experiment behind section 4 of docs/theory/x-to-real-gans.md, on a
20-second budget: it must still drive today's train and evaluate CLI and read what they write, so
the page's table can be regenerated."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _load():
    sys.path.insert(0, str(REPO / "bench"))  # the script imports its sibling bench_quality
    spec = importlib.util.spec_from_file_location("rules_on_digits",
                                                  REPO / "bench" / "rules_on_digits.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_two_rules_for_twenty_seconds_are_scored_against_the_limit(tmp_path, capsys):
    results = tmp_path / "rules.json"
    # A rule with an option and a seed other than 0: both must reach `gantool train`.
    argv = ["--rules", "optimistic,consensus:gamma=0.1", "--seeds", "3", "--extra-seed", "-1",
            "--at", "20", "--n", "200", "--max-samples", "500", "--checkpoint-every", "5",
            "--json", str(results)]
    assert _load().main(argv) == 0
    data = json.loads(results.read_text())

    limit = data.pop("limit")
    assert limit["is"] > 9 and limit["fid"] < 30 and limit["modes"] == 10  # real test digits
    assert set(data) == {"optimistic-3@20", "consensus_gamma=0.1-3@20"}
    for name, run in data.items():
        assert run["step"] >= 5 and run["checkpoint"] == f"step-{run['step']:06d}.pt", name
        assert {"is", "fid", "recall", "coverage", "mode_kl", "memorized"} <= set(run)
        assert run["fid"] > limit["fid"]  # twenty seconds of training is far from real digits
    table = capsys.readouterr().out
    assert "| real MNIST test digits (limit) | - |" in table
    assert f"| optimistic (3), {data['optimistic-3@20']['step']:,} | 20 |" in table
    consensus = data["consensus_gamma=0.1-3@20"]["step"]
    assert f"| consensus gamma=0.1 (3), {consensus:,} | 20 |" in table
