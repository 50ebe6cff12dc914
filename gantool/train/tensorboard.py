"""TensorBoard event files in a run directory, so `tensorboard --logdir runs` shows every run.

The writer is tensorboardX: its only dependencies are numpy, protobuf and packaging, and on top of
an imported torch it imports faster than torch.utils.tensorboard (`python -X importtime`, four
interleaved tries on a loaded 2-core machine: 29-138 ms against 75-239 ms), which also needs the
whole `tensorboard` package (grpcio, werkzeug, absl) installed at training time. Reading events back, and viewing them, is the
`tensorboard` package's job.

Tags group a metrics.jsonl record the way a person looks for it: loss/d, loss/g, D/real,
D/fake, grad/g, grad/d, ... ; nested records (the diagnostics' flags, in-training metrics) become
`<group>/<name>`, and booleans become 0/1 so a flag shows as a step curve.
"""

from __future__ import annotations

import math
from numbers import Real
from pathlib import Path

# metrics.jsonl field -> tag. Fields not listed keep their name under "train/".
TAGS = {
    "loss_d": "loss/d", "loss_g": "loss/g",
    "d_real": "D/real", "d_fake": "D/fake",
    "grad_g": "grad/g", "grad_d": "grad/d", "grad_g_rel": "grad/g_relative",
    "diversity": "diagnostics/diversity",
    "modes_hit": "diagnostics/modes_hit", "modes_near": "diagnostics/modes_near",
    "modes_total": "diagnostics/modes_total", "high_quality": "diagnostics/high_quality",
    "near_share": "diagnostics/near_share", "loss_g_swing": "diagnostics/loss_g_swing",
    "loss_g_trend": "diagnostics/loss_g_trend",
    "img_per_s": "speed/img_per_s", "epoch": "progress/epoch",
}
NOT_SCALARS = {"step"}


def scalar_tags(record: dict, prefix: str = "") -> dict[str, float]:
    """Every numeric field of a metrics record as {tag: value}; nested dicts become groups."""
    tags: dict[str, float] = {}
    for key, value in record.items():
        if not prefix and key in NOT_SCALARS:
            continue
        if isinstance(value, dict):
            group = "diagnostics" if not prefix and key == "diag" else f"{prefix}{key}"
            tags.update(scalar_tags(value, f"{group}/"))
        elif isinstance(value, (bool, Real)) and not isinstance(value, complex):
            tag = f"{prefix}{key}" if prefix else TAGS.get(key, f"train/{key}")
            tags[tag] = float(value)
    return tags


class TensorBoardLog:
    """Writes events.out.tfevents.* into `run_dir`; every call is flushed on close()."""

    def __init__(self, run_dir: str | Path, flush_secs: int = 30):
        from tensorboardX import SummaryWriter  # imported only by a run that writes events

        self.writer = SummaryWriter(logdir=str(run_dir), flush_secs=flush_secs)

    def scalars(self, step: int, record: dict) -> None:
        """Every numeric field of one metrics.jsonl record (NaN/inf kept: they show a
        divergence in TensorBoard as they do in the file)."""
        for tag, value in scalar_tags(record).items():
            self.writer.add_scalar(tag, value if math.isfinite(value) else float("nan"),
                                   global_step=step)

    def image(self, tag: str, step: int, image) -> None:
        """An (H, W, C) or (H, W) uint8 array, e.g. a sample grid."""
        import numpy as np

        array = np.asarray(image)
        if array.dtype != np.uint8:
            raise ValueError(f"TensorBoard image {tag!r}: expected uint8, got {array.dtype}")
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
            raise ValueError(f"TensorBoard image {tag!r}: expected (H, W, C) with C in 1, 3, 4; "
                             f"got shape {array.shape}")
        self.writer.add_image(tag, array, global_step=step, dataformats="HWC")

    def text(self, tag: str, text: str, step: int = 0) -> None:
        """Text (markdown in TensorBoard), e.g. the run's config as a JSON code block."""
        self.writer.add_text(tag, text, global_step=step)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    def __enter__(self) -> TensorBoardLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
