"""Batches from a dataset held in memory on the device: one index operation per batch.

The order comes from a CPU torch.Generator: each epoch is one random permutation, the last
incomplete batch is dropped. The permutation, the position in it and the generator's state
are saved in checkpoints, so a resumed run sees exactly the batches it would have seen.
Under torchrun every rank draws the same global batch and keeps its own slice of it.
"""

from __future__ import annotations

import torch

from gantool.train.distributed import World


class BatchStream:
    def __init__(self, dataset, batch_size: int, device: torch.device, seed: int,
                 world: World, conditional: bool):
        self.dataset = dataset
        self.batch_size = batch_size
        self.rows = world.batch_slice(batch_size)
        # Keep the whole (uint8) dataset on the device: no per-image Python work per batch.
        self.data = dataset.data.to(device)
        self.labels = dataset.labels.to(device) if conditional else None
        self.generator = torch.Generator().manual_seed(seed)
        self.perm: torch.Tensor | None = None
        self.cursor = 0
        self.epoch = 0

    @property
    def steps_per_epoch(self) -> int:
        return len(self.dataset) // self.batch_size

    def next(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """This rank's slice of the next global batch, in model space ([-1, 1] for images)."""
        if self.perm is None or self.cursor + self.batch_size > len(self.perm):
            self.perm = torch.randperm(len(self.dataset), generator=self.generator)
            self.cursor = 0
            self.epoch += 1
        idx = self.perm[self.cursor:self.cursor + self.batch_size][self.rows]
        self.cursor += self.batch_size
        idx = idx.to(self.data.device, non_blocking=True)
        x = self.dataset.to_model(self.data[idx])
        return x, (self.labels[idx] if self.labels is not None else None)

    def state_dict(self) -> dict:
        return {"perm": self.perm, "cursor": self.cursor, "epoch": self.epoch,
                "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.perm, self.cursor, self.epoch = state["perm"], state["cursor"], state["epoch"]
        self.generator.set_state(state["generator"])
