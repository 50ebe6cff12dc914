"""`evaluate --compare A.json B.json`: two results side by side, only when their protocols match.

A number depends on the extractor, the resize, the sample counts, the reference, the kept subset
size and each metric's options as much as on the generator; the JSON of `evaluate --json` records
them under "protocol". Two results whose protocols differ are refused with the differences named.
The gantool version is shown but does not block a comparison.
"""

from __future__ import annotations

import json
from pathlib import Path

from gantool.errors import GantoolError, UsageError

NOT_COMPARED = ("gantool",)


def read_result(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise GantoolError(f"not found: {path}")
    try:
        result = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path} is not JSON from `gantool evaluate --json`: {exc}") from None
    if not isinstance(result, dict) or not isinstance(result.get("metrics"), dict):
        raise UsageError(f"{path} is not a result of `gantool evaluate --json` (no metrics)")
    if not isinstance(result.get("protocol"), dict):
        raise UsageError(
            f"{path} records no protocol (made by an older gantool?): evaluate it again"
        )
    return result


PER_METRIC = ("extractors", "options")  # compared on what both results share


def protocol_differences(a: dict, b: dict) -> list[str]:
    """'key: A vs B' for every protocol entry that differs (per-metric entries: shared only)."""
    keys = sorted((set(a) | set(b)) - set(NOT_COMPARED))
    differences = []
    for key in keys:
        va, vb = a.get(key), b.get(key)
        if key in PER_METRIC and isinstance(va, dict) and isinstance(vb, dict):
            shared = set(va) & set(vb)
            va, vb = ({k: v[k] for k in sorted(shared)} for v in (va, vb))
        if va != vb:
            differences.append(f"{key}: {va!r} vs {vb!r}")
    return differences


def compare(path_a: str | Path, path_b: str | Path) -> list[dict]:
    """Rows {metric, a, b, difference} for the metrics both results hold; refuses mismatches."""
    a, b = read_result(path_a), read_result(path_b)
    differences = protocol_differences(a["protocol"], b["protocol"])
    if differences:
        raise UsageError(
            f"{path_a} and {path_b} were made under different protocols; "
            + "; ".join(differences)
        )
    rows = []
    for name in a["metrics"]:
        if name not in b["metrics"]:
            continue
        va, vb = a["metrics"][name].get("value"), b["metrics"][name].get("value")
        both = isinstance(va, (int, float)) and isinstance(vb, (int, float))
        rows.append({"metric": name, "a": va, "b": vb, "difference": vb - va if both else None})
    if not rows:
        raise UsageError(f"{path_a} and {path_b} share no metric")
    return rows
