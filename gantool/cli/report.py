"""`gantool report`: one self-contained HTML page over one or more runs."""

from __future__ import annotations

import sys

import typer


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
    from gantool import api

    page = api.report(runs, out=None if out == "-" else out, runs_root=runs_root, title=title,
                      force=force)
    if out == "-":
        sys.stdout.write(page)
