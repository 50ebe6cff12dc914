"""Reading a feature network's weights file: tensors only, and every failure in one line.

torch.load's weights-only failure is five lines of advice, one of them to re-load with
weights_only=False (the one thing not to do with a file of unknown origin), and
load_state_dict's error starts with a line that ends in "for Inception3:" and lists every key
after it; these give the reason, and a count of what differs, in one line instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from gantool.errors import GantoolError


def read_state_dict(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A state dict from .safetensors or a torch file read weights-only (no code runs)."""
    if not path.is_file():
        raise GantoolError(f"{what} weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            with warnings.catch_warnings():  # a foreign pickle protocol: the error says it
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # the weights-only unpickler raises any kind on a corrupt file
        raise GantoolError(f"cannot read {what} weights {path}: {load_failure(exc)}") from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise GantoolError(f"{path} does not hold a state dict (names -> tensors)")
    return state


def load_failure(exc: Exception) -> str:
    """The reason in a torch.load / safetensors failure, in one line, without torch's advice."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if lines and lines[0].startswith("Weights only load failed"):
        advice = ("Please file an issue", "Check the documentation")
        reasons = [line for line in lines[1:] if not line.startswith(advice)]
        reason = reasons[0].split(". Please use")[0] if reasons else "objects beyond tensors"
        return f"not a weights file, or corrupt ({reason})"
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _shape(tensor: torch.Tensor) -> str:
    return "x".join(map(str, tensor.shape)) or "scalar"


def load_checked(module: torch.nn.Module, state: dict, path: Path, what: str) -> None:
    """module.load_state_dict(state), or one GantoolError counting what differs: missing and
    unexpected names and tensors of another shape, each with its first example."""
    expected = module.state_dict()
    missing = [name for name in expected if name not in state]
    unexpected = [name for name in state if name not in expected]
    reshaped = [name for name in expected
                if name in state and state[name].shape != expected[name].shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} of its {len(expected)} tensors missing ({missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected ({unexpected[0]})")
    if reshaped:
        name = reshaped[0]
        problems.append(f"{len(reshaped)} of another shape ({name}: "
                        f"{_shape(state[name])}, expected {_shape(expected[name])})")
    if problems:
        raise GantoolError(f"{path} does not hold {what} weights: {'; '.join(problems)}")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:  # names and shapes agree; anything else, in one line
        first = (str(exc).strip().splitlines() or ["RuntimeError"])[-1].strip()
        raise GantoolError(f"{path} does not hold {what} weights: {first}") from None
