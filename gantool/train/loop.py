"""The training loop: the lecture's alternating algorithm, top to bottom in one function.

    Step 1: fix G, train D (K = --d-steps times): push D(x) up on real data, D(G(z)) down.
    Step 2: fix D, train G: push D(G(z)) up (the adversarial loss decides exactly how).

Around it: a run directory with a lock, checkpoints that resume exactly (RNG streams, data
order, optimiser and EMA state, step), sample grids from one fixed latent batch, one JSON
line of metrics per logged step with diagnostics of the lecture's three failure modes, and
a clean stop on SIGINT/SIGTERM or a NaN loss.

Three random streams make a run reproducible and resumable: the global torch RNG (weight
init, dropout), a CPU generator for the data order (batches.py) and a device generator for
noise z, fake labels, augmentation and gradient-penalty mixing. All three are checkpointed.
Samples and diagnostics use fixed latents drawn from their own generator, so looking at a run
never changes its course.
"""

from __future__ import annotations

import copy
import json
import signal
import sys
import threading
import time
from contextlib import ExitStack, nullcontext, suppress
from pathlib import Path

import torch

from gantool import registry
from gantool.errors import GantoolError, UsageError
from gantool.train import checkpoint as ckpt
from gantool.train import distributed as dist
from gantool.train import grids
from gantool.train.augment import diff_augment
from gantool.train.batches import BatchStream
from gantool.train.config import DEFAULT_STEPS, TrainConfig
from gantool.train.diagnostics import FailureMonitor, pairwise_diversity
from gantool.train.distributed import World, world_from_env
from gantool.train.progress import Reporter
from gantool.train.rundir import RunLock, new_run_dir, update_latest, versions, write_json

FIXED_SAMPLES_IMAGES = 64  # an 8x8 grid, like the lecture's figure
FIXED_SAMPLES_POINTS = 1000  # enough points to see (and count) the modes of a 2-D mixture
DIAG_SAMPLES_IMAGES = 256


class Interrupted(GantoolError):
    """SIGINT/SIGTERM: a checkpoint was saved; exit 128 + the signal number (130, 143)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda: no CUDA device is available (try --device cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None)
                              and torch.backends.mps.is_available()):
        raise UsageError("--device mps: MPS is not available (try --device cpu)")
    return torch.device(name)


def grad_norm(module: torch.nn.Module) -> torch.Tensor:
    grads = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return torch.stack(grads).norm() if grads else torch.zeros(())


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in model.parameters()], 1.0 - decay)
    for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
        b_ema.copy_(b)


class _StopSignals:
    """Turn SIGINT/SIGTERM into a flag the loop checks once per step (save, then exit)."""

    def __init__(self):
        self.signum: int | None = None
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _load_data(c: TrainConfig):
    from gantool.data import load_dataset

    return load_dataset(c.dataset, root=c.data_root, image_size=c.image_size,
                        channels=c.channels, download=c.download, seed=c.seed)


def _trim_metrics(path: Path, last_step: int) -> list[dict]:
    """On resume: keep the records up to the checkpoint's step (drop a torn last line too)."""
    records = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("step", 0) <= last_step:
                records.append(record)
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(r) + "\n" for r in records)
    return records


def train(config: TrainConfig, *, resume_dir: Path | None = None,
          reporter: Reporter | None = None, world: World | None = None) -> Path:
    """Train a GAN as `config` says (continuing `resume_dir` if given); returns the run dir.

    The run directory is locked first (rank 0), so a second trainer is refused at once.
    """
    world = world or world_from_env()
    c = config
    if world.is_main:
        run_dir = resume_dir or new_run_dir(c.runs_root, c.name, c.run_dir,
                                            f"{c.dataset}-{c.arch}-{c.loss}")
    else:  # other ranks never write; they read the run only to resume it
        run_dir = resume_dir or Path(c.run_dir or Path(c.runs_root) / (c.name or "."))
    with RunLock(run_dir) if world.is_main else nullcontext():
        finished_together = False  # a signal or NaN stops every rank at the same step, too
        try:
            _train(c, run_dir, resume_dir is not None,
                   reporter or Reporter(enabled=world.is_main), world)
            finished_together = True
        except BaseException as exc:
            finished_together = isinstance(exc, Interrupted) or "diverged" in str(exc)
            if world.is_main and resume_dir is None and not (run_dir / "config.json").exists():
                _remove_empty_run(run_dir)  # failed before it began: leave nothing behind
            if not world.is_main and isinstance(exc, GantoolError):
                raise SystemExit(exc.exit_code) from None  # rank 0 says it, once
            raise
        finally:
            dist.teardown(world, wait=finished_together)
    return run_dir


def _remove_empty_run(run_dir: Path) -> None:
    (run_dir / ".lock").unlink(missing_ok=True)
    with suppress(OSError):
        run_dir.rmdir()


def _train(c: TrainConfig, run_dir: Path, resuming: bool, log: Reporter, world: World) -> None:
    device = dist.setup(world, resolve_device(c.device))
    torch.manual_seed(c.seed)  # the same on every rank: identical initial weights

    # ---- data: the whole dataset on the device; batches are one index operation
    dataset = _load_data(c)
    if c.conditional and dataset.num_classes == 0:
        raise UsageError(f"--conditional needs labelled data; dataset {c.dataset!r} has none")
    if hasattr(dataset, "stream"):  # streaming hook: a prepared dataset streams its shards
        batches = dataset.stream(c.batch_size, device, c.seed, world, c.conditional)
    else:
        batches = BatchStream(dataset, c.batch_size, device, c.seed, world, c.conditional)
    if batches.steps_per_epoch == 0:
        raise UsageError(f"--batch-size {c.batch_size} is larger than the dataset "
                         f"({len(dataset)} samples)")
    total = c.steps or (c.epochs * batches.steps_per_epoch if c.epochs else DEFAULT_STEPS)

    # ---- models, loss, optimisers (the architecture's kwargs go into every checkpoint)
    num_classes = dataset.num_classes if c.conditional else 0
    arch = {"name": c.arch, "kwargs": {"sample_shape": list(dataset.sample_shape),
                                       "z_dim": c.z_dim, "num_classes": num_classes,
                                       "spectral_norm": c.spectral_norm}}
    G, D = ckpt.build_models(arch)
    arch["kwargs"]["z_dim"] = z_dim = G.z_dim
    G.to(device)
    D.to(device)
    if device.type == "cuda" and any(isinstance(m, torch.nn.Conv2d) for m in D.modules()):
        G.to(memory_format=torch.channels_last)  # faster convolutions on tensor cores
        D.to(memory_format=torch.channels_last)
    dist.broadcast_module(G, world)
    dist.broadcast_module(D, world)
    # --compile: the forward passes of the training steps go through torch.compile; the plain
    # modules stay for checkpoints, sampling and the R1/GP double backward.
    G_run, D_run = (torch.compile(G), torch.compile(D)) if c.compile else (G, D)
    loss = registry.create("loss", c.loss)
    gp_weight = c.gp if c.gp is not None else (loss.default_gp or 0.0)
    # Fused Adam: one kernel for all parameters (5x faster steps than the default on CPU).
    fused = {"fused": True} if device.type in ("cpu", "cuda") else {"foreach": True}
    opt_g = torch.optim.Adam(G.parameters(), lr=c.lr_g, betas=(c.beta1, c.beta2), **fused)
    opt_d = torch.optim.Adam(D.parameters(), lr=c.lr_d, betas=(c.beta1, c.beta2), **fused)
    # Without BatchNorm, real and fake can go through D as one batch: the same function, one
    # larger matrix product instead of two (BatchNorm would mix their statistics; spectral
    # norm then does one power iteration per D step instead of two).
    one_pass = not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in D.modules())
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if c.ema > 0 else None
    noise_gen = torch.Generator(device).manual_seed(c.seed + 1)
    rows = world.batch_slice(c.batch_size)
    augment = (lambda x: diff_augment(x, noise_gen)) if c.augment and dataset.is_image else None
    use_amp = c.amp and device.type == "cuda"
    if c.amp and not use_amp:
        log.warn("--amp only applies on CUDA; training in float32")
    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if use_amp else nullcontext
    if c.augment and not dataset.is_image:
        log.warn("--augment only applies to images; ignored for 2-D points")

    # Fixed latents (their own generator): the sample grids and diagnostics over time.
    fixed_gen = torch.Generator().manual_seed(c.seed + 2)
    n_fixed = FIXED_SAMPLES_IMAGES if dataset.is_image else FIXED_SAMPLES_POINTS
    n_diag = DIAG_SAMPLES_IMAGES if dataset.is_image else FIXED_SAMPLES_POINTS
    fixed_z = torch.randn(max(n_fixed, n_diag), z_dim, generator=fixed_gen).to(device)
    fixed_y = (torch.arange(len(fixed_z)) % num_classes).to(device) if num_classes else None
    monitor = FailureMonitor(modes=dataset.modes, mode_std=dataset.mode_std, loss=c.loss,
                             r1=c.r1)
    if dataset.is_image:
        if hasattr(dataset, "peek"):  # streaming hook: no `data` in memory; a seeded sample
            real = dataset.peek(n_diag, fixed_gen)
        else:
            real = dataset.data[torch.randperm(len(dataset), generator=fixed_gen)[:n_diag]]
        monitor.real_diversity = pairwise_diversity(dataset.to_model(real))
    data_info = {"is_image": dataset.is_image, "num_samples": len(dataset),
                 "sample_shape": list(dataset.sample_shape), "num_classes": dataset.num_classes,
                 "modes": dataset.modes, "mode_std": dataset.mode_std}

    # ---- the run directory (rank 0 writes)
    resolved = {**c.to_dict(), "steps": total, "z_dim": z_dim, "gp": gp_weight,
                "device_resolved": str(device), "world_size": world.size,
                "arch_kwargs": arch["kwargs"]}
    with _StopSignals() as stop, ExitStack() as closing:
        ckpt_dir, samples_dir = run_dir / "checkpoints", run_dir / "samples"
        step, records = 0, []
        if resuming:
            if world.is_main:  # only the writer may touch checkpoints/ (others could race it)
                ckpt.remove_stale_temps(ckpt_dir)
            state = ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir))
            if state["arch"]["name"] != c.arch:
                raise GantoolError(f"checkpoint {state['path']} is not a {c.arch} model")
            G.load_state_dict(state["G"])
            D.load_state_dict(state["D"])
            opt_g.load_state_dict(state["opt_g"])
            opt_d.load_state_dict(state["opt_d"])
            if G_ema is not None:
                G_ema.load_state_dict(state["G_ema"])
            batches.load_state_dict(state["data"])
            monitor.load_state_dict(state["diagnostics"])
            torch.set_rng_state(state["rng"]["torch"])
            noise_gen.set_state(state["rng"]["noise"].to(noise_gen.get_state().device))
            if device.type == "cuda" and state["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(state["rng"]["cuda"])
            step = state["step"]
            if world.is_main:
                records = _trim_metrics(run_dir / "metrics.jsonl", step)
            log.info(f"resuming {run_dir} from step {step} ({state['path']})")
        if world.is_main:
            samples_dir.mkdir(parents=True, exist_ok=True)
            write_json(run_dir / "config.json", {
                "options": resolved, "seed": c.seed, "versions": versions(),
                "dataset": {k: v for k, v in data_info.items() if k != "modes"},
                "command": sys.argv[1:]})
            update_latest(c.runs_root, run_dir)
        metrics_file = (closing.enter_context(open(run_dir / "metrics.jsonl", "a",
                                                   encoding="utf-8"))
                        if world.is_main else None)

        def save(at_step: int) -> Path | None:
            """A checkpoint of everything the next step depends on (rank 0 writes it)."""
            checksums = dist.rank_checksums([G, D], world)  # every rank takes part
            if world.size > 1 and not bool((checksums == checksums[0]).all()):
                raise GantoolError(f"the {world.size} ranks' weights differ at step {at_step}; "
                                   "not saving (is every rank running the same gantool?)")
            if not world.is_main:
                return None
            return ckpt.save_checkpoint(ckpt_dir, at_step, {
                "config": resolved, "arch": arch, "data_info": data_info,
                "G": G.state_dict(), "D": D.state_dict(),
                "G_ema": G_ema.state_dict() if G_ema is not None else None,
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
                "data": batches.state_dict(), "diagnostics": monitor.state_dict(),
                "rank_checksums": checksums, "world_size": world.size,
                "rng": {"torch": torch.get_rng_state(), "noise": noise_gen.get_state().cpu(),
                        "cuda": torch.cuda.get_rng_state() if device.type == "cuda" else None},
            }, c.keep_last)

        @torch.no_grad()
        def snapshot(at_step: int) -> None:
            """samples/step-NNNNNN.png from the fixed latents (EMA weights when kept)."""
            if not world.is_main:
                return
            net = G_ema if G_ema is not None else G
            was_training = net.training
            net.eval()  # eval: no dropout, and BatchNorm statistics are left alone
            out = net(fixed_z[:n_fixed], fixed_y[:n_fixed] if fixed_y is not None else None)
            net.train(was_training)
            path = samples_dir / f"step-{at_step:06d}.png"
            if dataset.is_image:
                grids.save_grid(dataset.from_model(out).cpu().numpy(), path)
            else:
                grids.save_scatter(out.float().cpu().numpy(), path, modes=_np(dataset.modes),
                                   title=f"{c.dataset}, {c.loss}"
                                   f"{f', R1 {c.r1:g}' if c.r1 else ''}, step {at_step}")

        def finish_pictures() -> None:
            if world.is_main:
                grids.save_losses_plot(records, run_dir / "losses.png")
                grids.save_progress_gif(sorted(samples_dir.glob("step-*.png")),
                                        run_dir / "progress.gif")

        if not resuming:
            log.info(f"training {c.arch} on {c.dataset} ({len(dataset)} samples"
                     f"{', the bundled default' if c.dataset == 'mnist-5k' else ''}) with the "
                     f"{c.loss} loss for {total} steps on {device}; run directory {run_dir}")
            snapshot(0)  # the lecture's "epoch 0": what the untrained G makes
        sums = torch.zeros(4, device=device)  # loss_d, loss_g, D(x), D(G(z)) since the last log
        n_sum, t_last, step_last = 0, time.perf_counter(), step
        if world.size > 1:  # dropout and other global-RNG draws must differ between ranks
            torch.manual_seed(c.seed + 1_000_003 * world.rank + step)
        sync_g = any(True for _ in G.buffers())
        sync_d = any(True for _ in D.buffers())
        log.start(step, total)

        while step < total:
            # ---- Step 1: fix G, train D (K times) on real batches and fresh fakes
            for k in range(c.d_steps):
                real, y_real = batches.next()
                z = torch.randn(c.batch_size, z_dim, generator=noise_gen, device=device)[rows]
                y_fake = (torch.randint(num_classes, (c.batch_size,), generator=noise_gen,
                                        device=device)[rows] if num_classes else None)
                # The last D step's fakes keep G's graph for Step 2: G has not changed since
                # they were drawn, so they are what Step 2 would draw, for one G forward less.
                keep_graph = k == c.d_steps - 1
                with autocast(), (nullcontext() if keep_graph else torch.no_grad()):
                    fake_g = G_run(z, y_fake)
                fake = fake_g.detach()
                with autocast():
                    d_in_real = augment(real) if augment else real
                    d_in_fake = augment(fake) if augment else fake
                    real_logits, fake_logits = _discriminate(D_run, d_in_real, y_real, d_in_fake,
                                                             y_fake, one_pass)
                    loss_d = loss.d_loss(real_logits, fake_logits)
                if c.r1 > 0:
                    loss_d = loss_d + registry_r1(D, real, y_real, c.r1)
                if gp_weight > 0:
                    loss_d = loss_d + registry_gp(D, real, fake, y_real, gp_weight, noise_gen)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                dist.average_gradients(D, world)
                opt_d.step()
                if loss.weight_clip is not None:
                    with torch.no_grad():
                        for p in D.parameters():
                            p.clamp_(-loss.weight_clip, loss.weight_clip)

            # ---- Step 2: fix D (no gradients for its weights), train G to fool it
            D.requires_grad_(False)
            with autocast():
                fake_logits_g = D_run(augment(fake_g) if augment else fake_g, y_fake).float()
                loss_g = loss.g_loss(fake_logits_g, real_logits.detach())
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            stop_votes = dist.average_gradients(
                G, world, torch.tensor([0.0 if stop.signum is None else 1.0]))
            opt_g.step()
            D.requires_grad_(True)
            if G_ema is not None:
                ema_update(G_ema, G, c.ema)
            step += 1

            # Accumulate on the device: no .item() (a host sync) on the hot path.
            with torch.no_grad():
                sums += torch.stack([loss_d.detach(), loss_g.detach(),
                                     torch.sigmoid(real_logits).mean(),
                                     torch.sigmoid(fake_logits).mean()]).float()
            n_sum += 1
            log.advance(step)

            # ---- log, diagnose, sample, checkpoint (the only places that sync with the device)
            if world.size > 1:  # every rank stops at the same step if any rank got a signal
                stopping = bool(stop_votes.item() > 0)
                stop.signum = stop.signum or (signal.SIGTERM if stopping else None)
                if sync_g:
                    dist.sync_buffers(G, world)
                if sync_d:
                    dist.sync_buffers(D, world)
            else:
                stopping = stop.signum is not None
            if step % c.log_every == 0 or step == total or stopping:
                means = dist.all_reduce_mean(sums / n_sum, world).tolist()
                norms = torch.stack([grad_norm(G), grad_norm(D)]).tolist()
                if not all(map(_finite, means + norms)):
                    last = ckpt.latest_checkpoint(run_dir) if ckpt_dir.exists() and any(
                        ckpt_dir.glob("step-*.pt")) else None
                    kept = (f"the last good checkpoint is {last}" if last
                            else "no checkpoint had been written yet")
                    finish_pictures()
                    raise GantoolError(
                        f"training diverged: a loss or gradient became NaN/inf between steps "
                        f"{step_last + 1} and {step}; stopped without saving, {kept}. Try lower "
                        "--lr-g/--lr-d, --r1 10, --spectral-norm or another --loss")
                now = time.perf_counter()
                record = {"step": step, "epoch": batches.epoch,
                          "loss_d": means[0], "loss_g": means[1],
                          "d_real": means[2], "d_fake": means[3],
                          "grad_g": norms[0], "grad_d": norms[1],
                          "img_per_s": c.batch_size * c.d_steps * (step - step_last)
                          / max(now - t_last, 1e-9)}
                with torch.no_grad():
                    net = G_ema if G_ema is not None else G
                    net.eval()
                    probe = net(fixed_z[:n_diag], fixed_y[:n_diag] if fixed_y is not None
                                else None).float()
                    net.train(net is G)
                monitor.measure_samples(probe, record)
                for warning in monitor.observe(record):
                    log.warn(warning)
                records.append(record)
                if metrics_file is not None:
                    metrics_file.write(json.dumps(record) + "\n")
                    metrics_file.flush()  # a line per log, readable while training
                log.log(record)
                sums.zero_()
                n_sum, t_last, step_last = 0, time.perf_counter(), step
            if step % c.sample_every == 0 or step == total:
                snapshot(step)
            if stopping:
                path = save(step)
                finish_pictures()
                log.close()
                name = signal.Signals(stop.signum).name
                raise Interrupted(f"stopped by {name} at step {step}; saved {path}; continue "
                                  f"with: gantool train --resume {run_dir}", stop.signum)
            if step % c.checkpoint_every == 0 or step == total:
                save(step)

        log.close()
        finish_pictures()
        if world.is_main:
            for line in monitor.summary(records[-1] if records else None):
                log.info(line)
            write_json(run_dir / "summary.json", {
                "steps": step, "last": records[-1] if records else None,
                "diagnostics": monitor.state_dict()["counts"], "checks": monitor.checks})


def _discriminate(D, real, y_real, fake, y_fake, one_pass: bool):
    """D's logits (float32) for a real and a fake batch: in one pass when that is the same."""
    if not one_pass:
        return D(real, y_real).float(), D(fake, y_fake).float()
    y = torch.cat([y_real, y_fake]) if y_real is not None else None
    logits = D(torch.cat([real, fake]), y).float()
    return logits[:len(real)], logits[len(real):]


def registry_r1(D, real, y, gamma):
    from gantool.losses import r1_penalty

    return r1_penalty(D, real, y, gamma=gamma)


def registry_gp(D, real, fake, y, lam, generator):
    from gantool.losses import gradient_penalty

    return gradient_penalty(D, real, fake, y, lam=lam, generator=generator)


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def _np(tensor):
    return None if tensor is None else tensor.cpu().numpy()
