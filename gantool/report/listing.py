"""`gantool runs`: one row per run directory under a root."""

from __future__ import annotations

import math

from gantool.report.rundata import Run

LAST_FIELDS = (("loss_d", "D"), ("loss_g", "G"), ("d_real", "D(x)"), ("d_fake", "D(G(z))"))


def evaluation_values(run: Run) -> dict[str, float]:
    """{metric: value} from the run's evaluation*.json files (the later file wins)."""
    values = {}
    for result in run.evaluations.values():
        metrics = result.get("metrics")
        for name, entry in (metrics if isinstance(metrics, dict) else {}).items():
            value = entry.get("value") if isinstance(entry, dict) else entry
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                values[name] = float(value)
    return values


def row(run: Run) -> dict:
    """What `gantool runs --json` prints for one run."""
    options = run.options
    return {
        "name": run.name, "path": str(run.path), "dataset": options.get("dataset"),
        "arch": options.get("arch"), "loss": options.get("loss"),
        "steps_done": run.steps_done, "steps_planned": run.steps_planned,
        "epochs_planned": options.get("epochs"),
        "last": run.records[-1] if run.records else None,
        "evaluation": evaluation_values(run), "status": run.status,
    }


def _number(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "-"
    return f"{value:.3g}" if math.isfinite(value) else str(value)


def last_text(entry: dict) -> str:
    """The table's "last" column: losses and D's outputs, then any evaluation results."""
    last = entry["last"] or {}
    parts = [f"{label} {_number(last[key])}" for key, label in LAST_FIELDS if key in last]
    parts += [f"{name} {_number(value)}" for name, value in entry["evaluation"].items()]
    return "  ".join(parts) or "-"


def steps_text(entry: dict) -> str:
    if entry["steps_planned"] is not None:
        return f"{entry['steps_done']}/{entry['steps_planned']}"
    if entry["epochs_planned"] is not None:
        return f"{entry['steps_done']} ({entry['epochs_planned']} epochs)"
    return str(entry["steps_done"])


def finite_or_null(value):
    """Strict JSON for scripts: NaN and inf (a diverged run's last losses) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite_or_null(v) for v in value]
    return value
