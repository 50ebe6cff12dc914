"""metrics.jsonl, the running sums between two log lines, and the check that they are finite.

The sums live on the device (no host sync per step). They are part of the training state, so a
run resumed from a checkpoint taken between two log steps writes the same next line as a run
never interrupted; on resume, records past the checkpoint's step (written before a kill) are
dropped, atomically, and written again as training repeats those steps.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch

from gantool.io import atomic_write
from gantool.train.diagnostics import LOGIT_KEYS, logit_stats

# What is averaged between log lines: losses, D's mean probability on each side, and the raw
# logits' statistics (the monitor judges the unbounded losses on those).
SUMMED = ("loss_d", "loss_g", "d_real", "d_fake", *LOGIT_KEYS)


class MetricsLog:
    def __init__(self, path: Path | None, device: torch.device):
        self.path = path  # None on ranks that do not write
        self.tensorboard = None  # a TensorBoardLog when the run writes events
        self.sums = torch.zeros(len(SUMMED), device=device)
        self.n = 0
        self.records: list[dict] = []
        self.handle = None
        self.t_last = time.perf_counter()

    def open(self, resume_step: int | None) -> None:
        """Start appending; when resuming, first keep only the records up to `resume_step`."""
        if self.path is None:
            return
        if resume_step is not None:
            self.records = _records_up_to(self.path, resume_step)
            with atomic_write(self.path, "w") as handle:
                handle.writelines(json.dumps(r) + "\n" for r in self.records)
        self.handle = open(self.path, "a", encoding="utf-8")

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None

    def accumulate(self, d, g) -> None:
        """Add one iteration's figures (device tensors; no .item() on the hot path)."""
        with torch.no_grad():
            real, fake = d.real_logits.float(), d.fake_logits.float()
            self.sums += torch.cat([torch.stack([d.loss.float(), g.loss.float(),
                                                 torch.sigmoid(real).mean(),
                                                 torch.sigmoid(fake).mean()]),
                                    logit_stats(real, fake)])
        self.n += 1

    def finite(self) -> bool:
        return bool(torch.isfinite(self.sums).all())

    def means(self) -> dict:
        values = (self.sums / max(self.n, 1)).tolist()
        return dict(zip(SUMMED, values, strict=True))

    def reset(self) -> None:
        self.sums.zero_()
        self.n = 0
        self.t_last = time.perf_counter()

    def seconds_since_reset(self) -> float:
        return max(time.perf_counter() - self.t_last, 1e-9)

    def write(self, record: dict) -> None:
        self.records.append(record)
        if self.handle is not None:
            self.handle.write(json.dumps(record) + "\n")
            self.handle.flush()  # a line per log, readable while training
        if self.tensorboard is not None:
            self.tensorboard.scalars(record["step"], record)

    def image(self, tag: str, step: int, image_hwc) -> None:
        if self.tensorboard is not None:
            self.tensorboard.image(tag, step, image_hwc)

    def state_dict(self) -> dict:
        return {"sums": self.sums.cpu(), "n": self.n}

    def load_state_dict(self, state: dict) -> None:
        if state["sums"].shape != self.sums.shape:  # a checkpoint of an older gantool
            return
        self.sums.copy_(state["sums"].to(self.sums.device, self.sums.dtype))
        self.n = int(state["n"])


def all_finite(values) -> bool:
    return all(math.isfinite(v) for v in values)


def _records_up_to(path: Path, last_step: int) -> list[dict]:
    """The records of metrics.jsonl up to `last_step` (a torn last line is dropped too)."""
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("step", 0) <= last_step:
                records.append(record)
    return records
