"""The other commands as functions: list, runs, report, prepare, train_classifier."""

from __future__ import annotations

import sys
from pathlib import Path

from gantool.api._common import public
from gantool.errors import GantoolError, UsageError


@public
def list_components(kind: str | None = None) -> list[dict]:
    """The registered components (`gantool list [KIND] --json`): one dict per component with
    name, kind, description, origin, and aliases / options where it has them."""
    from gantool import registry

    if kind is not None and kind not in registry.KINDS:
        raise UsageError(f"unknown kind {kind!r}; kinds are: {', '.join(registry.KINDS)}")
    rows = []
    for e in registry.entries(kind):
        row = {"name": e.name, "kind": e.kind, "description": e.description, "origin": e.origin}
        if e.aliases:
            row["aliases"] = [*e.aliases]
        options = getattr(e.factory, "options", ())  # declared at registration (metrics)
        if options:
            row["options"] = [o.describe() for o in options]
        rows.append(row)
    return rows


@public
def runs(root: str | Path = "runs") -> list[dict]:
    """The runs under root (`gantool runs --json`): name, dataset, arch, loss, steps done and
    planned, last metrics, status (a diverged run's losses may be NaN; the command's --json
    writes them as null). A run that cannot be read is skipped with a warning."""
    import warnings

    from gantool.report.listing import row
    from gantool.report.rundata import find_runs, read_run

    entries = []
    for path in find_runs(root):
        try:
            entries.append(row(read_run(path)))
        except GantoolError as exc:
            warnings.warn(f"skipped {path}: {exc}", stacklevel=2)
    return entries


@public
def report(runs: str | Path | list, *, out: str | Path | None = "report.html",
           runs_root: str | Path = "runs", title: str | None = None,
           force: bool = False) -> Path | str:
    """One self-contained HTML page comparing runs (`gantool report`): run directories or
    names under runs_root. Writes `out` and returns its path; out=None returns the page."""
    from gantool.io import atomic_write
    from gantool.report.html import render
    from gantool.report.rundata import read_run
    from gantool.train.rundir import resolve_run

    specs = [runs] if isinstance(runs, (str, Path)) else [*runs]
    if not specs:
        raise UsageError("give at least one run")
    if out is not None:
        out = str(out)
        if not out.endswith((".html", ".htm")):
            raise UsageError(f"--out must end in .html (or be - for stdout), got {out!r}")
        if Path(out).exists() and not force:
            raise UsageError(f"{out} exists; choose another --out or pass --force to "
                             "overwrite it")
    found = [read_run(resolve_run(spec, runs_root)) for spec in specs]
    page = render(found, title or "gantool report: " + ", ".join(r.name for r in found))
    if out is None:
        return page
    with atomic_write(out, "w") as handle:
        handle.write(page)
    print(f"wrote {out} ({len(found)} runs)", file=sys.stderr)
    return Path(out)


ENCODINGS = ("raw", "png", "jpeg")


@public
def prepare(source: str | Path, out: str | Path, *, data_root: str | None = None,
            download: bool = False, image_size: int | None = None,
            channels: int | None = None, background: str | None = None,
            encoding: str = "raw", shard_size: int | None = None,
            force: bool = False) -> dict:
    """Write a dataset as WebDataset shards for streamed training (`gantool prepare`);
    resumable. Returns the manifest (count, shape, shards, checksum, ...)."""
    from gantool.data.preparing import open_source
    from gantool.data.preparing import prepare as write_shards

    if encoding not in ENCODINGS:
        raise UsageError(f"unknown --encoding {encoding!r}; use one of: {', '.join(ENCODINGS)}")
    if shard_size is not None and shard_size < 1:
        raise UsageError(f"--shard-size must be a positive integer, got {shard_size}")
    src = open_source(str(source), data_root=data_root, image_size=image_size,
                      channels=channels, download=download, background=background)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rshard {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    manifest = write_shards(src, Path(out), encoding=encoding, shard_size=shard_size,
                            force=force, progress=progress)
    print(f"prepared {manifest['count']} images of shape {tuple(manifest['shape'])} in "
          f"{len(manifest['shards'])} shard(s), checksum {manifest['checksum'][:12]}",
          file=sys.stderr)
    return manifest
