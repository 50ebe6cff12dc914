"""`gantool report`: one self-contained HTML page over one or more runs."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from gantool.errors import UsageError


def report_command(
    runs: list[str] = typer.Argument(..., metavar="RUN...", show_default=False,
                                     help="Run directories, or names under --runs-root."),
    out: str = typer.Option("report.html", "--out", "-o", metavar="FILE",
                            help="The HTML file to write, or - for stdout."),
    runs_root: str = typer.Option("runs", "--runs-root", metavar="DIR", help="Where run names are looked up."),
    title: str = typer.Option(None, "--title", metavar="TEXT", help="The page's title [the runs' names]."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing --out file."),
) -> None:
    """Write one HTML file comparing RUN...: config (differences highlighted), loss and
    diagnostic curves overlaid, sample grids over time as a scrubbable strip, final samples,
    failure-mode flags with advice, evaluation results. It needs no network to view.

    Example: gantool report runs/a runs/b --out report.html
    """
    from gantool.io import atomic_write
    from gantool.report.html import render
    from gantool.report.rundata import read_run
    from gantool.train.rundir import resolve_run

    if out != "-" and not out.endswith((".html", ".htm")):
        raise UsageError(f"--out must end in .html (or be - for stdout), got {out!r}")
    if out != "-" and Path(out).exists() and not force:
        raise UsageError(f"{out} exists; choose another --out or pass --force to overwrite it")
    found = [read_run(resolve_run(spec, runs_root)) for spec in runs]
    page = render(found, title or "gantool report: " + ", ".join(r.name for r in found))
    if out == "-":
        sys.stdout.write(page)
        return
    with atomic_write(out, "w") as handle:
        handle.write(page)
    print(f"wrote {out} ({len(found)} runs)", file=sys.stderr)
