"""Dataset `prepared`: the shards `gantool prepare` wrote, streamed in bounded memory.

Order: per rank and epoch, a seeded permutation of the rank's shards, read a window of shards
at a time (about WINDOW_BYTES of pixels), each window shuffled by the same seeded generator.
So the order is a pure function of (seed, epoch, rank, world size): the stream's position is
just (epoch, batches taken in it), which resumes exactly on every rank from rank 0's checkpoint.

Under torchrun, shard i belongs to rank i % world: each rank reads only its own shards and draws
its rows of every global batch (World.batch_slice sizes) from them. Every rank takes the same
number of batches per epoch, the smallest any rank can fill; the rest of an epoch is skipped.
Memory: the window in use plus the next one, read ahead by one thread while training runs.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from gantool.data import shards
from gantool.data.convert import convert
from gantool.data.dataset import Dataset
from gantool.errors import GantoolError, UsageError
from gantool.registry import register

WINDOW_BYTES = 64 << 20  # pixels shuffled together; two windows are in memory at a time


class PreparedDataset:
    """The Dataset interface without `data`: batches come from `stream`, diagnostics from `peek`."""

    is_image = True
    modes = None
    mode_std = None
    labels = None  # per-sample labels live in the shards
    to_model = Dataset.to_model
    from_model = Dataset.from_model

    def __init__(self, root: Path, manifest: dict, image_size: int | None = None,
                 channels: int | None = None):
        self.root, self.manifest = root, manifest
        self.image_size, self.channels = image_size, channels
        self.name = "prepared"
        self.num_classes = manifest["num_classes"]
        c, h, w = manifest["shape"]
        self.sample_shape = (channels or c, image_size or h, image_size or w)

    def __len__(self) -> int:
        return self.manifest["count"]

    def __repr__(self) -> str:
        return (f"PreparedDataset({str(self.root)!r}, {len(self)} images of shape "
                f"{self.sample_shape}, {len(self.manifest['shards'])} shards)")

    def read(self, entries: list[dict]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The samples of these shards, in order, converted to sample_shape."""
        parts = [shards.read_shard(self.root, e, self.manifest) for e in entries]
        images = torch.from_numpy(np.concatenate([p[0] for p in parts]))
        labels = (torch.from_numpy(np.concatenate([p[1] for p in parts]))
                  if self.num_classes else None)
        return convert(images, self.image_size, self.channels), labels

    def peek(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """A seeded sample of n real images, uint8 (n, C, H, W), read from a few seeded shards
        (no more than needed), so it costs little whatever the dataset's size."""
        entries = self.manifest["shards"]
        n = min(n, len(self))
        order = torch.randperm(len(entries), generator=generator).tolist()
        chosen, total = [], 0
        for i in order:
            if total >= n:
                break
            chosen.append(entries[i])
            total += entries[i]["count"]
        images, _ = self.read(chosen)
        return images[torch.randperm(total, generator=generator)[:n]]

    def stream(self, batch_size: int, device: torch.device, seed: int, world,
               conditional: bool) -> ShardStream:
        return ShardStream(self, batch_size, device, seed, world, conditional)


class ShardStream:
    """BatchStream's interface over shards: next(), epoch, steps_per_epoch, state_dict()."""

    def __init__(self, dataset: PreparedDataset, batch_size: int, device: torch.device,
                 seed: int, world, conditional: bool):
        entries = dataset.manifest["shards"]
        if world.size > len(entries):
            raise UsageError(f"{dataset.root} has {len(entries)} shard(s), fewer than the "
                             f"{world.size} ranks; prepare it with a smaller --shard-size")
        self.dataset, self.device, self.seed, self.world = dataset, device, seed, world
        self.conditional = conditional
        self.batch_size = batch_size
        self.shards = entries[world.rank::world.size]
        rows = [len(range(batch_size)[world_r]) for world_r in _slices(world, batch_size)]
        counts = [sum(e["count"] for e in entries[r::world.size]) for r in range(world.size)]
        self.rows = rows[world.rank]
        self._steps = min(c // r for c, r in zip(counts, rows, strict=True)) if min(rows) else 0
        shard_bytes = max(e["count"] for e in entries) * int(np.prod(dataset.manifest["shape"]))
        self.window_shards = max(1, WINDOW_BYTES // shard_bytes)
        self.epoch, self.taken = 0, 0  # epochs started; batches taken in the current one
        self._plan: list[tuple[list[dict], torch.Tensor]] | None = None
        self._window = -1
        self._images = self._labels = None
        self._offset = 0  # rows of the current window already used
        self._plans: dict[int, list] = {}
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gantool-shards")
        self._ahead: tuple[tuple[str, ...], Future | None] = ((), None)  # the read-ahead
        self._cached: tuple[tuple[str, ...], tuple | None] = ((), None)  # the last window read

    @property
    def steps_per_epoch(self) -> int:
        return self._steps

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's rows of the next global batch, in model space."""
        if self._plan is None or self.taken == self._steps:
            self._start_epoch(self.epoch + 1, 0)
        parts_x, parts_y, need = [], [], self.rows
        while need:
            if self._images is None or self._offset == len(self._images):
                self._load_window(self._window + 1)
            take = min(need, len(self._images) - self._offset)
            parts_x.append(self._images[self._offset:self._offset + take])
            if self._labels is not None:
                parts_y.append(self._labels[self._offset:self._offset + take])
            self._offset += take
            need -= take
        self.taken += 1
        x = parts_x[0] if len(parts_x) == 1 else torch.cat(parts_x)
        y = None if self._labels is None else (
            parts_y[0] if len(parts_y) == 1 else torch.cat(parts_y))
        return self.dataset.to_model(x), y

    def state_dict(self) -> dict:
        return {"kind": "prepared", "epoch": self.epoch, "taken": self.taken,
                "world_size": self.world.size, "seed": self.seed,
                "batch_size": self.batch_size, "checksum": self.dataset.manifest["checksum"]}

    def load_state_dict(self, state: dict) -> None:
        if state.get("kind") != "prepared":
            raise GantoolError("the checkpoint's data position is not a prepared dataset's")
        for key, now in (("world_size", self.world.size), ("seed", self.seed),
                         ("batch_size", self.batch_size),
                         ("checksum", self.dataset.manifest["checksum"])):
            if state[key] != now:
                raise GantoolError(f"cannot resume the data stream: the run had {key} "
                                   f"{state[key]}, now {now}")
        self.epoch, self.taken = state["epoch"], state["taken"]
        self._plan = None
        self._images = None
        if self.epoch > 0:
            self._start_epoch(self.epoch, self.taken)

    # ---- the order: a pure function of (seed, epoch, rank, world size)
    def _start_epoch(self, epoch: int, taken: int) -> None:
        self.epoch, self.taken, self._plan = epoch, taken, self._epoch_plan(epoch)
        # Skip the rows already taken: whole windows by count, then an offset in one window.
        skip, window = taken * self.rows, 0
        while window < len(self._plan) and skip >= len(self._plan[window][1]):
            skip -= len(self._plan[window][1])
            window += 1
        self._images = None
        self._window = window - 1
        if skip and window < len(self._plan):
            self._load_window(window)
            self._offset = skip

    def _epoch_plan(self, epoch: int) -> list[tuple[list[dict], torch.Tensor]]:
        """The epoch's windows (their shards) and each window's sample permutation."""
        if epoch not in self._plans:
            key = f"{self.seed}/{epoch}/{self.world.rank}/{self.world.size}".encode()
            generator = torch.Generator().manual_seed(
                int.from_bytes(hashlib.sha256(key).digest()[:7], "little"))
            order = torch.randperm(len(self.shards), generator=generator).tolist()
            plan = []
            for start in range(0, len(order), self.window_shards):
                # A window's shards in file order: its permutation shuffles them anyway, and
                # a window that holds all the shards is then read once, not every epoch.
                window = [self.shards[i] for i in sorted(order[start:start + self.window_shards])]
                plan.append((window, torch.randperm(sum(e["count"] for e in window),
                                                    generator=generator)))
            self._plans = {e: p for e, p in self._plans.items() if e >= epoch - 1}
            self._plans[epoch] = plan
        return self._plans[epoch]

    def _load_window(self, window: int) -> None:
        if window >= len(self._plan):  # cannot happen: steps_per_epoch never asks for more
            raise GantoolError("internal: the data stream ran past its epoch")
        entries, perm = self._plan[window]
        images, labels = self._read(entries)
        self._images = images[perm].to(self.device)
        self._labels = labels[perm].to(self.device) if self.conditional else None
        self._window, self._offset = window, 0
        # Read the next window (of this epoch or the next) while this one trains.
        ahead = (self._plan[window + 1][0] if window + 1 < len(self._plan)
                 else self._epoch_plan(self.epoch + 1)[0][0])
        if _names(ahead) != self._cached[0]:
            self._ahead = (_names(ahead), self._reader.submit(self.dataset.read, ahead))

    def _read(self, entries: list[dict]) -> tuple[torch.Tensor, torch.Tensor | None]:
        names = _names(entries)
        if names != self._cached[0]:
            ahead_names, future = self._ahead
            value = future.result() if ahead_names == names else self.dataset.read(entries)
            self._ahead = ((), None)
            self._cached = (names, value)
        return self._cached[1]


def _names(entries: list[dict]) -> tuple[str, ...]:
    return tuple(e["name"] for e in entries)


def _slices(world, batch_size: int) -> list[slice]:
    return [type(world)(rank, world.size, 0).batch_slice(batch_size) for rank in range(world.size)]


@register("dataset", "prepared", "shards written by `gantool prepare`, streamed in bounded memory")
def prepared(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
) -> PreparedDataset:
    """`root`: the directory `gantool prepare` wrote (manifest.json and shard-*.tar)."""
    if root is None:
        raise UsageError("dataset 'prepared' needs the directory `gantool prepare` wrote: "
                         "--data-root DIR")
    directory = Path(root).expanduser()
    if not directory.is_dir():
        raise GantoolError(f"prepared dataset not found: {directory}")
    return PreparedDataset(directory, shards.read_manifest(directory), image_size, channels)
