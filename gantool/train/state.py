"""Everything the next training step depends on, with one state_dict / load_state_dict.

Save and resume both go through `TrainingState.state_dict` and `load_state_dict`, so a field
added here is checkpointed and restored by construction. Three random streams make a run
reproducible and resumable:
- the global torch RNG (weight init, dropout): saved for every rank, since under torchrun the
  ranks draw different dropout masks;
- the data order (the batch stream's own CPU generator);
- `noise`, a generator on the training device for z, fake labels, augmentation and
  gradient-penalty mixing. Its state is device-specific (a CPU generator's state is not a CUDA
  one's): resumed on another kind of device, the stream is reseeded from (seed, step), so the
  run continues reproducibly, though not bit for bit as it would have on the first device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from gantool.train import distributed as dist
from gantool.train.distributed import World


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    torch._foreach_lerp_(list(ema.parameters()), [p.detach() for p in model.parameters()],
                         1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


def ema_beta(half_life_kimg: float, images_seen: int, batch_size: int,
             rampup: float = 0.05) -> float:
    """StyleGAN2's EMA decay per step for a half-life in thousands of images; during ramp-up
    the half-life is at most `rampup` times the images seen so far, so early weights fade."""
    half_life = min(half_life_kimg * 1000, images_seen * rampup)
    return 0.5 ** (batch_size / max(half_life, 1e-8))


def reseed_noise(device: torch.device, seed: int, step: int) -> torch.Generator:
    return torch.Generator(device).manual_seed(seed + 1 + 7_919 * step)


def reseed_global(seed: int, rank: int, step: int) -> None:
    """Dropout and other global-RNG draws must differ between ranks."""
    torch.manual_seed(seed + 1_000_003 * rank + step)


@dataclass
class TrainingState:
    G: torch.nn.Module
    D: torch.nn.Module
    G_ema: torch.nn.Module | None
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    batches: object  # BatchStream or a streaming equivalent
    monitor: object  # FailureMonitor
    log: object  # MetricsLog
    rule: object  # UpdateRule
    noise: torch.Generator
    world: World
    device: torch.device
    seed: int
    ema_decay: float = 0.0
    ema_kimg: float = 0.0  # when set, the decay follows this half-life instead of ema_decay
    batch_size: int = 0
    ada: object | None = None  # an AdaptiveAugment, when --ada
    evaluator: object | None = None  # a TrainingEval, when --eval-every (its best so far)
    step: int = 0
    d_updates: int = 0
    stop_flag: torch.Tensor = field(default_factory=lambda: torch.zeros(1))

    # ---- the players' moves (called by update rules)
    # `move` is the optimiser's step by default; a rule that changes what a step does (the
    # optimistic correction) passes its own, and the clipping and EMA still follow it.
    def step_d(self, objective, move=None) -> None:
        dist.average_gradients(self.D, self.world)
        (move or self.opt_d.step)()
        objective.constrain(self.D)
        self.d_updates += 1

    def extrapolate_d(self, objective) -> None:
        """An optimiser step that is not an update (extragradient's look-ahead): D moves and
        stays within WGAN's box, but lazy regularisation does not count it."""
        dist.average_gradients(self.D, self.world)
        self.opt_d.step()
        objective.constrain(self.D)

    def extrapolate_g(self) -> None:
        """G's look-ahead step: no EMA (it would average a point that is undone) and no stop
        flag (that rides along in the update's all-reduce)."""
        dist.average_gradients(self.G, self.world)
        self.opt_g.step()

    def step_g(self, move=None) -> None:
        # A stop request rides along in G's all-reduce, so every rank stops at the same step.
        self.stop_flag = dist.average_gradients(self.G, self.world, self.stop_flag)
        (move or self.opt_g.step)()
        self.update_ema()
        dist.sync_buffers(self.G, self.world)  # rank 0's BatchNorm statistics everywhere
        dist.sync_buffers(self.D, self.world)

    def update_ema(self) -> None:
        """Average G's current weights into G_ema (step_g does; lookahead instead averages its
        slow weights once they are back in G)."""
        if self.G_ema is not None:
            decay = (ema_beta(self.ema_kimg, (self.step + 1) * self.batch_size, self.batch_size)
                     if self.ema_kimg else self.ema_decay)
            ema_update(self.G_ema, self.G, decay)

    # ---- checkpoints
    def state_dict(self) -> dict:
        """Called on every rank (the RNG states are gathered); rank 0 writes the result."""
        torch_states = dist.gather_cpu_tensor(torch.get_rng_state(), self.world)
        return {
            "G": self.G.state_dict(), "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "data": self.batches.state_dict(), "diagnostics": self.monitor.state_dict(),
            "log": self.log.state_dict(), "update_rule": self.rule.state_dict(),
            "d_updates": self.d_updates,
            "ada": self.ada.state_dict() if self.ada is not None else None,
            "eval": self.evaluator.state_dict() if self.evaluator is not None else None,
            "rng": {"torch": torch_states[0], "torch_ranks": torch_states,
                    "noise": self.noise.get_state().cpu(), "noise_device": self.device.type,
                    "cuda": torch.cuda.get_rng_state() if self.device.type == "cuda" else None},
        }

    def load_state_dict(self, state: dict) -> list[str]:
        """Restore a checkpoint's state; returns notes for the user (streams reseeded)."""
        notes = []
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        if self.G_ema is not None:
            self.G_ema.load_state_dict(state["G_ema"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.batches.load_state_dict(state["data"])
        self.monitor.load_state_dict(state["diagnostics"])
        self.step = state["step"]
        self.d_updates = state.get("d_updates", self.step)
        if "log" in state:
            self.log.load_state_dict(state["log"])
        self.rule.load_state_dict(state.get("update_rule", {}))
        if self.ada is not None and state.get("ada") is not None:
            self.ada.load_state_dict(state["ada"])
        if self.evaluator is not None and state.get("eval") is not None:
            self.evaluator.load_state_dict(state["eval"])
        rng, rank = state["rng"], self.world.rank
        ranks = rng.get("torch_ranks") or [rng["torch"]]
        if rank < len(ranks) and len(ranks) in (1, self.world.size):
            torch.set_rng_state(ranks[rank])
        else:  # another number of processes: ranks that were not there get a fresh stream
            reseed_global(self.seed, rank, self.step)
        if rng.get("noise_device", "cpu") == self.device.type:
            self.noise.set_state(rng["noise"].to(self.noise.get_state().device))
        else:
            self.noise = reseed_noise(self.device, self.seed, self.step)
            notes.append(f"the checkpoint was written on {rng.get('noise_device')} and training "
                         f"continues on {self.device.type}: the noise stream was reseeded from "
                         "(seed, step), so the run continues reproducibly but not bit for bit")
        if self.device.type == "cuda" and rng.get("cuda") is not None:
            torch.cuda.set_rng_state(rng["cuda"])
        return notes

    def weights_finite(self) -> bool:
        """G, D, G_ema and the rule's own tensors (lookahead's fast weights mid-cycle)."""
        nets = [self.G, self.D] + ([self.G_ema] if self.G_ema is not None else [])
        weights = [p for net in nets for p in net.parameters()]
        return all(bool(torch.isfinite(w).all())
                   for w in [*weights, *_float_tensors(self.rule.state_dict())])


def _float_tensors(tree):
    """The floating-point tensors in a nest of dicts and lists (a rule's state_dict)."""
    if isinstance(tree, torch.Tensor):
        return [tree] if tree.is_floating_point() else []
    if isinstance(tree, dict):
        tree = list(tree.values())
    if isinstance(tree, (list, tuple)):
        return [t for item in tree for t in _float_tensors(item)]
    return []
