"""`gantool sample`: throughput against G's bare forward pass, and peak memory of --n 50000.

1. Throughput: gantool.sampling.sample_array (noise, forward, uint8 conversion, copy into the
   output array) against the bare loop `for each batch: G(torch.randn(...))` in inference
   mode, same G, same batch size, alternating `--repeats` times. Target: within 10%.
2. Memory: peak RSS of `gantool sample --n 50000 --format npz --out FILE` minus that of
   `--n 500`, against the size of the output array. Target: the growth is the array, no more.

    python bench/bench_sample.py --arch mlp
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch


def make_run(root: Path, arch: str) -> Path:
    """A real (1-step) run to sample from, written by `gantool train`."""
    subprocess.run([sys.executable, "-m", "gantool", "train", "--arch", arch, "--steps", "1",
                    "--name", "bench", "--runs-root", str(root), "--device", "cpu"],
                   check=True, capture_output=True)
    return root / "bench"


def throughput(G, n: int, batch_size: int, repeats: int) -> tuple[float, float]:
    from gantool.sampling import sample_array

    def bare() -> None:
        gen = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                G(torch.randn(min(batch_size, n - start), G.z_dim, generator=gen))

    def ours() -> None:
        sample_array(G, n, seed=0, batch_size=batch_size)

    best = {bare: float("inf"), ours: float("inf")}
    bare(), ours()  # warm-up
    for _ in range(repeats):
        for fn in (bare, ours):
            start = time.perf_counter()
            fn()
            best[fn] = min(best[fn], time.perf_counter() - start)
    return n / best[bare], n / best[ours]


def peak_rss_mb(args: list[str]) -> float:
    """Peak resident memory (MiB) of one `gantool sample` process."""
    proc = subprocess.Popen([sys.executable, "-m", "gantool", "sample", *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(proc.stderr.read().decode())
    return usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from gantool.train.checkpoint import load_generator

    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp), args.arch)
        G, _ = load_generator(run)
        bare, ours = throughput(G, args.n, args.batch_size, args.repeats)
        print(f"arch {args.arch}, n {args.n}, batch {args.batch_size}, "
              f"torch threads {torch.get_num_threads()}")
        print(f"bare G forward:        {bare:9.0f} samples/s")
        print(f"gantool sample_array:  {ours:9.0f} samples/s")
        print(f"ratio sample / bare forward: {ours / bare:.3f} (target >= 0.90)")

        common = ["--run", str(run), "--format", "npz", "--batch-size", "500", "--force"]
        small = peak_rss_mb([*common, "--n", "500", "--out", f"{tmp}/small.npz"])
        large = peak_rss_mb([*common, "--n", "50000", "--out", f"{tmp}/large.npz"])
        array_mb = 50000 * G.sample_shape[0] * G.sample_shape[1] * G.sample_shape[2] / 2**20
        print(f"peak RSS --n 500: {small:.1f} MiB, --n 50000: {large:.1f} MiB, "
              f"growth {large - small:.1f} MiB for a {array_mb:.1f} MiB output array "
              f"(growth / array = {(large - small) / array_mb:.2f}, target <= 1.1)")


if __name__ == "__main__":
    main()
