"""Who this process is in a (possibly) multi-process run, and the few collectives training needs.

A single process is rank 0 of a world of 1 and every function here is then a no-op. Under
`torchrun --nproc_per_node=N -m gantool train ...` the environment (RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR, MASTER_PORT) describes the world; `setup` joins the process group
(gloo on CPU, nccl on CUDA).

How gantool trains data-parallel, and why it matches one process on the same global batch:
every rank holds the same weights, draws the same global batch of data indices and noise (the
same seeds: z, labels, augmentation, penalty mixing, see `BatchDraws`) and keeps its own slice
(`batch_slice`); after each backward pass the gradients are averaged across ranks with one
all-reduce (what DistributedDataParallel does), so every rank takes the same optimiser step.
Only rank 0 writes files, logs and progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch


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


@dataclass(frozen=True)
class BatchDraws:
    """Per-row random numbers for the `rows` of a global batch of `total` rows that this
    process holds.

    Every process draws for all `total` rows from the same generator and keeps its own rows, as
    it does for z: N processes then apply what one process applies to the same global batch,
    and their generators stay in step (only rank 0's state is checkpointed) even when the batch
    does not split evenly. `rows` is a slice (`World.batch_slice`) or an index tensor.
    """

    generator: torch.Generator
    total: int
    rows: slice | torch.Tensor = field(default_factory=lambda: slice(None))  # all

    @classmethod
    def of(cls, source: BatchDraws | torch.Generator, n: int) -> BatchDraws:
        """`source` itself, or a generator's draws for a batch of `n` rows held whole."""
        return source if isinstance(source, BatchDraws) else cls(source, n)

    def uniform(self, *shape: int, device, dtype=None) -> torch.Tensor:
        """U(0, 1) of shape (rows, *shape)."""
        return torch.rand(self.total, *shape, generator=self.generator, device=device,
                          dtype=dtype)[self.rows]

    def integers(self, low: int, high: int, *shape: int, device) -> torch.Tensor:
        """Integers in [low, high) of shape (rows, *shape)."""
        return torch.randint(low, high, (self.total, *shape), generator=self.generator,
                             device=device)[self.rows]

    def among(self, chosen: torch.Tensor) -> BatchDraws:
        """The draws for the chosen rows alone, `chosen` a bool mask over the global batch
        (ADA augments some images): numbered among the chosen, as one process numbers them."""
        position = chosen.cumsum(0) - 1  # each row's place among the chosen ones
        return BatchDraws(self.generator, int(chosen.sum()),
                          position[self.rows][chosen[self.rows]])


def world_from_env() -> World:
    """The world described by torchrun's environment variables (rank 0 of 1 without them)."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    return World(int(os.environ.get("RANK", "0")), size, int(os.environ.get("LOCAL_RANK", "0")))


def setup(world: World, device: torch.device) -> torch.device:
    """Join the process group (once); on CUDA each rank takes the GPU of its local rank."""
    if world.size == 1:
        return device
    import torch.distributed as dist

    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        kwargs = {"device_id": device} if device.type == "cuda" else {}
        dist.init_process_group(backend, rank=world.rank, world_size=world.size, **kwargs)
    return device


def teardown(world: World, wait: bool = True) -> None:
    """Leave the process group; with `wait`, only once every rank is done (rank 0 finishes
    last, writing pictures; a rank that tears gloo down early can abort the others)."""
    if world.size > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            if wait:
                dist.barrier()
            dist.destroy_process_group()


def broadcast_module(module: torch.nn.Module, world: World) -> None:
    """Copy rank 0's weights and buffers to every rank (identical starting points)."""
    if world.size == 1:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: torch.nn.Module, world: World,
                      extra: torch.Tensor | None = None) -> torch.Tensor | None:
    """Average the gradients of `module` across ranks with one all-reduce.

    `extra` (a small float tensor, e.g. a stop flag) rides along in the same all-reduce and is
    returned summed over ranks.
    """
    if world.size == 1:
        return extra
    import torch.distributed as dist

    grads = [p.grad for p in module.parameters() if p.grad is not None]
    parts = [g.reshape(-1) for g in grads]
    if extra is not None:
        parts.append(extra.to(parts[0].device if parts else extra.device, torch.float32))
    flat = torch.cat(parts)
    dist.all_reduce(flat)
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g)).div_(world.size)
        offset += g.numel()
    return flat[offset:] if extra is not None else None


def all_reduce_mean(tensor: torch.Tensor, world: World) -> torch.Tensor:
    """The mean of `tensor` over ranks (for logged metrics, so every rank decides alike)."""
    if world.size == 1:
        return tensor
    import torch.distributed as dist

    tensor = tensor.clone()
    dist.all_reduce(tensor)
    return tensor / world.size


def gather_cpu_tensor(tensor: torch.Tensor, world: World) -> list[torch.Tensor]:
    """Every rank's copy of a small CPU tensor (e.g. its RNG state), in rank order."""
    if world.size == 1:
        return [tensor]
    import torch.distributed as dist

    gathered: list = [None] * world.size
    dist.all_gather_object(gathered, tensor)
    return gathered


def sync_buffers(module: torch.nn.Module, world: World) -> None:
    """Rank 0's buffers (BatchNorm statistics) everywhere, as DDP's broadcast_buffers does."""
    if world.size == 1:
        return
    import torch.distributed as dist

    for buffer in module.buffers():
        dist.broadcast(buffer.data, src=0)


def rank_checksums(modules: list[torch.nn.Module], world: World) -> torch.Tensor:
    """(world size, 2) float64: every rank's sum and sum of squares of all weights.

    Called at each checkpoint on every rank; rows that differ mean the ranks drifted apart.
    """
    params = [p.detach().double() for m in modules for p in m.parameters()]
    mine = torch.stack([sum(p.sum() for p in params), sum(p.pow(2).sum() for p in params)])
    if world.size == 1:
        return mine.cpu().unsqueeze(0)
    import torch.distributed as dist

    gathered = [torch.empty_like(mine) for _ in range(world.size)]
    dist.all_gather(gathered, mine)
    return torch.stack(gathered).cpu()
