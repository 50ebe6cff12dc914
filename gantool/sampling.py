"""Generating samples from a trained generator in bounded memory.

`generate` yields batches (float, model space: [-1, 1] images or raw points), so any `n` runs
with one batch in flight; `sample_array` fills a preallocated uint8 (N, H, W, C) array (or
float32 (N, D) for points) batch by batch, so `--n 50000` needs the output array and one batch,
nothing more. Latents come from a CPU generator seeded with `seed`: the same seed gives the
same samples on every device. A diverged generator (NaN or infinite weights or outputs) raises
GantoolError instead of producing NaN points or black images, and an output larger than the
memory available is refused before anything is allocated.

`truncation=t` is BigGAN's truncation trick (Brock et al. 2019, "Large Scale GAN Training for
High Fidelity Natural Image Synthesis", section 3.1): every latent entry outside [-t, t] is
drawn again from the same generator until none is left, which trades variety for fidelity.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch

from gantool.errors import GantoolError, UsageError
from gantool.memory import require_memory

# Below this, rejection needs ~1/P(|z| < t) ~ 1.25 / t draws per kept entry (125 at 0.01), and
# every z is so close to 0 that G draws one image over and over.
MIN_TRUNCATION = 0.01
MAX_DRAWS = 1 << 22  # fresh normals per redrawing round (16 MiB)


def check_truncation(truncation) -> float | None:
    """The truncation threshold as a float (None: no truncation); one UsageError line if bad."""
    if truncation is None:
        return None
    try:
        t = float(truncation)
    except (TypeError, ValueError):
        t = math.nan
    if not math.isfinite(t) or t <= 0:
        raise UsageError(f"--truncation must be a positive number (the bound on |z|, e.g. 0.7), "
                         f"got {truncation!r}")
    if t < MIN_TRUNCATION:
        raise UsageError(f"--truncation must be at least {MIN_TRUNCATION} (below it every "
                         f"latent is about 0 and drawing them takes ~1/t tries), got {t:g}")
    return t


def latent_noise(size: int, z_dim: int, generator: torch.Generator,
                 truncation: float | None = None) -> torch.Tensor:
    """(size, z_dim) from N(0, I); with `truncation` t, entries with |z| > t are redrawn from
    the same generator until none is left (so a seed still fixes the result)."""
    z = torch.randn(size, z_dim, generator=generator)
    if truncation is None:
        return z
    flat = z.view(-1)
    outside = (flat.abs() > truncation).nonzero().squeeze(1)
    kept_share = math.erf(truncation / math.sqrt(2))  # P(|z| <= t)
    while outside.numel():
        # Enough fresh draws to replace them all at once, usually: one round, not the
        # ~log(n) / P(|z| <= t) rounds of redrawing only the rejected entries (8 s at t=0.01).
        wanted = math.ceil(outside.numel() / kept_share * 1.1) + 16
        draws = torch.randn(min(wanted, MAX_DRAWS), generator=generator)
        kept = draws[draws.abs() <= truncation][:outside.numel()]
        flat[outside[:kept.numel()]] = kept
        outside = outside[kept.numel():]
    return z


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
             latents: torch.Tensor | None = None,
             truncation: float | None = None) -> Iterator[torch.Tensor]:
    """Yield `n` samples from G in batches of at most `batch_size`, in model space.

    `latents` (n, z_dim) replaces the random noise (interpolations use it; truncate them where
    they are drawn, as interpolation_latents does). `truncation`: see latent_noise.
    """
    if n < 1 or batch_size < 1:
        raise UsageError(f"n and batch size must be at least 1 (got {n}, {batch_size})")
    truncation = check_truncation(truncation)
    if latents is not None and truncation is not None:
        raise UsageError("truncation applies to drawn latents, not given ones: truncate them "
                         "where they are drawn")
    check_finite_weights(G)
    gen = torch.Generator().manual_seed(seed)
    device = torch.device(device)
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        if latents is not None:
            z = latents[start:start + size]
        else:
            z = latent_noise(size, G.z_dim, gen, truncation)
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
                 latents: torch.Tensor | None = None,
                 truncation: float | None = None) -> np.ndarray:
    """All `n` samples in one preallocated array: uint8 (N, H, W, C) images or float32 (N, D)."""
    shape = tuple(G.sample_shape)
    is_image = len(shape) == 3
    require_memory(output_bytes(G, n), f"{n:,} samples of shape {shape}")
    out = (np.empty((n, shape[1], shape[2], shape[0]), dtype=np.uint8) if is_image
           else np.empty((n, *shape), dtype=np.float32))
    target = torch.from_numpy(out)  # shares memory: batches are copied straight into `out`
    start = 0
    for batch in generate(G, n, seed=seed, batch_size=batch_size, device=device, labels=labels,
                          latents=latents, truncation=truncation):
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


def interpolation_latents(rows: int, columns: int, z_dim: int, seed: int,
                          truncation: float | None = None) -> torch.Tensor:
    """(rows * columns, z_dim): each row walks from one random latent to another.

    With `truncation`, the two ends are truncated; the spherical path between them is not
    clipped, so its middle can step outside [-t, t].
    """
    gen = torch.Generator().manual_seed(seed)
    ends = latent_noise(2 * rows, z_dim, gen, check_truncation(truncation))
    ends = ends.view(2, rows, 1, z_dim)  # the same draws, in the same order, as before
    t = torch.linspace(0, 1, columns).view(1, columns, 1)
    return slerp(ends[0], ends[1], t).reshape(rows * columns, z_dim)
