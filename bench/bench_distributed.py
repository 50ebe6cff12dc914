"""Data-parallel scaling on CPU: 2 processes (torchrun, gloo) against 1 at the same global batch.

Both train the same model for the same steps on the same global batch; the 2-process run
splits each batch in halves. Every process gets --threads-per-process threads (default 1), so
two processes have twice the compute of one. Images/s are read from the runs' metrics.jsonl
after a warm-up window. Scaling efficiency = (2-process img/s) / (2 x 1-process img/s):
100% is perfect linear scaling.

    python bench/bench_distributed.py --arch mlp --batch-size 256
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path


def run(nproc: int, threads: int, args, root: Path) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    name = f"p{nproc}"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc_per_node={nproc}", "-m", "gantool", "train", "--arch", args.arch,
           "--dataset", args.dataset, "--batch-size", str(args.batch_size),
           "--steps", str(args.warmup + args.steps), "--log-every", str(args.warmup),
           "--sample-every", "1000000", "--checkpoint-every", "1000000", "--device", "cpu",
           "--runs-root", str(root), "--name", name]
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    records = [json.loads(line) for line in (root / name / "metrics.jsonl").read_text()
               .splitlines()]
    window = [r for r in records if r["step"] > args.warmup]
    seconds = sum(args.warmup * args.batch_size / r["img_per_s"] for r in window)
    return len(window) * args.warmup * args.batch_size / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--dataset", default="mnist-5k")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--threads-per-process", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        one = run(1, args.threads_per_process, args, Path(tmp))
        two = run(2, args.threads_per_process, args, Path(tmp))
    print(f"arch {args.arch}, global batch {args.batch_size}, {args.steps} steps, "
          f"{args.threads_per_process} thread(s) per process")
    print(f"1 process : {one:9.0f} img/s")
    print(f"2 processes: {two:9.0f} img/s")
    print(f"speed-up {two / one:.2f}x, scaling efficiency {two / one / 2:.0%}")


if __name__ == "__main__":
    main()
