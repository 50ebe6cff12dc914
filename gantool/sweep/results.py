"""A sweep's outputs: results.json (everything), results.csv (one row per trial), table.md."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from gantool.io import atomic_write

STATES = {"COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed", "RUNNING": "running",
          "WAITING": "waiting"}


def trial_records(trials) -> list[dict]:
    """One dict per Optuna trial (the queued ones left out): options, state, CPU, curves."""
    rows = []
    for t in trials:
        state = STATES[t.state.name]
        if state == "waiting":
            continue
        attrs = t.user_attrs
        if attrs.get("interrupted"):
            state = "interrupted"
        evals = attrs.get("evals", [])
        rows.append({
            "trial": t.number, "state": state, "params": dict(t.params),
            "args": attrs.get("args", []), "value": t.value if state == "complete" else None,
            "last_value": (t.intermediate_values[max(t.intermediate_values)]
                           if t.intermediate_values else None),
            "cpu_s": attrs.get("cpu_s"), "wall_s": attrs.get("wall_s"),
            "steps": attrs.get("steps"), "final": evals[-1] if evals else None,
            "evals": evals, "evaluate": (attrs.get("evaluate") or {}).get("metrics"),
            "evaluate_error": attrs.get("evaluate_error"), "error": attrs.get("error"),
            "run_dir": attrs.get("run_dir")})
    return rows


def leader_summaries(rows: list[dict], leader_runs: list[dict], spread) -> list[dict]:
    """Each leader: its trial's value and its seeds' values, with mean, std and range."""
    by_trial: dict[int, list[dict]] = {}
    for run in leader_runs:
        by_trial.setdefault(run["trial"], []).append(run)
    out = []
    for row in rows:
        runs = by_trial.get(row["trial"])
        if not runs:
            continue
        values = [row["value"]] + [r["value"] for r in runs if r["value"] is not None]
        out.append({"trial": row["trial"], "params": row["params"],
                    "seeds": [None] + [r["seed"] for r in runs], **spread(values),
                    "values": values, "runs": runs})
    return out


def ordered(rows: list[dict], direction: str) -> list[dict]:
    """Complete trials best first, then pruned by their last reported value, then the rest."""
    sign = 1 if direction == "minimize" else -1
    rank = {"complete": 0, "pruned": 1, "failed": 2, "interrupted": 3, "running": 4}

    def key(row):
        value = row["value"] if row["state"] == "complete" else row["last_value"]
        return (rank[row["state"]], sign * value if value is not None else math.inf,
                row["trial"])

    return sorted(rows, key=key)


def write_all(out: Path, result: dict) -> None:
    with atomic_write(out / "results.json", "w") as handle:
        json.dump(result, handle, indent=2, default=str)
        handle.write("\n")
    with atomic_write(out / "results.csv", "w") as handle:
        handle.write(to_csv(result))
    with atomic_write(out / "table.md", "w") as handle:
        handle.write(table(result))


def to_csv(result: dict) -> str:
    rows = result["trials"]
    params = sorted({k for r in rows for k in r["params"]})
    finals = sorted({k for r in rows for k in (r["final"] or {}) if k not in ("best",)})
    evaluated = sorted({k for r in rows for k in (r["evaluate"] or {})})
    header = (["trial", "state", "value", "cpu_s", "wall_s", "steps"] + params
              + [f"final.{k}" for k in finals] + [f"evaluate.{k}" for k in evaluated]
              + ["error", "run_dir"])
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        writer.writerow(
            [r["trial"], r["state"], r["value"], r["cpu_s"], r["wall_s"], r["steps"]]
            + [r["params"].get(k) for k in params]
            + [(r["final"] or {}).get(k) for k in finals]
            + [((r["evaluate"] or {}).get(k) or {}).get("value") for k in evaluated]
            + [r["error"], r["run_dir"]])
    return buffer.getvalue()


def _num(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def table(result: dict) -> str:
    """The markdown table: every trial sorted by the objective, then the leaders' seeds."""
    rows, metric = result["trials"], result["metric"]
    params = sorted({k for r in rows for k in r["params"]})
    arrow = "lower is better" if metric["direction"] == "minimize" else "higher is better"
    lines = [f"{len(rows)} trials at {result['settings']['budget_s']:g} CPU-seconds each; "
             f"objective: {metric['label']}.", "",
             "| trial | state | " + metric["name"] + f" ({arrow}) | CPU-s | steps | "
             + " | ".join(params) + " | note |",
             "|---" * (6 + len(params)) + "|"]
    for r in rows:
        value = r["value"] if r["state"] == "complete" else r["last_value"]
        shown = _num(value) + (" (at prune)" if r["state"] == "pruned" and value is not None
                               else "")
        note = r["error"] or ""
        lines.append(f"| {r['trial']} | {r['state']} | {shown} | {_num(r['cpu_s'])} | "
                     f"{_num(r['steps'])} | "
                     + " | ".join(_num(r["params"].get(k)) for k in params)
                     + f" | {note.replace('|', '/')} |")
    if result["leaders"]:
        lines += ["", f"Leaders, each at its trial's seed and {result['settings']['leader_seeds']}"
                  " more:", "",
                  f"| trial | runs | {metric['name']} mean | std | min | max |",
                  "|---|---|---|---|---|---|"]
        for lead in result["leaders"]:
            lines.append(f"| {lead['trial']} | {lead['n']} | {lead['mean']:.4g} | "
                         f"{lead['std']:.2g} | {lead['min']:.4g} | {lead['max']:.4g} |")
    return "\n".join(lines) + "\n"
