"""`gantool list`: every registered component, where it came from and what it does."""

from __future__ import annotations

import json
import sys

import typer

from gantool import registry
from gantool.errors import UsageError


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
    if kind is not None and kind not in registry.KINDS:
        raise UsageError(f"unknown kind {kind!r}; kinds are: {', '.join(registry.KINDS)}")
    found = registry.entries(kind)
    if as_json:
        rows = []
        for e in found:
            row = {"name": e.name, "kind": e.kind, "description": e.description, "origin": e.origin}
            if e.aliases:
                row["aliases"] = list(e.aliases)
            options = getattr(e.factory, "options", ())  # declared at registration (metrics)
            if options:
                row["options"] = [o.describe() for o in options]
            rows.append(row)
        print(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for column in ("name", "kind", "description", "origin"):
        table.add_column(column)
    for e in found:
        # Options declared where the component was registered (metrics: gantool/metrics/options).
        options = "; ".join(o.describe() for o in getattr(e.factory, "options", ()))
        description = e.description + (f" [{options}]" if options else "")
        if e.aliases:  # another command's spelling of a shared rule (gantool/rules.py)
            description += f" (also: {', '.join(e.aliases)})"
        table.add_row(e.name, e.kind, description, e.origin)
    Console(soft_wrap=not sys.stdout.isatty()).print(table)
