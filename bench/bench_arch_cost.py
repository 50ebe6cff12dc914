"""What one training step costs per architecture: r3gan at several widths against dcgan.

A step is what `gantool train`'s loop does per step (the update rule's iterate: a D step and a
G step, the EMA update), built by the training code itself from the options below, on random
3-channel images (the contents do not change the cost). r3gan trains with its recipe (`--recipe
r3gan`: relativistic loss, R1 = R2 = 0.05 with their double backward, batch 64, z 64, 10 kimg
EMA) at `width` 256, 128, 64, 32 with `min_width` = width / 8 (the default's ratio, 256 / 32)
and 1 or 2 blocks per resolution; ADA is left off (--ada adds it; at its start, p = 0, it costs
little). dcgan trains with `gantool train --arch dcgan`'s defaults (spectral-norm D,
non-saturating loss, no penalty) at width 32 and 64 (its default at 32 and 64 px).

Each (architecture, size, precision) is timed for --steps steps after --warmup steps; its
figure is the median step. The whole table is measured --repeats times, the configurations
interleaved, and the minimum of the medians is kept, so load from other processes on a shared
machine inflates the figures less; process CPU time per step is printed beside the wall time
(it counts the cores a step used, whoever else was running, so it is steadier on a busy
machine), and the load average at the start and end. `x dcgan` divides by dcgan at width 64 and the same size and
precision, measured in the same run. bf16 is `--amp` (bfloat16 autocast): measured only where
`gantool train --amp` uses it (CUDA, or a CPU with AVX512-BF16/AMX); elsewhere --amp trains in
float32 and the column says n/a (--force-bf16 times CPU autocast anyway).

    python bench/bench_arch_cost.py --json bench/results/arch_cost.json
    python bench/bench_arch_cost.py --sizes 32 --widths 64,32 --blocks 1 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from gantool.train import setup
from gantool.train.config import build_config
from gantool.train.distributed import World

BATCH = 64
IMAGES = 256  # four batches: epochs turn over during the timing, as in a real run
BASELINE_WIDTH = 64  # dcgan's default width at 32 and 64 px


def configs(sizes, widths, blocks, dcgan_widths):
    """(label, options for build_config) per configuration, dcgan first at each size."""
    for size in sizes:
        for width in dcgan_widths:
            yield ("dcgan", size, width, None, None), {"arch": "dcgan",
                                                       "arch_options": {"width": width}}
        for width in widths:
            for n in blocks:
                options = {"width": width, "min_width": max(1, width // 8), "blocks": n}
                yield ("r3gan", size, width, width // 8, n), {
                    "recipe": "r3gan", "arch_options": options}


def build_step(options: dict, data: Path, size: int, *, bf16: bool, ada: bool, device):
    """A training run's parts from the same options the CLI would pass, and its step."""
    cli = {"dataset": "array", "data_root": str(data), "image_size": size, "channels": 3,
           "batch_size": BATCH, "device": str(device), "amp": bf16, "tensorboard": False,
           **({"ada": ada} if options.get("recipe") else {}), **options}
    run = setup.build(build_config({}, cli), World(), device, warn=lambda message: None)
    state = run.state
    state.stop_flag = torch.tensor([0.0])

    def step():
        state.rule.iterate(state, run.objective)
        state.step += 1

    params = (sum(p.numel() for p in state.G.parameters()),
              sum(p.numel() for p in state.D.parameters()))
    return step, params


def time_steps(step, warmup: int, steps: int, device) -> dict[str, float]:
    """The median wall-clock and process CPU seconds of `steps` steps after `warmup` untimed
    ones. CPU time is what a step costs when other processes take turns on the cores (it
    also counts the threads' waits for each other)."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    wall, cpu = [], []
    for _ in range(steps):
        sync()
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return {"wall": statistics.median(wall), "cpu": statistics.median(cpu)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="32,64", help="image sizes, px")
    parser.add_argument("--widths", default="256,128,64,32", help="r3gan widths")
    parser.add_argument("--blocks", default="1,2", help="r3gan blocks per resolution")
    parser.add_argument("--dcgan-widths", default="32,64")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per measurement")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per measurement")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds (min kept)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--ada", action="store_true", help="r3gan with the recipe's ADA")
    parser.add_argument("--force-bf16", action="store_true",
                        help="time bf16 autocast even where gantool train --amp would not use it")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    ints = lambda text: [int(v) for v in text.split(",") if v]  # noqa: E731
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    bf16_used = setup._bf16_autocast_runs_on(device)
    precisions = ["fp32", "bf16"] if bf16_used or args.force_bf16 else ["fp32"]
    if args.force_bf16:
        setup._bf16_autocast_runs_on = lambda device: True

    plan = list(configs(ints(args.sizes), ints(args.widths), ints(args.blocks),
                        ints(args.dcgan_widths)))
    best: dict[tuple, float] = {}  # (*label, precision, "wall" | "cpu") -> seconds
    params: dict[tuple, tuple[int, int]] = {}
    load = [os.getloadavg()[0]]  # the machine may be shared: say how busy it was
    with tempfile.TemporaryDirectory() as tmp:
        data = {}
        for size in ints(args.sizes):
            data[size] = Path(tmp) / f"images{size}.npy"
            rng = np.random.default_rng(0)
            np.save(data[size], rng.integers(0, 256, (IMAGES, size, size, 3), dtype=np.uint8))
        for round_ in range(args.repeats):
            for label, options in plan:
                for precision in precisions:
                    step, params[label] = build_step(options, data[label[1]], label[1],
                                                     bf16=precision == "bf16", ada=args.ada,
                                                     device=device)
                    seconds = time_steps(step, args.warmup, args.steps, device)
                    for clock, value in seconds.items():
                        key = (*label, precision, clock)
                        best[key] = min(best.get(key, float("inf")), value)
                    print(f"round {round_ + 1}/{args.repeats} {label} {precision}: "
                          f"{1000 * seconds['wall']:.0f} ms wall, {1000 * seconds['cpu']:.0f} "
                          f"ms CPU per step, load average {os.getloadavg()[0]:.1f}",
                          file=sys.stderr, flush=True)
    load.append(os.getloadavg()[0])

    rows = table(plan, precisions, best, params)
    header = (f"ms per training step (D step + G step, batch {BATCH}, 3 channels) on "
              f"{device.type} ({os.cpu_count()} cores; 1-minute load average {load[0]:.1f} at "
              f"the start, {load[1]:.1f} at the end), {args.threads} torch threads, torch "
              f"{torch.__version__}; median of {args.steps} steps after {args.warmup} "
              f"warm-up, min over {args.repeats} interleaved rounds")
    print(header)
    print_table(rows, precisions)
    if "bf16" not in precisions:
        print(f"bf16: n/a, this {device.type} has no bf16 autocast; gantool train --amp "
              "trains in float32 here")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"header": header, "argv": sys.argv[1:],
                                         "load_average": load, "bf16_used_by_amp": bf16_used,
                                         "rows": rows}, indent=1) + "\n")


def table(plan, precisions, best, params) -> list[dict]:
    rows = []
    for label in (label for label, _ in plan):
        arch, size, width, min_width, blocks = label
        row = {"arch": arch, "size": size, "width": width, "min_width": min_width,
               "blocks": blocks, "params_g": params[label][0], "params_d": params[label][1]}
        for precision in precisions:
            for clock in ("wall", "cpu"):
                seconds = best[(*label, precision, clock)]
                base = best.get(("dcgan", size, BASELINE_WIDTH, None, None, precision, clock))
                row[f"{precision}_{clock}_ms"] = round(1000 * seconds, 1)
                row[f"{precision}_{clock}_x_dcgan"] = round(seconds / base, 1) if base else None
        rows.append(row)
    return rows


def print_table(rows: list[dict], precisions: list[str]) -> None:
    columns = ["arch", "px", "width", "min_width", "blocks", "params G+D"]
    for precision in precisions:
        columns += [f"{precision} wall ms", "x dcgan", f"{precision} CPU ms", "x dcgan"]
    lines = [columns]
    for r in rows:
        line = [r["arch"], str(r["size"]), str(r["width"]),
                "" if r["min_width"] is None else str(r["min_width"]),
                "" if r["blocks"] is None else str(r["blocks"]),
                f"{(r['params_g'] + r['params_d']) / 1e6:.2f} M"]
        for precision in precisions:
            for clock in ("wall", "cpu"):
                ratio = r[f"{precision}_{clock}_x_dcgan"]
                line += [f"{r[f'{precision}_{clock}_ms']:.0f}",
                         "" if ratio is None else f"{ratio:.1f}x"]
        lines.append(line)
    widths = [max(len(line[i]) for line in lines) for i in range(len(columns))]
    for line in lines:
        print(" | ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()
