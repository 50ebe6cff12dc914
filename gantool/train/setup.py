"""From a TrainConfig to the parts of a run: data, networks, optimisers, objective, update rule,
failure monitor and fixed latents, assembled into a TrainingState.

Everything needed to rebuild the networks is the architecture's factory kwargs, which go into
every checkpoint (`arch`); everything the run directory records about the options is `resolved`.
"""

from __future__ import annotations

import copy
from contextlib import nullcontext
from dataclasses import dataclass

import torch

from gantool import registry
from gantool.errors import UsageError
from gantool.train import checkpoint as ckpt
from gantool.train import distributed as dist
from gantool.train.augment import diff_augment
from gantool.train.batches import BatchStream
from gantool.train.config import DEFAULT_STEPS, TrainConfig
from gantool.train.diagnostics import (
    DIGIT_DATASETS,
    DigitProbe,
    FailureMonitor,
    digit_histogram,
    pairwise_diversity,
    untrained_until,
    within_class_diversity,
)
from gantool.train.distributed import World
from gantool.train.metrics_log import MetricsLog
from gantool.train.objective import Objective, check_penalties
from gantool.train.state import TrainingState, reseed_global

FIXED_SAMPLES_IMAGES = 64  # an 8x8 grid, like the lecture's figure
FIXED_SAMPLES_POINTS = 1000  # enough points to see (and count) the modes of a 2-D mixture
DIAG_SAMPLES_IMAGES = 256


@dataclass
class Fixed:
    """Latents drawn once from their own generator: the sample grids and the monitor's probe."""

    z: torch.Tensor
    y: torch.Tensor | None
    n_grid: int
    n_probe: int

    def grid(self):
        return self.z[:self.n_grid], None if self.y is None else self.y[:self.n_grid]

    def probe(self):
        return self.z[:self.n_probe], None if self.y is None else self.y[:self.n_probe]


@dataclass
class Run:
    config: TrainConfig
    dataset: object
    state: TrainingState
    objective: Objective
    fixed: Fixed
    arch: dict  # {"name", "kwargs"}: what rebuilds G and D
    resolved: dict  # every option as resolved, for config.json and checkpoints
    data_info: dict
    total: int


R3GAN_CPU_WIDTH = 64  # above this r3gan costs well over 7 dcgan steps a step on a CPU


def cpu_cost_note(arch: str, arch_options: dict, device: torch.device) -> str | None:
    """A warning for a network sized for a GPU on a CPU (docs/models.md's cost table): r3gan
    at its paper widths trains a few steps a minute there, and nothing else would say so."""
    width = arch_options.get("width", 256)
    if arch != "r3gan" or device.type != "cpu" or width <= R3GAN_CPU_WIDTH:
        return None
    return (f"r3gan at width {width} is sized for a GPU: on a CPU one step costs many dcgan "
            "steps (width 32 with 1 block already 2.7, docs/models.md); on a CPU use --recipe "
            "own-images, or --arch-opt width=32 --arch-opt min_width=4 --arch-opt blocks=1")


def build(c: TrainConfig, world: World, device: torch.device, warn) -> Run:
    torch.manual_seed(c.seed)  # the same on every rank: identical initial weights
    dataset = _load_data(c)
    if c.conditional and dataset.num_classes == 0:
        raise UsageError(f"--conditional needs labelled data; dataset {c.dataset!r} has none")
    batches = _batch_stream(dataset, c, device, world)
    if batches.steps_per_epoch == 0:
        raise UsageError(f"--batch-size {c.batch_size} is larger than the dataset "
                         f"({len(dataset)} samples)")
    total = c.steps or (c.epochs * batches.steps_per_epoch if c.epochs else DEFAULT_STEPS)

    num_classes = dataset.num_classes if c.conditional else 0
    arch = {"name": c.arch, "kwargs": {**(c.arch_options or {}),
                                       "sample_shape": list(dataset.sample_shape),
                                       "z_dim": c.z_dim, "num_classes": num_classes,
                                       "spectral_norm": c.spectral_norm}}
    G, D = ckpt.build_models(arch)
    arch["kwargs"]["z_dim"] = G.z_dim
    loss = registry.create("loss", c.loss)
    gp = c.gp if c.gp is not None else (loss.default_gp or 0.0)
    check_penalties(D, c.arch, c.r1, c.r2, gp)
    G.to(device)
    D.to(device)
    if device.type == "cuda" and any(isinstance(m, torch.nn.Conv2d) for m in D.modules()):
        G.to(memory_format=torch.channels_last)  # faster convolutions on tensor cores
        D.to(memory_format=torch.channels_last)
    dist.broadcast_module(G, world)
    dist.broadcast_module(D, world)
    # --compile: the training forward passes go through torch.compile; the plain modules stay
    # for checkpoints, sampling and the penalties' double backward.
    G_run, D_run = (torch.compile(G), torch.compile(D)) if c.compile else (G, D)
    opt_g = _optimiser(c, G, c.lr_g, device)
    opt_d = _optimiser(c, D, c.lr_d, device)
    keep_ema = c.ema > 0 or c.ema_kimg > 0
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if keep_ema else None
    noise = torch.Generator(device).manual_seed(c.seed + 1)

    note = cpu_cost_note(c.arch, c.arch_options or {}, device)
    if note:
        warn(note)
    use_amp = c.amp and _bf16_autocast_runs_on(device)
    if c.amp and not use_amp:
        warn(f"--amp: {device.type} has no fast bfloat16 (CUDA, or a CPU with AVX512-BF16/AMX); "
             "training in float32")
    if (c.augment or c.ada) and not dataset.is_image:
        warn("--augment/--ada only apply to images; ignored for 2-D points")
    ada = None
    if c.ada and dataset.is_image:
        if world.size > 1:
            raise UsageError("--ada is not supported under torchrun yet (each process would "
                             "steer its own p); use --augment")
        if getattr(loss, "overfit_sign", None) is None:
            raise UsageError(f"--ada needs the loss's overfitting signal, and loss {c.loss!r} "
                             "defines none (overfit_sign, docs/howto/write-a-plugin.md); use --augment")
        from gantool.train.ada import AdaptiveAugment

        ada = AdaptiveAugment(target=c.ada_target)
    objective = Objective(
        loss, G_run=G_run, D_run=D_run, D=D, batch_size=c.batch_size,
        rows=world.batch_slice(c.batch_size), z_dim=G.z_dim, num_classes=num_classes,
        device=device, r1=c.r1, r2=c.r2, gp=gp, reg_every=c.reg_every,
        augment=diff_augment if c.augment and dataset.is_image else None, ada=ada,
        autocast=(lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if use_amp
        else nullcontext)
    rule = _update_rule(c, world)

    fixed_gen = torch.Generator().manual_seed(c.seed + 2)
    n_grid = FIXED_SAMPLES_IMAGES if dataset.is_image else FIXED_SAMPLES_POINTS
    n_probe = DIAG_SAMPLES_IMAGES if dataset.is_image else FIXED_SAMPLES_POINTS
    z = torch.randn(max(n_grid, n_probe), G.z_dim, generator=fixed_gen).to(device)
    y = (torch.arange(len(z)) % num_classes).to(device) if num_classes else None
    monitor = FailureMonitor(modes=dataset.modes, mode_std=dataset.mode_std, loss=c.loss,
                             r1=c.r1, spectral_norm=c.spectral_norm, ada=ada, **_digit_probe(c, dataset, device),
                             warmup_step=untrained_until(c.batch_size, c.ema, c.ema_kimg))
    if dataset.is_image:
        real, real_labels = _real_sample(dataset, n_probe, fixed_gen)
        monitor.real_diversity = pairwise_diversity(dataset.to_model(real))
        if y is not None and real_labels is not None:
            # A conditional G can ignore z and draw one image per class: its overall diversity
            # stays high (the labels vary), so it is judged within each class.
            monitor.probe_labels = y[:n_probe]
            monitor.real_class_diversity = within_class_diversity(dataset.to_model(real),
                                                                  real_labels)

    evaluator = None
    if c.eval_every is not None:  # refused here, before a step, on data it is not defined for
        from gantool.train.evals import TrainingEval

        evaluator = TrainingEval(c.dataset, dataset, c.eval_samples, device)
    state = TrainingState(G=G, D=D, G_ema=G_ema, opt_g=opt_g, opt_d=opt_d, batches=batches,
                          monitor=monitor, log=MetricsLog(None, device), rule=rule, noise=noise,
                          world=world, device=device, seed=c.seed, ema_decay=c.ema,
                          ema_kimg=c.ema_kimg, batch_size=c.batch_size, ada=ada,
                          evaluator=evaluator)
    if world.size > 1:
        reseed_global(c.seed, world.rank, 0)
    data_info = {"is_image": dataset.is_image, "num_samples": len(dataset),
                 "sample_shape": list(dataset.sample_shape), "num_classes": dataset.num_classes,
                 "modes": dataset.modes, "mode_std": dataset.mode_std}
    resolved = {**c.to_dict(), "steps": total, "z_dim": G.z_dim, "gp": gp,
                "device_resolved": str(device), "world_size": world.size,
                "arch_kwargs": arch["kwargs"]}
    return Run(c, dataset, state, objective, Fixed(z, y, n_grid, n_probe), arch, resolved,
               data_info, total)


def _optimiser(c: TrainConfig, net: torch.nn.Module, lr: float, device: torch.device):
    """Each player's step inside the update rule (--optimizer)."""
    if c.optimizer == "sgd":  # plain SGD: the rules are then exactly game-sim's
        return torch.optim.SGD(net.parameters(), lr=lr)
    # Fused Adam: one kernel for all parameters (5x faster steps than the default on CPU).
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    return torch.optim.Adam(net.parameters(), lr=lr, betas=(c.beta1, c.beta2), **fused)


def _update_rule(c: TrainConfig, world: World):
    """The rule with its options (--update-opt, and --d-steps when given, so a rule without
    that option keeps working), or one line saying why the combination cannot run."""
    entry = registry.get("update", c.update)
    if c.d_steps != 1 and "d_steps" not in entry.options():
        raise UsageError(f"--d-steps applies to --update alternating (and lookahead over it); "
                         f"{entry.name} moves each player once per iteration")
    rule = registry.create("update", entry.name, **(c.update_options or {}),
                           d_steps=c.d_steps if c.d_steps != 1 else None)
    if rule.double_backward and c.compile:
        raise UsageError(f"--update {entry.name} differentiates the players' gradients (a "
                         "double backward), which torch.compile'd modules do not support; "
                         "drop --compile")
    if rule.double_backward and world.size > 1:
        raise UsageError(f"--update {entry.name} is not supported under torchrun: its double "
                         "backward would differentiate each process's own gradient field, not "
                         "the averaged one; train it in one process")
    return rule


def _bf16_autocast_runs_on(device: torch.device) -> bool:
    """bfloat16 autocast pays on CUDA and on CPUs with bf16 instructions (oneDNN says which)."""
    if device.type == "cuda":
        return True
    if device.type == "cpu":
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    return False


def _digit_probe(c: TrainConfig, dataset, device) -> dict:
    """On labelled digit data, the monitor reads its probe samples with the shipped digit
    classifier (partial mode collapse: a few digits dominating)."""
    if (c.dataset not in DIGIT_DATASETS or getattr(dataset, "labels", None) is None
            or tuple(dataset.sample_shape[1:]) != (28, 28)):
        return {}
    channels = dataset.sample_shape[0]
    return {"class_probs_fn": DigitProbe(str(device)),
            "data_class_hist": digit_histogram(dataset.labels, channels)}


def _batch_stream(dataset, c: TrainConfig, device, world: World):
    """A streaming dataset (gantool prepare's shards) reads its own; others live in memory."""
    if hasattr(dataset, "stream"):
        return dataset.stream(c.batch_size, device, c.seed, world, c.conditional)
    return BatchStream(dataset, c.batch_size, device, c.seed, world, c.conditional)


def _real_sample(dataset, n: int, generator: torch.Generator):
    """A seeded sample of real images (uint8) for the monitor's diversity reference, and their
    labels (None for unlabelled and streamed data)."""
    if hasattr(dataset, "peek"):
        return dataset.peek(n, generator), None
    index = torch.randperm(len(dataset), generator=generator)[:n]
    labels = getattr(dataset, "labels", None)
    return dataset.data[index], None if labels is None else labels[index]


def _load_data(c: TrainConfig):
    from gantool.data import load_dataset

    dataset = load_dataset(c.dataset, root=c.data_root, image_size=c.image_size,
                           channels=c.channels, download=c.download, seed=c.seed,
                           background=c.background)
    if c.subset is None:
        return dataset
    if not hasattr(dataset, "subset"):
        raise UsageError(f"--subset needs a dataset held in memory; {c.dataset!r} streams from "
                         "its shards (gantool prepare fewer images instead)")
    return dataset.subset(c.subset)
