"""The run directory: where it is, its lock, its config.json, and the runs/latest pointer.

    runs/<name>/config.json    every resolved option, seed, versions
    runs/<name>/checkpoints/   step-NNNNNN.pt + `last` (see checkpoint.py)
    runs/<name>/samples/       step-NNNNNN.png grids from one fixed latent batch
    runs/<name>/metrics.jsonl  one JSON object per logged step
    runs/latest -> <name>      a symlink, or a text file holding the path where symlinks fail
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from gantool.errors import GantoolError, UsageError
from gantool.io import atomic_write

LOCK_NAME = ".lock"
LATEST = "latest"


def new_run_dir(runs_root: str, name: str | None, run_dir: str | None, label: str) -> Path:
    """The directory for a new run; refuses one that already holds a run."""
    if run_dir is not None:
        path = Path(run_dir)
    elif name is not None:
        path = Path(runs_root) / name
    else:  # a fresh, readable, unique name
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = Path(runs_root) / f"{stamp}-{label}"
        suffix = 2
        while path.exists():
            path = Path(runs_root) / f"{stamp}-{label}-{suffix}"
            suffix += 1
    if (path / "config.json").exists():
        raise UsageError(f"{path} already holds a run; continue it with --resume {path} "
                         "or choose another --name")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} exists and is not a directory")
    return path


class RunLock:
    """An exclusive fcntl lock on <run>/.lock held while training (released by the OS on death)."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_NAME
        self.handle = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")
        try:
            import fcntl

            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # no fcntl (Windows): train without the lock
            pass
        except OSError:
            handle.seek(0)
            owner = handle.read().strip() or "another process"
            handle.close()
            raise GantoolError(f"{self.path.parent} is being trained by {owner}; "
                               "wait for it to finish or stop it first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self.handle = handle
        return self

    def __exit__(self, *exc) -> None:
        if self.handle is not None:
            self.handle.close()  # closing releases the flock
            self.handle = None


def write_json(path: Path, obj) -> None:
    with atomic_write(path, "w") as handle:
        json.dump(obj, handle, indent=2, sort_keys=True)
        handle.write("\n")


def versions() -> dict[str, str]:
    import platform

    import torch

    from gantool import __version__

    return {"gantool": __version__, "torch": torch.__version__,
            "python": platform.python_version()}


def update_latest(runs_root: str | Path, run_dir: Path) -> None:
    """Point runs_root/latest at run_dir atomically: a relative symlink, else a pointer file."""
    root = Path(runs_root)
    root.mkdir(parents=True, exist_ok=True)
    latest = root / LATEST
    run_dir = Path(run_dir).resolve()
    try:
        target = os.path.relpath(run_dir, root.resolve())
    except ValueError:  # another drive on Windows
        target = str(run_dir)
    tmp = root / f".{LATEST}.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp, target_is_directory=True)
        os.replace(tmp, latest)
    except OSError:
        tmp.unlink(missing_ok=True)
        if latest.is_symlink():
            latest.unlink()
        with atomic_write(latest, "w") as handle:
            handle.write(str(run_dir) + "\n")


def resolve_run(spec: str | Path | None, runs_root: str | Path = "runs") -> Path:
    """A run directory from a path, a name under runs_root, or (None) runs_root/latest."""
    root = Path(runs_root)
    if spec is None or str(spec) == LATEST:
        latest = root / LATEST
        if latest.is_file() and not latest.is_symlink():  # the pointer-file fallback
            path = Path(latest.read_text(encoding="utf-8").strip())
        elif latest.exists():
            path = latest.resolve()
        else:
            raise UsageError(f"no run given and {latest} does not exist; train one first "
                             "(gantool train) or name one with --run")
    else:
        # A path that is a run wins; otherwise a run of that name under runs_root (so a plain
        # folder ./photos does not hide runs/photos).
        path = Path(spec)
        named = root / str(spec)
        if not (path / "config.json").is_file() and (named / "config.json").is_file():
            path = named
    if not path.is_dir():
        raise UsageError(f"run directory not found: {spec if spec is not None else path}")
    if not (path / "config.json").is_file():
        raise UsageError(f"{path} is not a gantool run directory (no config.json)")
    return path


def read_run_config(run_dir: Path) -> dict:
    try:
        return json.loads((Path(run_dir) / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise GantoolError(f"cannot read {Path(run_dir) / 'config.json'}: {exc}") from None
