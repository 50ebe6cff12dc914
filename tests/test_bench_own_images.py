"""bench/own_images.py's reference side: dcgan.py's one dataset line pointed at the composited
folder, generator snapshots at CPU-time budgets with the batches done, samples drawn as dcgan.py
draws them. A stand-in dcgan.py (the real one is PyTorch-GAN's, not shipped) keeps the parts the
wrapper relies on: the options, the dataset call as written there, '# Loss function' after the
networks, and one printed line per batch."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]

STAND_IN = '''import argparse
import os
import torch
import torch.nn as nn
import torchvision.transforms as transforms
from torchvision import datasets

parser = argparse.ArgumentParser()
parser.add_argument("--n_epochs", type=int, default=200)
parser.add_argument("--latent_dim", type=int, default=100)
parser.add_argument("--img_size", type=int, default=32)
parser.add_argument("--channels", type=int, default=1)
opt = parser.parse_args()
print(opt)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = nn.Linear(opt.latent_dim, opt.channels * opt.img_size ** 2)

    def forward(self, z):
        return torch.tanh(self.l1(z)).view(-1, opt.channels, opt.img_size, opt.img_size)


# Loss function
generator = Generator()
dataloader = torch.utils.data.DataLoader(
    datasets.MNIST(
        "../../data/mnist",
        train=True,
        download=True,
        transform=transforms.Compose(
            [transforms.Resize(opt.img_size), transforms.ToTensor(), transforms.Normalize([0.5], [0.5])]
        ),
    ),
    batch_size=4,
    shuffle=True,
)
assert isinstance(dataloader.dataset, datasets.ImageFolder)
optimizer = torch.optim.SGD(generator.parameters(), lr=0.01)
for epoch in range(opt.n_epochs):
    for i, (imgs, _) in enumerate(dataloader):
        assert imgs.shape[1:] == (3, 32, 32), imgs.shape
        loss = (generator(torch.randn(len(imgs), opt.latent_dim)) - imgs).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        print("[Epoch %d] [Batch %d] [loss %f]" % (epoch, i, loss.item()))
'''


def _bench():
    spec = importlib.util.spec_from_file_location("own_images", ROOT / "bench" / "own_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reference_side_trains_on_the_folder_and_snapshots_by_cpu_time(tmp_path):
    bench = _bench()
    folder = tmp_path / "composited" / "all"
    folder.mkdir(parents=True)
    for i in range(8):
        Image.new("RGB", (32, 32), (30 * i, 255 - 30 * i, 128)).save(folder / f"{i}.png")
    dcgan_py = tmp_path / "dcgan.py"
    dcgan_py.write_text(STAND_IN)
    work = tmp_path / "work"
    work.mkdir()

    # The second budget lies well past importing torch and torchvision (2-4 CPU-s idle, more on a
    # loaded CI machine, where 4.0 once left no batch done).
    snapshots = bench.run_ref(dcgan_py, folder.parent, work, [1.0, 8.0], threads=1)

    assert [s["budget"] for s in snapshots] == [1.0, 8.0]
    assert all(s["cpu_s"] >= s["budget"] for s in snapshots)
    assert snapshots[1]["steps"] > snapshots[0]["steps"] >= 0  # batches done by each budget
    for s in snapshots:
        assert json.loads(Path(s["checkpoint"]).with_suffix(".json").read_text())["steps"] == \
            s["steps"]
    samples = bench.ref_samples(Path(snapshots[1]["checkpoint"]), 70, tmp_path / "ref.npz")
    images = np.load(samples)["images"]
    assert images.shape == (70, 3, 32, 32) and images.dtype == np.uint8
