"""frontier.png: the headline metric against training CPU-seconds, every trial's evaluation
curve faint (pruned ones end early), the leaders bold with their extra seeds thin."""

from __future__ import annotations

from pathlib import Path

from gantool.io import atomic_write
from gantool.pictures import _pyplot
from gantool.report.charts import colour


def save_frontier(result: dict, value, path: str | Path) -> None:
    """`value(eval_record)` is the objective of one evaluation (study.Metric.value)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    leaders = {lead["trial"]: i for i, lead in enumerate(result["leaders"])}
    for row in result["trials"]:
        curve = _curve(row["evals"], value)
        if curve and row["trial"] not in leaders:
            # markers too: a trial with one evaluation (a slow step, a large batch) is a point
            ax.plot(*curve, "-o", ms=2.5, lw=0.8, c="#999999", alpha=0.6)
    for lead in result["leaders"]:
        index = leaders[lead["trial"]]
        row = next(r for r in result["trials"] if r["trial"] == lead["trial"])
        ax.plot(*_curve(row["evals"], value), "-o", ms=3, lw=2.2, c=colour(index),
                label=f"trial {lead['trial']}: {lead['mean']:.4g} ± {lead['std']:.2g} "
                      f"({lead['n']} seeds)")
        for run in lead["runs"]:
            curve = _curve(run["evals"], value)
            if curve:
                ax.plot(*curve, "-", lw=1, c=colour(index), alpha=0.7)
    if not result["leaders"]:  # no leaders re-run: mark the best trial instead
        best = next((r for r in result["trials"] if r["state"] == "complete"), None)
        if best is not None:
            ax.plot(*_curve(best["evals"], value), "-o", ms=3, lw=2.2, c=colour(0),
                    label=f"best: trial {best['trial']}")
    metric = result["metric"]
    if metric["direction"] == "minimize" and metric["name"] == "fid":
        ax.set_yscale("log")
    ax.set_xlabel("training CPU-seconds (user + system)")
    ax.set_ylabel(metric["label"], fontsize=8)
    ax.set_title(f"{len(result['trials'])} trials, budget "
                 f"{result['settings']['budget_s']:g} CPU-s (grey: every trial)", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)


def _curve(evals: list[dict], value) -> tuple[list, list] | None:
    points = [(e["cpu_s"], value(e)) for e in evals if value(e) is not None]
    return ([p[0] for p in points], [p[1] for p in points]) if points else None
