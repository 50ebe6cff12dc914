"""Training throughput of `gantool train` against the reference's own code, in one script.

1. gan.py: PyTorch-GAN's implementations/gan/gan.py run AS WRITTEN (its networks, its
   DataLoader over torchvision's MNIST, its loop and per-step print), as a whole process, against
   `gantool train --arch gan-mlp` (the same two networks, parameter for parameter) on the same
   10,000 digits, batch 64, Adam 2e-4 (0.5, 0.999). Each side's speed is the marginal cost of
   3 more epochs (a 4-epoch process minus a 1-epoch one), so start-up and imports cancel; the
   minimum over interleaved repeats is kept. gan.py is not shipped with gantool: pass the file
   (a checkout of github.com/eriklindernoren/PyTorch-GAN) with --gan-py. The digits are the
   MNIST test images (../shared/data/mnist), laid out under the file names gan.py reads.
2. mlp (gantool's default architecture): a loop written the common tutorial way (a Dataset of
   PIL images with per-image transforms, DataLoader(shuffle=True), sigmoid + nn.BCELoss,
   `.item()` every step) against gantool's loop on the same networks, in this process.

    python bench/bench_train.py --gan-py ~/PyTorch-GAN/implementations/gan/gan.py
    python bench/bench_train.py --skip-gan-py --arch dcgan
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
DIGITS = 10_000


# ---- 1. gan.py as written vs gantool on gan.py's networks (whole processes)
def lay_out_mnist(work: Path) -> Path:
    """gan.py reads ../../data/mnist/MNIST/raw/train-*-ubyte relative to where it runs
    (torchvision checks that the t10k files are there too, so both names hold the 10,000)."""
    raw = work / "data" / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        for kind in ("images-idx3", "labels-idx1"):
            with gzip.open(MNIST / f"t10k-{kind}-ubyte.gz") as src, \
                    open(raw / f"{split}-{kind}-ubyte", "wb") as dst:
                shutil.copyfileobj(src, dst)
    run_in = work / "implementations" / "gan"
    run_in.mkdir(parents=True)
    return run_in


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return time.perf_counter() - start


def gan_py_vs_gantool(gan_py: Path, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_in = lay_out_mnist(Path(tmp))
        shutil.copy(gan_py, run_in / "gan.py")

        def ref(epochs):
            return [sys.executable, "gan.py", "--n_epochs", str(epochs)]

        def ours(epochs, name):
            return [sys.executable, "-m", "gantool", "train", "--arch", "gan-mlp", "--dataset",
                    "mnist", "--data-root", str(MNIST), "--epochs",
                    str(epochs), "--runs-root", str(Path(tmp) / "runs"), "--name", name]

        times = {key: [] for key in ("ref1", "ref4", "ours1", "ours4")}
        for i in range(repeats):  # interleaved, so load changes hit both sides alike
            times["ref1"].append(timed(ref(1), run_in))
            times["ours1"].append(timed(ours(1, f"a{i}"), run_in))
            times["ref4"].append(timed(ref(4), run_in))
            times["ours4"].append(timed(ours(4, f"b{i}"), run_in))
        # gan.py keeps the last partial batch (10,000 images an epoch); gantool drops it (9,984).
        ref_rate = 3 * DIGITS / (min(times["ref4"]) - min(times["ref1"]))
        our_rate = 3 * (DIGITS // 64 * 64) / (min(times["ours4"]) - min(times["ours1"]))
        print(f"gan.py as written (3 epochs marginal): {ref_rate:8.0f} img/s   "
              f"(runs 1 epoch {_fmt(times['ref1'])} s, 4 epochs {_fmt(times['ref4'])} s)")
        print(f"gantool --arch gan-mlp:                {our_rate:8.0f} img/s   "
              f"(runs 1 epoch {_fmt(times['ours1'])} s, 4 epochs {_fmt(times['ours4'])} s)")
        print(f"ratio gantool / gan.py: {our_rate / ref_rate:.2f}x")


def _fmt(values) -> str:
    return "/".join(f"{v:.1f}" for v in values)


# ---- 2. the default mlp: a tutorial loop vs gantool's loop (this process)
def tutorial_images_per_s(arch: str, batch_size: int, steps: int, warmup: int, device) -> float:
    import torchvision.transforms as T
    from PIL import Image
    from torch.utils.data import DataLoader
    from torch.utils.data import Dataset as TorchDataset

    from gantool import registry
    from gantool.data import load_dataset

    digits = load_dataset("mnist-5k").data[:, 0].numpy()  # (N, 28, 28) uint8

    class Digits(TorchDataset):
        transform = T.Compose([T.ToTensor(), T.Normalize((0.5,), (0.5,))])

        def __len__(self):
            return len(digits)

        def __getitem__(self, i):
            return self.transform(Image.fromarray(digits[i], mode="L")), 0

    loader = DataLoader(Digits(), batch_size=batch_size, shuffle=True, drop_last=True)
    torch.manual_seed(0)
    G, D = registry.create("architecture", arch, sample_shape=(1, 28, 28))
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
            fake = G(torch.randn(len(real), G.z_dim, device=device))
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

    if steps % warmup:
        raise SystemExit("--steps must be a multiple of --warmup")
    with tempfile.TemporaryDirectory() as tmp:
        # A log line every `warmup` steps: the windows after the first are steady state.
        config = build_config({}, {"arch": arch, "batch_size": batch_size,
                                   "steps": warmup + steps, "log_every": warmup,
                                   "sample_every": 10**9, "checkpoint_every": 10**9,
                                   "runs_root": tmp, "name": "b", "device": str(device),
                                   "amp": amp, "compile": compile})
        run = train(config, reporter=Reporter(enabled=False))
        records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().split("\n")
                   if line]
        measured = [r for r in records if r["step"] > warmup]
        seconds = sum(warmup * batch_size / r["img_per_s"] for r in measured)
        return len(measured) * warmup * batch_size / seconds


def floor_images_per_s(arch: str, batch_size: int, steps: int, warmup: int, device) -> float:
    """The arithmetic gantool's loop must do, with nothing else: one real batch made once, D on
    real and fake in one pass, G's step reusing those fakes with D's weights frozen, fused Adam,
    no logging, no host syncs. No loop computing the same updates can beat it, so its ratio to
    the tutorial loop is the ceiling of gantool's."""
    import torch.nn.functional as F

    from gantool import registry
    from gantool.data import load_dataset

    digits = load_dataset("mnist-5k")
    real = digits.to_model(digits.data[:batch_size]).to(device)
    torch.manual_seed(0)
    G, D = (m.to(device) for m in registry.create("architecture", arch, sample_shape=(1, 28, 28)))
    fused = {"fused": True} if torch.device(device).type in ("cpu", "cuda") else {}
    opt_d = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), **fused)
    opt_g = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), **fused)
    for done in range(warmup + steps):
        if done == warmup:
            _sync(device)
            start = time.perf_counter()
        fake = G(torch.randn(batch_size, G.z_dim, device=device))
        logits = D(torch.cat([real, fake.detach()]))
        loss_d = F.softplus(-logits[:batch_size]).mean() + F.softplus(logits[batch_size:]).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()
        D.requires_grad_(False)
        loss_g = F.softplus(-D(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        D.requires_grad_(True)
    _sync(device)
    return steps * batch_size / (time.perf_counter() - start)


def _sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gan-py", type=Path, default=os.environ.get("GAN_PY"),
                        help="PyTorch-GAN's implementations/gan/gan.py (or $GAN_PY)")
    parser.add_argument("--skip-gan-py", action="store_true")
    parser.add_argument("--arch", default="mlp", help="architecture for the tutorial comparison")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="gantool side: bf16 autocast")
    parser.add_argument("--compile", action="store_true", help="gantool side: torch.compile")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {args.device}")
    if not args.skip_gan_py:
        if args.gan_py is None or not args.gan_py.is_file():
            raise SystemExit("bench_train: give --gan-py PATH to PyTorch-GAN's "
                             "implementations/gan/gan.py (or --skip-gan-py)")
        gan_py_vs_gantool(args.gan_py, args.repeats)
    device = torch.device(args.device)
    base, ours, floor = [], [], []
    for _ in range(args.repeats):
        floor.append(floor_images_per_s(args.arch, args.batch_size, args.steps, args.warmup,
                                        device))
        base.append(tutorial_images_per_s(args.arch, args.batch_size, args.steps, args.warmup,
                                          device))
        ours.append(gantool_images_per_s(args.arch, args.batch_size, args.steps, args.warmup,
                                         device, args.amp, args.compile))
    print(f"{args.arch}, batch {args.batch_size}, amp {args.amp}, compile {args.compile}:")
    print(f"tutorial loop (DataLoader + per-image transforms + BCELoss): {max(base):8.0f} img/s "
          f"(runs: {', '.join(f'{b:.0f}' for b in base)})")
    print(f"gantool train loop:                                         {max(ours):8.0f} img/s "
          f"(runs: {', '.join(f'{o:.0f}' for o in ours)})")
    print(f"arithmetic floor (the same updates, nothing else):          {max(floor):8.0f} img/s "
          f"(runs: {', '.join(f'{f:.0f}' for f in floor)})")
    print(f"ratio gantool / tutorial: {max(ours) / max(base):.2f}x; the ceiling, floor / "
          f"tutorial: {max(floor) / max(base):.2f}x; gantool reaches "
          f"{max(ours) / max(floor):.0%} of the floor")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
