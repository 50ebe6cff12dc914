"""Checkpoints: self-describing dicts of tensors and primitives, written so a crash never tears one.

    <run>/checkpoints/step-000500.pt   torch.save of a plain dict (no pickled classes)
    <run>/checkpoints/last             text: the file name of the newest complete checkpoint
    <run>/checkpoints/best.pt          with --eval-every: the weights that scored best so far

Each file is written to a temp name, fsynced and renamed; only then is `last` replaced the same
way, and only then are checkpoints beyond the newest `keep_last` deleted. A process killed at
any moment therefore leaves `last` naming a complete file. Loading uses
torch.load(weights_only=True): a checkpoint can never run code. A `last` naming a missing file
is refused (someone deleted or moved it; silently taking an older one would hide that), and
every loaded dict is checked by check_checkpoint before anything uses it, so a damaged or
foreign file gives one line naming what is wrong.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

from gantool.errors import GantoolError, UsageError
from gantool.io import atomic_write

FORMAT = "gantool-checkpoint"
VERSION = 1
LAST = "last"
BEST = "best.pt"  # the best G by --eval-every's headline metric; never pruned (not step-*.pt)
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


def save_best(ckpt_dir: Path, step: int, state: dict[str, Any]) -> Path:
    """Write `state` (weights and what sampling needs) atomically as best.pt."""
    import torch

    path = Path(ckpt_dir) / BEST
    with atomic_write(path) as handle:
        torch.save({"format": FORMAT, "version": VERSION, "step": step, **state}, handle)
    return path


def best_checkpoint(run_dir: Path) -> Path:
    """<run>/checkpoints/best.pt, or a UsageError saying how a run gets one."""
    path = Path(run_dir) / "checkpoints" / BEST
    if not path.is_file():
        raise UsageError(f"{run_dir} has no best checkpoint ({path}): it is written by "
                         "gantool train --eval-every N")
    return path


def chosen_checkpoint(checkpoint: str | Path | None, run: str | None,
                      runs_root: str | Path) -> Path:
    """What sample's and evaluate's --checkpoint / --run name: a checkpoint file, `best` (the
    best checkpoint of --run, default runs/latest, unless a file is called `best`), or a run."""
    from gantool.train.rundir import resolve_run

    if checkpoint is not None and str(checkpoint) == "best" and not Path(checkpoint).exists():
        return best_checkpoint(resolve_run(run, runs_root))
    if checkpoint is not None and run is not None:
        raise UsageError("give --run or --checkpoint, not both (except --checkpoint best)")
    return Path(checkpoint) if checkpoint is not None else resolve_run(run, runs_root)


def remove_stale_temps(ckpt_dir: Path) -> None:
    """Delete temp files left by a process killed while saving (call while holding the lock)."""
    for tmp in Path(ckpt_dir).glob(".*.tmp"):
        tmp.unlink(missing_ok=True)


def latest_checkpoint(run_dir: Path) -> Path:
    """The checkpoint `last` names (or, if `last` is missing, the newest step file)."""
    ckpt_dir = Path(run_dir) / "checkpoints"
    pointer = ckpt_dir / LAST
    found = list_checkpoints(ckpt_dir)
    if pointer.is_file():
        name = pointer.read_text(encoding="utf-8", errors="replace").strip()
        if not _STEP_FILE.match(name):
            raise GantoolError(f"{pointer} does not name a checkpoint file (holds {name[:40]!r})")
        path = ckpt_dir / name
        if path.is_file():
            return path
        others = ", ".join(p.name for _, p in found[-3:]) or "none"
        raise GantoolError(
            f"{pointer} names {name}, which is missing (deleted or moved?); not falling back "
            f"to an older one silently. Checkpoints there: {others}; pass one as a file "
            f"(--checkpoint) or write its name into {LAST}"
        )
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
    """Read a checkpoint onto the CPU without running code from it; check its structure."""
    import torch

    path = resolve_checkpoint(path)
    try:
        with warnings.catch_warnings():  # a foreign pickle protocol: the error below says it
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the weights-only unpickler raises any kind on a corrupt file
        raise GantoolError(f"cannot load checkpoint {path}: {_load_failure(exc)}") from None
    check_checkpoint(state, path)
    state["path"] = str(path)
    return state


def _load_failure(exc: Exception) -> str:
    """torch.load's failure in one line. Its weights-only message is five lines of advice
    (re-load with weights_only=False: the one thing not to do with a file of unknown origin);
    only the reason it gives is kept."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        advice = ("Please file an issue", "Check the documentation")
        reasons = [line for line in lines[1:] if not line.startswith(advice)]
        reason = reasons[0] if reasons else "it holds objects a checkpoint never does"
    elif lines:
        reason = f"{type(exc).__name__}: {lines[0].split('. ')[0]}"
    else:
        reason = type(exc).__name__
    return f"not a gantool checkpoint, or corrupt ({reason})"


def check_checkpoint(state: Any, path: Path) -> None:
    """GantoolError in one line unless `state` has what sampling and evaluation rely on: the
    format marker and version, an int step, the architecture, G's (and G_ema's) weights as
    tensors, and the config and data_info dicts."""
    import torch

    def refuse(problem: str):
        raise GantoolError(f"cannot load checkpoint {path}: {problem}")

    if not isinstance(state, dict) or state.get("format") != FORMAT:
        refuse("not a gantool checkpoint")
    if not isinstance(state.get("version"), int) or state["version"] > VERSION:
        refuse(f"written by a newer gantool (format {state.get('version')!r})")
    for key in ("step", "arch", "G", "config"):
        if key not in state:
            refuse(f"it has no {key!r} (a damaged or foreign file)")
    if not isinstance(state["step"], int) or state["step"] < 0:
        refuse(f"its 'step' must be a non-negative integer, got {state['step']!r}")
    arch = state["arch"]
    kwargs = arch.get("kwargs") if isinstance(arch, dict) else None
    shape = kwargs.get("sample_shape") if isinstance(kwargs, dict) else None
    if not (isinstance(arch, dict) and isinstance(arch.get("name"), str)
            and isinstance(shape, (list, tuple))
            and all(isinstance(s, int) and s > 0 for s in shape)):
        refuse("its 'arch' must be {'name': str, 'kwargs': {'sample_shape': [ints], ...}}")
    for key in ("G", "G_ema"):
        weights = state.get(key)
        if key == "G_ema" and weights is None:
            continue
        if not (isinstance(weights, dict) and all(
                isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in weights.items())):
            refuse(f"its {key!r} must map parameter names to tensors")
    for key in ("config", "data_info"):
        if not isinstance(state.get(key, {}), dict):
            refuse(f"its {key!r} must be a dict, got {type(state[key]).__name__}")


def build_models(arch: dict[str, Any]):
    """(G, D) rebuilt from the architecture name and factory kwargs a checkpoint stores."""
    from gantool import registry

    kwargs = dict(arch["kwargs"])
    kwargs["sample_shape"] = tuple(kwargs["sample_shape"])
    return registry.create("architecture", arch["name"], **kwargs)


def load_weights(module, weights: dict, arch_name: str, path) -> None:
    """load_state_dict, with a mismatch told in one line: which parameter, both shapes."""
    expected = module.state_dict()
    problem = None
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if wrong:
        k = wrong[0]
        problem = (f"parameter {k!r} has shape {tuple(weights[k].shape)} in the file, the "
                   f"architecture makes {tuple(expected[k].shape)}")
    elif missing:
        problem = f"parameter {missing[0]!r} is missing ({len(missing)} in all)"
    elif unexpected:
        problem = f"it has parameter {unexpected[0]!r} the architecture does not make"
    if problem:
        # The one layout change so far: conditional G and D since issue 24 (ede8d68).
        why = ("; class-conditional models take their labels differently since gantool's "
               "conditional fix (class-conditional BatchNorm in G, a pooled projection in D): "
               "retrain a conditional run made before it"
               if getattr(module, "num_classes", 0) else "")
        raise GantoolError(
            f"checkpoint {path} does not fit architecture {arch_name!r}: {problem}{why}"
        )
    module.load_state_dict(weights)


def load_generator(path: str | Path, device: str = "cpu", ema: bool = True):
    """(G, meta) from a run directory or checkpoint file, in eval mode on `device`.

    With ema=True the EMA weights are used when the run kept them. `meta` holds the run's
    resolved config, the architecture and its options, the step, whether EMA weights were used,
    and the dataset's modes/mode_std (2-D mixtures) for plots.
    """
    state = load_checkpoint(path)
    arch = state["arch"]
    try:
        G, _ = build_models(arch)
    except GantoolError as exc:
        raise GantoolError(f"checkpoint {state['path']}: {exc}") from None
    except (TypeError, ValueError) as exc:  # kwargs this gantool's architecture does not take
        raise GantoolError(f"checkpoint {state['path']}: cannot build architecture "
                           f"{arch['name']!r} ({exc})") from None
    use_ema = bool(ema and state.get("G_ema") is not None)
    load_weights(G, state["G_ema"] if use_ema else state["G"], arch["name"], state["path"])
    G.to(device).eval()
    meta = {
        "config": state["config"],
        "arch": arch,
        "step": state["step"],
        "ema": use_ema,
        "path": state["path"],
        "dataset": state["config"].get("dataset"),
        "data_info": state.get("data_info", {}),
    }
    return G, meta
