"""Who this process is in a (possibly) multi-process run: rank, world size, and the rank-0 rule.

A single process is rank 0 of a world of 1. Under `torchrun` the environment says otherwise
(RANK, WORLD_SIZE, LOCAL_RANK). Everything that writes files, logs or progress asks `is_main()`,
and each rank trains on its own slice of every global batch (`batch_slice`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def batch_slice(self, global_batch: int) -> slice:
        """This rank's rows of a global batch of `global_batch` rows (sizes differ by at most 1)."""
        base, extra = divmod(global_batch, self.size)
        start = self.rank * base + min(self.rank, extra)
        return slice(start, start + base + (1 if self.rank < extra else 0))


def world_from_env() -> World:
    """The world described by torchrun's environment variables (rank 0 of 1 without them)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))
