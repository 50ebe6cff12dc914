"""`gantool prepare`: a dataset -> WebDataset shards + manifest.json, for streamed training.

The output directory's path is printed on stdout; progress goes to stderr.
"""

from __future__ import annotations

from pathlib import Path

import typer


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
    from gantool import api

    api.prepare(source, out, data_root=data_root, download=download, image_size=image_size,
                channels=channels, background=background, encoding=encoding,
                shard_size=shard_size, force=force)
    print(out)
