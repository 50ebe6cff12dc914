"""Recipes (registry kind "recipe"): named groups of training options, `--recipe NAME`.

A recipe is a dict of TrainConfig option names -> values, plus the paper it follows and what
it changes from that paper. Precedence: defaults <- recipe <- TOML file <- flags, so any single
option of a recipe can still be overridden. docs/train.md (recipes) lists the papers' numbers
and ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gantool import registry


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    paper: str
    options: dict[str, Any] = field(default_factory=dict)
    deviations: str = ""  # what differs from the paper, and why


def recipe(name: str) -> Recipe:
    """The recipe registered as `name` (an unknown name is a UsageError naming the known ones)."""
    return registry.get("recipe", name).factory()


def _register(entry: Recipe) -> None:
    registry.register("recipe", entry.name, entry.description)(lambda: entry)


_register(Recipe(
    "lecture",
    "the original GAN: fully connected G and D, the minimax loss (the lecture's game)",
    "Goodfellow et al. 2014, Generative Adversarial Nets (networks and optimiser as in "
    "PyTorch-GAN implementations/gan/gan.py)",
    {"arch": "mlp", "loss": "minimax", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
     "beta2": 0.999, "batch_size": 64, "z_dim": 100, "d_steps": 1},
    "gan.py trains G with BCE against 'real' labels, i.e. the non-saturating loss; the recipe "
    "keeps the paper's minimax loss log(1 - D(G(z))) so its diminished gradient can be seen "
    "(use --loss non-saturating for gan.py's objective)",
))

_register(Recipe(
    "dcgan",
    "DCGAN: strided-conv G and D with BatchNorm, Adam(2e-4, beta1 0.5), batch 128",
    "Radford, Metz & Chintala 2015, Unsupervised Representation Learning with Deep "
    "Convolutional GANs",
    {"arch": "dcgan", "arch_options": {"width": 64}, "spectral_norm": False, "ema_kimg": 0.0,
     "loss": "non-saturating", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
     "batch_size": 128, "z_dim": 100, "d_steps": 1, "steps": 7000},
))

_register(Recipe(
    "r3gan",
    "R3GAN: relativistic pairing loss with R1 and R2, normalisation-free residual nets, EMA",
    "Huang, Gokaslan, Kuleshov & Tompkin 2024, The GAN is dead; long live the GAN! A Modern "
    "Baseline GAN (R3GAN), CIFAR-10 preset",
    {"arch": "r3gan", "loss": "relativistic", "r1": 0.05, "r2": 0.05, "lr_g": 2e-4,
     "lr_d": 2e-4, "beta1": 0.0, "beta2": 0.99, "batch_size": 64, "z_dim": 64,
     "image_size": 32, "ema_kimg": 10.0, "ada": True},
    "the paper trains with batch 512 for 20M images and anneals lr (2e-4 -> 5e-5), gamma "
    "(0.05 -> 0.005), Adam beta2 (0.9 -> 0.99) and the EMA half-life (0 -> 5000 kimg) over "
    "them; a CPU run sees about 1000x fewer images, so the recipe keeps the values fixed, "
    "with a 10 kimg EMA half-life and batch 64; it uses ADA (target 0.6) where R3GAN ramps "
    "a fixed augmentation probability to 0.55; gamma 0.05 is CIFAR-10's (R3GAN: FFHQ-64 "
    "uses 2, FFHQ-256 150: pass --r1/--r2 for larger images)",
))

_register(Recipe(
    "own-images",
    "your own colour images at 32-64 px on a CPU: DCGAN at width 32, spectrally normalised D, "
    "DiffAugment, an EMA of G",
    "Radford et al. 2015 (DCGAN networks), Miyato et al. 2018 (spectral normalisation), "
    "Zhao et al. 2020 (DiffAugment: colour, translation, cutout), Karras et al. 2019 (EMA); "
    "chosen by a screen at equal CPU time on 3,786 emoji (bench/own_images.py, "
    "docs/howto/own-images.md)",
    {"arch": "dcgan", "arch_options": {"width": 32}, "spectral_norm": True, "ema_kimg": 10.0,
     "augment": True, "loss": "non-saturating", "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5,
     "beta2": 0.999, "batch_size": 64, "z_dim": 100, "d_steps": 1, "steps": 7000},
    "width 32 where DCGAN uses 64: on a CPU the narrower pair makes 3.3x the steps in the same "
    "CPU time and scored better at 300 CPU-seconds (FID 31 vs 52 in the folder's own "
    "features); DiffAugment because a few thousand images are small data for D",
))
