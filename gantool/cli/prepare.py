"""`gantool prepare`: a dataset -> WebDataset shards + manifest.json, for streamed training.

The output directory's path is printed on stdout; progress goes to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path

import typer

ENCODINGS = ("raw", "png", "jpeg")


def prepare_command(
    source: str = typer.Argument(..., help="An image folder, an .npz/.npy file, or a dataset "
                                 "name (gantool list dataset), e.g. mnist or cifar10.",
                                 show_default=False),
    out: Path = typer.Argument(..., help="New directory for the shards and manifest.json.",
                               show_default=False),
    data_root: str = typer.Option(None, "--data-root", help="Where a named dataset's files "
                                  "live.", show_default=False),
    download: bool = typer.Option(False, "--download", help="Download a named dataset's "
                                  "missing files."),
    image_size: int = typer.Option(None, "--image-size", help="Resize images to this size.",
                                   show_default=False),
    channels: int = typer.Option(None, "--channels", help="1 (grey), 3 (RGB) or 4 (RGBA: "
                                 "an image folder's transparency kept; raw or png).",
                                 show_default=False),
    background: str = typer.Option(None, "--background", metavar="COLOUR", help="Image "
                                   "folders: transparent pixels are composited onto this "
                                   "colour (white, black, any colour name, or #rrggbb; "
                                   "default white).", show_default=False),
    encoding: str = typer.Option("raw", "--encoding", help="How images are stored: raw "
                                 "(uint8 .npy, fastest to read), png (lossless, smaller for "
                                 "digits and flat images) or jpeg (lossy, quality 95)."),
    shard_size: int = typer.Option(None, "--shard-size", help="Images per shard (default "
                                   "1000, fewer for big images: at most 64 MiB of pixels).",
                                   show_default=False),
    force: bool = typer.Option(False, "--force", help="Replace a prepared dataset already "
                               "in OUT."),
) -> None:
    """Write a dataset as sharded WebDataset tar files that training streams in bounded memory.

    Resumable: rerun the same command after an interruption and only the missing shards are
    written. OUT is never overwritten without --force.

    Example: gantool prepare ~/photos shards --image-size 64

    Then: gantool train --dataset prepared --data-root shards
    """
    from gantool.data.preparing import open_source, prepare
    from gantool.errors import UsageError

    if encoding not in ENCODINGS:
        raise UsageError(f"unknown --encoding {encoding!r}; use one of: {', '.join(ENCODINGS)}")
    if shard_size is not None and shard_size < 1:
        raise UsageError(f"--shard-size must be a positive integer, got {shard_size}")
    src = open_source(source, data_root=data_root, image_size=image_size, channels=channels,
                      download=download, background=background)

    def progress(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\rshard {done}/{total}", end="" if done < total else "\n", file=sys.stderr)

    manifest = prepare(src, out, encoding=encoding, shard_size=shard_size, force=force,
                       progress=progress)
    print(f"prepared {manifest['count']} images of shape {tuple(manifest['shape'])} in "
          f"{len(manifest['shards'])} shard(s), checksum {manifest['checksum'][:12]}",
          file=sys.stderr)
    print(out)
