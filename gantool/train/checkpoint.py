"""Checkpoints: self-describing dicts of tensors and primitives, written so a crash never tears one.

    <run>/checkpoints/step-000500.pt   torch.save of a plain dict (no pickled classes)
    <run>/checkpoints/last             text: the file name of the newest complete checkpoint

Each file is written to a temp name, fsynced and renamed; only then is `last` replaced the same
way, and only then are checkpoints beyond the newest `keep_last` deleted. A process killed at
any moment therefore leaves `last` naming a complete file. Loading uses
torch.load(weights_only=True): a checkpoint can never run code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gantool.errors import GantoolError, UsageError
from gantool.io import atomic_write

FORMAT = "gantool-checkpoint"
VERSION = 1
LAST = "last"
_STEP_FILE = re.compile(r"^step-(\d+)\.pt$")


def checkpoint_name(step: int) -> str:
    return f"step-{step:06d}.pt"


def list_checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint file, oldest first."""
    found = []
    for path in Path(ckpt_dir).glob("step-*.pt"):
        match = _STEP_FILE.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def save_checkpoint(ckpt_dir: Path, step: int, state: dict[str, Any], keep_last: int) -> Path:
    """Write `state` as step-NNNNNN.pt, point `last` at it, prune to the newest `keep_last`."""
    import torch

    ckpt_dir = Path(ckpt_dir)
    path = ckpt_dir / checkpoint_name(step)
    with atomic_write(path) as handle:
        torch.save({"format": FORMAT, "version": VERSION, "step": step, **state}, handle)
    with atomic_write(ckpt_dir / LAST, "w") as handle:
        handle.write(path.name + "\n")
    for _, old in list_checkpoints(ckpt_dir)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def remove_stale_temps(ckpt_dir: Path) -> None:
    """Delete temp files left by a process killed while saving (call while holding the lock)."""
    for tmp in Path(ckpt_dir).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint `last` names (or, if `last` is missing, the newest step file)."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    pointer = ckpt_dir / LAST
    if pointer.is_file():
        path = ckpt_dir / pointer.read_text(encoding="utf-8").strip()
        if path.is_file():
            return path
    found = list_checkpoints(ckpt_dir)
    if not found:
        raise GantoolError(f"no checkpoint in {ckpt_dir}")
    return found[-1][1]


def last_finite_checkpoint(run_dir: Path) -> Path | None:
    """The newest checkpoint of the run whose weights are all finite, or None."""
    import torch

    for _, path in reversed(list_checkpoints(Path(run_dir) / "checkpoints")):
        try:
            state = load_checkpoint(path)
        except GantoolError:
            continue
        nets = [state.get(k) for k in ("G", "D", "G_ema")]
        if all(bool(torch.isfinite(t).all()) for net in nets if net for t in net.values()
               if torch.is_floating_point(t)):
            return path
    return None


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file from a file path, a run directory or a checkpoints/ directory."""
    path = Path(path)
    if path.is_file():
        return path
    if path.is_dir():
        if (path / "checkpoints").is_dir():
            return latest_checkpoint(path)
        if (path / LAST).is_file() or list_checkpoints(path):
            return latest_checkpoint(path.parent)
        raise UsageError(f"{path} holds no checkpoints")
    raise UsageError(f"checkpoint not found: {path}")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint onto the CPU without running code from it."""
    import pickle

    import torch

    path = resolve_checkpoint(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GantoolError(f"cannot load checkpoint {path}: {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise GantoolError(f"{path} is not a gantool checkpoint")
    if state.get("version", 0) > VERSION:
        raise GantoolError(f"{path} was written by a newer gantool (format {state['version']})")
    state["path"] = str(path)
    return state


def build_models(arch: dict[str, Any]):
    """(G, D) rebuilt from the architecture name and factory kwargs a checkpoint stores."""
    from gantool import registry

    kwargs = dict(arch["kwargs"])
    kwargs["sample_shape"] = tuple(kwargs["sample_shape"])
    return registry.create("architecture", arch["name"], **kwargs)


def load_generator(path: str | Path, device: str = "cpu", ema: bool = True):
    """(G, meta) from a run directory or checkpoint file, in eval mode on `device`.

    With ema=True the EMA weights are used when the run kept them. `meta` holds the run's
    resolved config, the architecture and its options, the step, whether EMA weights were used,
    and the dataset's modes/mode_std (2-D mixtures) for plots.
    """
    state = load_checkpoint(path)
    G, _ = build_models(state["arch"])
    use_ema = bool(ema and state.get("G_ema") is not None)
    G.load_state_dict(state["G_ema"] if use_ema else state["G"])
    G.to(device).eval()
    meta = {
        "config": state["config"],
        "arch": state["arch"],
        "step": state["step"],
        "ema": use_ema,
        "path": state["path"],
        "dataset": state["config"].get("dataset"),
        "data_info": state.get("data_info", {}),
    }
    return G, meta
