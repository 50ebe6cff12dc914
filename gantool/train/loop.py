"""The training loop: the update rule steps the players, then log, look, save.

    Step 1: fix G, train D (K = --d-steps times): push D(x) up on real data, D(G(z)) down.
    Step 2: fix D, train G: push D(G(z)) up (the adversarial loss decides exactly how).

That is the default update rule, `alternating` (updates.py); what each player minimises is the
objective (objective.py); everything a step depends on is the training state (state.py), saved
and restored as one dict. Around the loop: a locked run directory, checkpoints that resume
exactly (metrics.jsonl included), sample grids from one fixed latent batch, a metrics line per
logged step with diagnostics of the lecture's three failure modes, and a clean stop on
SIGINT/SIGTERM (a second one stops at once) or a NaN.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from contextlib import nullcontext, suppress
from pathlib import Path

import torch

from gantool.devices import resolve_device
from gantool.errors import GantoolError, UsageError
from gantool.train import checkpoint as ckpt
from gantool.train import distributed as dist
from gantool.train import setup, snapshots
from gantool.train.config import TrainConfig
from gantool.train.distributed import World, world_from_env
from gantool.train.metrics_log import MetricsLog, all_finite
from gantool.train.progress import Reporter
from gantool.train.rundir import RunLock, new_run_dir, update_latest, versions, write_json


# What a checkpoint must hold to be resumed (sampling needs less; see checkpoint.py).
RESUME_KEYS = ("D", "opt_g", "opt_d", "data", "diagnostics", "rng")


class Interrupted(GantoolError):
    """SIGINT/SIGTERM: a checkpoint was saved; exit 128 + the signal number (130, 143)."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_code = 128 + signum


class Diverged(GantoolError):
    """A loss, gradient or weight became NaN/inf; nothing non-finite was saved."""


def train(config: TrainConfig, *, resume_dir: Path | None = None,
          reporter: Reporter | None = None, world: World | None = None) -> Path:
    """Train a GAN as `config` says (continuing `resume_dir` if given); returns the run dir.

    The run directory is locked first (rank 0), so a second trainer is refused at once; a run
    that fails before its first step leaves no directory behind.
    """
    world = world or world_from_env()
    c = config
    if c.batch_size < world.size:
        raise UsageError(f"--batch-size {c.batch_size} is smaller than the {world.size} "
                         "processes: every process needs at least one sample per batch")
    if world.is_main:
        run_dir = resume_dir or new_run_dir(c.runs_root, c.name, c.run_dir,
                                            f"{c.dataset}-{c.arch}-{c.loss}")
    else:  # other ranks never write; they read the run only to resume it
        run_dir = resume_dir or Path(c.run_dir or Path(c.runs_root) / (c.name or "."))
    created = _missing_dirs(run_dir) if world.is_main else []
    with RunLock(run_dir) if world.is_main else nullcontext():
        together = False  # a signal or divergence stops every rank at the same step, too
        try:
            _train(c, run_dir, resume_dir is not None,
                   reporter or Reporter(enabled=world.is_main), world)
            together = True
        except BaseException as exc:
            together = isinstance(exc, (Interrupted, Diverged))
            if together:
                exc.run_dir = run_dir  # gantool.api hands the stopped run back with it
            if created and not (run_dir / "config.json").exists():
                _remove_dirs(run_dir, created)  # failed before it began: leave nothing behind
            if not world.is_main and isinstance(exc, GantoolError):
                raise SystemExit(exc.exit_code) from None  # rank 0 says it, once
            raise
        finally:
            dist.teardown(world, wait=together)
    return run_dir


def _train(c: TrainConfig, run_dir: Path, resuming: bool, log: Reporter, world: World) -> None:
    device = dist.setup(world, resolve_device(c.device))
    run = setup.build(c, world, device, log.warn)
    s = run.state
    if resuming:
        _resume(run, run_dir, log)
    elif world.is_main:
        _refuse_foreign_run(run_dir)
    if world.is_main:
        (run_dir / "samples").mkdir(parents=True, exist_ok=True)
        write_json(run_dir / "config.json", {
            "options": run.resolved, "seed": c.seed, "versions": versions(),
            "dataset": {k: v for k, v in run.data_info.items() if k != "modes"},
            "command": sys.argv[1:]})
        update_latest(c.runs_root, run_dir)
        s.log.path = run_dir / "metrics.jsonl"
        if c.tensorboard:
            from gantool.train.tensorboard import TensorBoardLog

            s.log.tensorboard = TensorBoardLog(run_dir)
            s.log.tensorboard.text("config", "```json\n" + json.dumps(run.resolved, indent=2,
                                                                       default=str) + "\n```",
                                   s.step)
    s.log.open(s.step if resuming else None)
    if s.evaluator is not None and world.is_main:
        for note in s.evaluator.prepare(run_dir):
            log.info(note)
    try:
        _loop(run, run_dir, resuming, log)
    except Interrupted as exc:
        _write_summary(run, run_dir, "stopped", str(exc))
        raise
    except Diverged as exc:
        _write_summary(run, run_dir, "diverged", str(exc))
        raise
    _write_summary(run, run_dir, "finished", None)
    if world.is_main:
        records = s.log.records
        for line in s.monitor.summary(records[-1] if records else None):
            log.info(line)


def _loop(run: setup.Run, run_dir: Path, resuming: bool, log: Reporter) -> None:
    """Step until the planned total; log, look and save on their cadences."""
    c, s, world = run.config, run.state, run.state.world

    with _StopSignals() as stop:
        if not resuming:
            bundled = ", the bundled default" if c.dataset == "mnist-5k" else ""
            samples = (f"a random {c.subset} of its samples, --subset" if c.subset
                       else f"{len(run.dataset)} samples{bundled}")
            samples += getattr(run.dataset, "note", "")  # e.g. a folder's transparency
            log.info(f"training {c.arch} on {c.dataset} ({samples}) with the {c.loss} loss for "
                     f"{run.total} steps on {s.device}; run directory {run_dir}")
            _snapshot(run, run_dir)  # the lecture's "epoch 0": what the untrained G makes
        log.start(s.step, run.total)
        while s.step < run.total:
            s.stop_flag = torch.tensor([float(stop.signum is not None)])
            d, g = s.rule.iterate(s, run.objective)
            s.step += 1
            s.log.accumulate(d, g)
            log.advance(s.step)
            # A stop request on any rank stops them all (it rode along in G's all-reduce).
            stopping = (bool(s.stop_flag.item() > 0) if world.size > 1
                        else stop.signum is not None)
            if stopping and stop.signum is None:
                stop.signum = signal.SIGTERM
            last = s.step == run.total
            # An evaluation lands in the metrics record of its step, so that step is logged.
            # A stopped run is scored where it stopped: what it leaves behind is measured
            # (gantool sweep stops its trials at their CPU budget and ranks them by this).
            evaluating = s.evaluator is not None and (s.step % c.eval_every == 0 or last
                                                      or stopping)
            if s.step % c.log_every == 0 or last or stopping or evaluating:
                _log_step(run, run_dir, log, evaluating)
            if s.step % c.sample_every == 0 or last:
                _snapshot(run, run_dir)
            if stopping:
                path = _save(run, run_dir)
                _finish_pictures(run, run_dir, log)
                raise Interrupted(f"stopped by {signal.Signals(stop.signum).name} at step "
                                  f"{s.step}; saved {path}; continue with: gantool train "
                                  f"--resume {run_dir}", stop.signum)
            if s.step % c.checkpoint_every == 0 or last:
                _save(run, run_dir)
    _finish_pictures(run, run_dir, log)


def _write_summary(run: setup.Run, run_dir: Path, status: str, reason: str | None) -> None:
    """summary.json on every exit: how the run ended (finished, stopped, diverged) and why."""
    s = run.state
    if not s.world.is_main:
        return
    records = s.log.records
    summary = {
        "status": status, "reason": reason, "steps": s.step, "planned_steps": run.total,
        "last": records[-1] if records else None,
        "diagnostics": s.monitor.state_dict()["counts"], "checks": s.monitor.checks}
    if s.evaluator is not None and s.evaluator.best is not None:
        summary["best"] = {**s.evaluator.best,
                           "path": str(run_dir / "checkpoints" / ckpt.BEST)}
    write_json(run_dir / "summary.json", summary)


# ---- resume, checks on the run directory
def _resume(run: setup.Run, run_dir: Path, log: Reporter) -> None:
    if run.state.world.is_main:  # only the writer may touch checkpoints/ (others could race it)
        ckpt.remove_stale_temps(run_dir / "checkpoints")
    saved = ckpt.load_checkpoint(ckpt.latest_checkpoint(run_dir))
    if saved["arch"]["name"] != run.config.arch:
        raise GantoolError(f"checkpoint {saved['path']} is not a {run.config.arch} model")
    if run.total <= saved["step"]:
        raise UsageError(f"{run_dir} is already at step {saved['step']}; give --steps above "
                         f"{saved['step']} to train further (nothing was changed)")
    missing = [k for k in RESUME_KEYS if k not in saved]
    if missing:
        raise GantoolError(f"cannot resume from {saved['path']}: it has no {missing[0]!r} "
                           "(a checkpoint for sampling only, or a damaged file)")
    for key in ("G", "D", "G_ema"):
        if saved.get(key) is not None:
            ckpt.load_weights(getattr(run.state, key), saved[key], run.config.arch,
                              saved["path"])
    try:
        notes = run.state.load_state_dict(saved)
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GantoolError(f"cannot resume from {saved['path']}: {first}") from None
    for note in notes:
        log.info(note)
    log.info(f"resuming {run_dir} from step {saved['step']} ({saved['path']})")


def _refuse_foreign_run(run_dir: Path) -> None:
    """Under the lock: a new run must not share a directory with another run's files (its
    checkpoints would be taken for ours, and pruning would delete ours)."""
    found = ckpt.list_checkpoints(run_dir / "checkpoints")
    if (run_dir / "config.json").exists() or found:
        what = "a run" if (run_dir / "config.json").exists() else f"checkpoints ({found[-1][1]})"
        raise UsageError(f"{run_dir} already holds {what}; choose another --name or --run-dir "
                         "(or continue a run with --resume)")


def _missing_dirs(path: Path) -> list[Path]:
    """`path` and those of its parents that do not exist yet, deepest first."""
    missing = []
    for p in [path, *path.parents]:
        if p.exists():
            break
        missing.append(p)
    return missing


def _remove_dirs(run_dir: Path, created: list[Path]) -> None:
    (run_dir / ".lock").unlink(missing_ok=True)
    for p in created:  # deepest first; only if empty
        with suppress(OSError):
            p.rmdir()


# ---- log, look, save
def _log_step(run: setup.Run, run_dir: Path, log: Reporter, evaluating: bool = False) -> None:
    s, world = run.state, run.state.world
    means = s.log.means()
    if world.size > 1:
        values = dist.all_reduce_mean(torch.tensor(list(means.values())), world).tolist()
        means = dict(zip(means, values, strict=True))
    norms = [_grad_norm(s.G), _grad_norm(s.D)]
    if not all_finite([*means.values(), *norms]):
        _diverged(run, run_dir, log, f"a loss or gradient became NaN/inf between steps "
                  f"{s.step - s.log.n + 1} and {s.step}")
    record = {"step": s.step, "epoch": s.batches.epoch, **means,
              "grad_g": norms[0], "grad_d": norms[1],
              "img_per_s": run.config.batch_size * s.rule.batches_per_iteration * s.log.n
              / s.log.seconds_since_reset()}
    probe = snapshots.generate(s.G_ema if s.G_ema is not None else s.G, *run.fixed.probe())
    s.monitor.measure_samples(probe, record)
    for warning in s.monitor.observe(record):
        log.warn(warning)
    if evaluating and world.is_main:
        _evaluate(run, run_dir, log, record)
    if world.is_main:
        s.log.write(record)
    log.log(record)
    s.log.reset()


def _evaluate(run: setup.Run, run_dir: Path, log: Reporter, record: dict) -> None:
    """--eval-every: score the sampled G into the record; keep it as best.pt if it is the best."""
    s = run.state
    if not s.weights_finite():
        return  # nothing to score; the next checkpoint stops the run, on every rank
    G = s.G_ema if s.G_ema is not None else s.G
    meta = {"dataset": run.config.dataset, "data_info": run.data_info, "step": s.step,
            "path": str(run_dir)}
    scores, notes = s.evaluator(G, meta)
    if not s.evaluator.notes_shown:  # evaluate's notes are the same every time: show them once
        for note in notes:
            log.info(f"--eval-every: {note}")
        s.evaluator.notes_shown = True
    scores["best"] = s.evaluator.improved(s.step, scores)
    record["eval"] = scores
    if scores["best"]:
        ckpt.save_best(run_dir / "checkpoints", s.step, {
            "config": run.resolved, "arch": run.arch, "data_info": run.data_info,
            "G": s.G.state_dict(), "D": s.D.state_dict(),
            "G_ema": s.G_ema.state_dict() if s.G_ema is not None else None,
            "eval": s.evaluator.best})


def _snapshot(run: setup.Run, run_dir: Path) -> None:
    s, c = run.state, run.config
    if not s.world.is_main:
        return
    title = f"{c.dataset}, {c.loss}{f', R1 {c.r1:g}' if c.r1 else ''}, step {s.step}"
    path = run_dir / "samples" / f"step-{s.step:06d}.png"
    snapshots.save_samples(s.G_ema if s.G_ema is not None else s.G, *run.fixed.grid(),
                           run.dataset, path, title)
    if s.log.tensorboard is not None:
        s.log.image("samples", s.step, snapshots.read_png(path))


def _save(run: setup.Run, run_dir: Path) -> Path | None:
    """A checkpoint of everything the next step depends on, never of non-finite weights."""
    s, world = run.state, run.state.world
    if not (s.weights_finite() and s.log.finite()):
        _diverged(run, run_dir, None, f"the weights or a loss became NaN/inf by step {s.step}")
    checksums = dist.rank_checksums([s.G, s.D], world)  # every rank takes part
    if world.size > 1 and not bool((checksums == checksums[0]).all()):
        raise GantoolError(f"the {world.size} ranks' weights differ at step {s.step}; "
                           "not saving (is every rank running the same gantool?)")
    state = s.state_dict()  # every rank takes part (RNG states are gathered)
    if not world.is_main:
        return None
    return ckpt.save_checkpoint(run_dir / "checkpoints", s.step, {
        "config": run.resolved, "arch": run.arch, "data_info": run.data_info,
        "rank_checksums": checksums, "world_size": world.size, **state},
        run.config.keep_last)


def _diverged(run: setup.Run, run_dir: Path, log: Reporter | None, what: str) -> None:
    _finish_pictures(run, run_dir, log)
    last = ckpt.last_finite_checkpoint(run_dir) if run.state.world.is_main else None
    kept = f"the last good checkpoint is {last}" if last else "no good checkpoint was written"
    raise Diverged(f"training diverged: {what}; stopped without saving, {kept}. Try lower "
                   "--lr-g/--lr-d, --r1 10, --spectral-norm or another --loss")


def _finish_pictures(run: setup.Run, run_dir: Path, log: Reporter | None) -> None:
    if log is not None:
        log.close()
    run.state.log.close()
    if run.state.world.is_main:
        snapshots.save_run_pictures(run.state.log.records, run_dir)


def _grad_norm(module: torch.nn.Module) -> float:
    grads = [p.grad.detach().float().norm() for p in module.parameters() if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


class _StopSignals:
    """SIGINT/SIGTERM set a flag the loop checks once per step (save, then exit); a second one
    stops at once, even in the middle of saving (the half-written file is discarded)."""

    def __init__(self):
        self.signum: int | None = None
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise Interrupted(f"stopped by a second {signal.Signals(signum).name} without "
                              "saving; the last complete checkpoint is kept", signum)
        self.signum = signum

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
