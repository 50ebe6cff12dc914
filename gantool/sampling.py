"""Generating samples from a trained generator in bounded memory.

`generate` yields batches (float, model space: [-1, 1] images or raw points), so any `n` runs
with one batch in flight; `sample_array` fills a preallocated uint8 (N, H, W, C) array (or
float32 (N, D) for points) batch by batch, so `--n 50000` needs the output array and one batch,
nothing more. Latents come from a CPU generator seeded with `seed`: the same seed gives the
same samples on every device. A diverged generator (NaN or infinite weights or outputs) raises
GantoolError instead of producing NaN points or black images, and an output larger than the
memory available is refused before anything is allocated.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from gantool.errors import GantoolError, UsageError
from gantool.memory import require_memory


def class_labels(G, n: int, class_index: int | None = None) -> torch.Tensor | None:
    """Labels for a conditional G: all `class_index`, or cycling 0, 1, ..., K-1; None if
    G is unconditional."""
    k = getattr(G, "num_classes", 0)
    if not k:
        if class_index is not None:
            raise UsageError("--class needs a class-conditional model (train with --conditional)")
        return None
    if class_index is None:
        return torch.arange(n) % k
    if not 0 <= class_index < k:
        raise UsageError(f"--class must be in 0..{k - 1} for this model, got {class_index}")
    return torch.full((n,), class_index, dtype=torch.long)


def generate(G, n: int, *, seed: int = 0, batch_size: int = 500, device="cpu",
             labels: torch.Tensor | None = None,
             latents: torch.Tensor | None = None) -> Iterator[torch.Tensor]:
    """Yield `n` samples from G in batches of at most `batch_size`, in model space.

    `latents` (n, z_dim) replaces the random noise (interpolations use it).
    """
    if n < 1 or batch_size < 1:
        raise UsageError(f"n and batch size must be at least 1 (got {n}, {batch_size})")
    check_finite_weights(G)
    gen = torch.Generator().manual_seed(seed)
    device = torch.device(device)
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        if latents is not None:
            z = latents[start:start + size]
        else:
            z = torch.randn(size, G.z_dim, generator=gen)
        z = z.to(device, non_blocking=True)
        y = labels[start:start + size].to(device) if labels is not None else None
        # no_grad, not inference_mode: the yielded tensors are ordinary ones, and the caller's
        # code between batches runs in whatever mode it chose (a yield inside the block would
        # run it in inference mode).
        with torch.no_grad():
            out = G(z, y)
        if not bool(torch.isfinite(out).all()):
            raise GantoolError(
                f"the generator produced non-finite values (NaN or inf) in samples "
                f"{start}..{start + size - 1}: the model has diverged; use an earlier checkpoint"
            )
        yield out


def check_finite_weights(G) -> None:
    """GantoolError naming the first parameter or buffer of G that holds NaN or inf."""
    for name, tensor in [*G.named_parameters(), *G.named_buffers()]:
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise GantoolError(
                f"the generator's weights hold NaN or infinite values ({name}): the run "
                "diverged; use an earlier checkpoint"
            )


def output_bytes(G, n: int) -> int:
    """Bytes of sample_array's output for `n` samples: uint8 images or float32 points."""
    per_sample = 1
    for size in G.sample_shape:
        per_sample *= int(size)
    return n * per_sample * (1 if len(G.sample_shape) == 3 else 4)


def to_uint8_nhwc(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] (N, C, H, W) -> uint8 (N, H, W, C), converted on x's device."""
    return x.add(1).mul_(127.5).clamp_(0, 255).round_().to(torch.uint8).permute(0, 2, 3, 1)


def sample_array(G, n: int, *, seed: int = 0, batch_size: int = 500, device="cpu",
                 labels: torch.Tensor | None = None,
                 latents: torch.Tensor | None = None) -> np.ndarray:
    """All `n` samples in one preallocated array: uint8 (N, H, W, C) images or float32 (N, D)."""
    shape = tuple(G.sample_shape)
    is_image = len(shape) == 3
    require_memory(output_bytes(G, n), f"{n:,} samples of shape {shape}")
    out = (np.empty((n, shape[1], shape[2], shape[0]), dtype=np.uint8) if is_image
           else np.empty((n, *shape), dtype=np.float32))
    target = torch.from_numpy(out)  # shares memory: batches are copied straight into `out`
    start = 0
    for batch in generate(G, n, seed=seed, batch_size=batch_size, device=device, labels=labels,
                          latents=latents):
        converted = to_uint8_nhwc(batch) if is_image else batch.float()
        target[start:start + len(batch)].copy_(converted)
        start += len(batch)
    return out


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between rows of a and b (Gaussian latents live near a sphere)."""
    a_n, b_n = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


def interpolation_latents(rows: int, columns: int, z_dim: int, seed: int) -> torch.Tensor:
    """(rows * columns, z_dim): each row walks from one random latent to another."""
    gen = torch.Generator().manual_seed(seed)
    ends = torch.randn(2, rows, 1, z_dim, generator=gen)
    t = torch.linspace(0, 1, columns).view(1, columns, 1)
    return slerp(ends[0], ends[1], t).reshape(rows * columns, z_dim)
