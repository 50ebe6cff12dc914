"""`gantool runs`: the runs under a root, with their progress, last metrics and status."""

from __future__ import annotations

import json
import sys

import typer


def runs_command(
    root: str = typer.Argument("runs", metavar="[ROOT]",
                               help="The folder that holds the run directories."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array for scripts."),
) -> None:
    """List the runs under ROOT: name, dataset, arch, loss, steps done / planned, last
    metrics, status (finished, stopped, diverged, running).

    A run that cannot be read is skipped with a warning.

    Example: gantool runs runs --json
    """
    from gantool import api
    from gantool.report.listing import finite_or_null, last_text, steps_text

    entries = api.runs(root)
    if as_json:
        print(json.dumps(finite_or_null(entries), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("name", "dataset", "arch", "loss", "steps", "last", "status"):
        table.add_column(column)
    for e in entries:
        table.add_row(e["name"], str(e["dataset"]), str(e["arch"]), str(e["loss"]),
                      steps_text(e), last_text(e), e["status"])
    # Piped output is not wrapped at 80 columns: one run per line, for grep.
    Console(width=None if sys.stdout.isatty() else 1000).print(table)
