"""`gantool list`: every registered component, where it came from and what it does."""

from __future__ import annotations

import json
import sys

import typer

from gantool import registry


def list_command(
    kind: str = typer.Argument(
        None,
        help=f"Only this kind: {', '.join(registry.KINDS)}.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON array for scripts."),
) -> None:
    """List registered architectures, losses, datasets, metrics, feature extractors, games and
    optimizers, with their origin (built-in or the plugin's distribution).

    Example: gantool list optimizer --json
    """
    from gantool import api

    rows = api.list(kind)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("name", "kind", "description", "origin"):
        table.add_column(column)
    for row in rows:
        # Options declared where the component was registered (metrics: gantool/metrics/options).
        options = "; ".join(row.get("options", ()))
        description = row["description"] + (f" [{options}]" if options else "")
        if row.get("aliases"):  # another command's spelling of a shared rule (gantool/rules.py)
            description += f" (also: {', '.join(row['aliases'])})"
        table.add_row(row["name"], row["kind"], description, row["origin"])
    Console(soft_wrap=not sys.stdout.isatty()).print(table)
