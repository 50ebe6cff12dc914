"""Training throughput of `gantool train` against a GAN loop written the common tutorial way.

Both train the same architecture (from gantool's registry) on the same 28x28 digits
(mnist-5k) at the same batch size, one D step then one G step per batch, Adam(2e-4, 0.5/0.999).

baseline: a torch Dataset of PIL images with per-image transforms (ToTensor, Normalize), a
          torchvision-style DataLoader(shuffle=True), D ending in a sigmoid with nn.BCELoss,
          the loss printed-style `.item()` every step, D's weight gradients computed in G's step.
gantool:  gantool.train.loop.train itself (data on the device as uint8, one index per batch,
          BCE-with-logits via softplus, no host syncs between logs, D frozen in G's step).

Images/s = real images per second through D and G steps, measured after a warm-up, in the
same process, alternating baseline and gantool `--repeats` times (best of each is printed).

    python bench/bench_train.py --arch mlp          # target: gantool >= 2x baseline
    python bench/bench_train.py --arch dcgan        # target: gantool >= 1.3x baseline
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn


def baseline_images_per_s(arch: str, batch_size: int, steps: int, warmup: int, device) -> float:
    import torchvision.transforms as T
    from PIL import Image
    from torch.utils.data import DataLoader
    from torch.utils.data import Dataset as TorchDataset

    from gantool.data import load_dataset
    from gantool.train.checkpoint import build_models

    digits = load_dataset("mnist-5k").data[:, 0].numpy()  # (N, 28, 28) uint8

    class Digits(TorchDataset):
        transform = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])

        def __len__(self):
            return len(digits)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(digits[i], mode="L")), 0

    loader = DataLoader(Digits(), batch_size=batch_size, shuffle=True, drop_last=True)
    torch.manual_seed(0)
    G, D = build_models({"name": arch, "kwargs": {"sample_shape": [1, 28, 28]}})
    D = nn.Sequential(D, nn.Sigmoid()).to(device)  # the tutorial's D outputs a probability
    G = G.to(device)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    done, start = 0, None
    while done < warmup + steps:
        for real, _ in loader:
            if done == warmup:
                _sync(device)
                start = time.perf_counter()
            if done == warmup + steps:
                break
            real = real.to(device)
            ones = torch.ones(len(real), device=device)
            zeros = torch.zeros(len(real), device=device)
            z = torch.randn(len(real), G.z_dim, device=device)
            fake = G(z)
            opt_d.zero_grad()
            loss_d = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
            loss_d.backward()
            opt_d.step()
            opt_g.zero_grad()
            loss_g = criterion(D(fake), ones)
            loss_g.backward()
            opt_g.step()
            _ = (loss_d.item(), loss_g.item())  # what tutorials print every step
            done += 1
    _sync(device)
    return steps * batch_size / (time.perf_counter() - start)


def gantool_images_per_s(arch: str, batch_size: int, steps: int, warmup: int, device,
                         amp: bool = False, compile: bool = False) -> float:
    from gantool.train.config import build_config
    from gantool.train.loop import train
    from gantool.train.progress import Reporter

    with tempfile.TemporaryDirectory() as tmp:
        # One log at the end of the warm-up, one at the end: the second window is steady state.
        total = warmup + steps
        config = build_config({}, {"arch": arch, "batch_size": batch_size, "steps": total,
                                   "log_every": warmup, "sample_every": 10**9,
                                   "checkpoint_every": 10**9, "runs_root": tmp, "name": "b",
                                   "device": str(device), "amp": amp, "compile": compile})
        if steps % warmup:
            raise SystemExit("--steps must be a multiple of --warmup")
        run = train(config, reporter=Reporter(enabled=False))
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().split("\n")
                   if line]
        measured = [r for r in records if r["step"] > warmup]
        # img_per_s of each window after the warm-up, weighted by its steps
        seconds = sum(warmup * batch_size / r["img_per_s"] for r in measured)
        return len(measured) * warmup * batch_size / seconds


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="mlp")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="gantool side: bf16 autocast (CUDA)")
    parser.add_argument("--compile", action="store_true", help="gantool side: torch.compile")
    args = parser.parse_args()
    device = torch.device(args.device)
    base, ours = [], []
    for _ in range(args.repeats):
        base.append(baseline_images_per_s(args.arch, args.batch_size, args.steps, args.warmup,
                                          device))
        ours.append(gantool_images_per_s(args.arch, args.batch_size, args.steps, args.warmup,
                                         device, args.amp, args.compile))
    print(f"arch {args.arch}, batch {args.batch_size}, {args.steps} steps, device {device}, "
          f"torch threads {torch.get_num_threads()}, amp {args.amp}, compile {args.compile}")
    print(f"baseline (DataLoader + per-image transforms + BCELoss): {max(base):9.0f} img/s "
          f"(runs: {', '.join(f'{b:.0f}' for b in base)})")
    print(f"gantool train loop:                                    {max(ours):9.0f} img/s "
          f"(runs: {', '.join(f'{o:.0f}' for o in ours)})")
    print(f"ratio gantool / baseline: {max(ours) / max(base):.2f}x")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
