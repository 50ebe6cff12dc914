"""`gantool train`: the flags -> gantool.api.train -> a run directory.

Thin on purpose: typer parses, gantool.api merges defaults <- recipe <- --config TOML <- flags,
checks them and trains. The run directory's path is the only thing printed on stdout.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

HELP_DATA = "Data"
HELP_MODEL = "Model and loss"
HELP_OPT = "Optimisation"
HELP_RUN = "Run directory and cadence"


def _opt(default, *names, help: str, panel: str, **kw):
    return typer.Option(default, *names, help=help, rich_help_panel=panel, show_default=False,
                        **kw)


def train_command(
    dataset: str = _opt(None, "--dataset", help="Dataset name (gantool list dataset). "
                        "Default: mnist-5k, the 5,000 bundled MNIST digits.", panel=HELP_DATA),
    data_root: str = _opt(None, "--data-root", help="Where dataset files live.", panel=HELP_DATA),
    download: bool = _opt(None, "--download/--no-download", help="Download missing dataset "
                          "files.", panel=HELP_DATA),
    image_size: int = _opt(None, "--image-size", help="Resize images to this size.",
                           panel=HELP_DATA),
    channels: int = _opt(None, "--channels", help="1 (grey), 3 (RGB) or 4 (RGBA: an image "
                         "folder's transparency kept as a 4th channel).", panel=HELP_DATA),
    background: str = _opt(None, "--background", metavar="COLOUR", help="Image folders: "
                           "transparent pixels are composited onto this colour (white, "
                           "black, any colour name, or #rrggbb; default white).",
                           panel=HELP_DATA),
    subset: int = _opt(None, "--subset", help="Train on a random N of the dataset's samples "
                       "(the same N for every --seed): small-data runs, e.g. for --ada.",
                       panel=HELP_DATA),
    arch: str = _opt(None, "--arch", help="Architecture (default dcgan, which brings the "
                     "default run's measured options unless given: --spectral-norm, --ema-kimg "
                     "10, --arch-opt g_width=64 g_extra=1 d_extra=1, --loss hinge, --lr-g 4e-4, "
                     "--lr-d 9e-4, --beta1 0, --steps 6000 "
                     "(docs/train.md); mlp2d for ring8 and grid25): dcgan, mlp, gan-mlp, "
                     "resnet, r3gan, mlp2d (2-D points).",
                     panel=HELP_MODEL),
    loss: str = _opt(None, "--loss", help="Adversarial loss (default hinge with dcgan, else "
                     "non-saturating): minimax "
                     "(the lecture's), non-saturating, wgan, wgan-gp, hinge, lsgan, "
                     "relativistic.", panel=HELP_MODEL),
    arch_opt: list[str] = _opt(None, "--arch-opt", metavar="KEY=VALUE", help="An option of the "
                               "architecture, e.g. --arch-opt width=128 --arch-opt "
                               "d_batch_norm=false (repeatable; added to the architecture's "
                               "default ones; gantool list architecture --json shows each "
                               "one's options).", panel=HELP_MODEL),
    conditional: bool = _opt(None, "--conditional/--no-conditional", help="Class-conditional "
                             "G and D (labelled data).", panel=HELP_MODEL),
    spectral_norm: bool = _opt(None, "--spectral-norm/--no-spectral-norm", help="Spectral "
                               "normalisation in D.", panel=HELP_MODEL),
    z_dim: int = _opt(None, "--z-dim", help="Noise dimension (default: the architecture's, "
                      "100).", panel=HELP_MODEL),
    r1: float = _opt(None, "--r1", metavar="GAMMA", help="R1 penalty weight on real data "
                     "(default 0: off).", panel=HELP_MODEL),
    r2: float = _opt(None, "--r2", metavar="GAMMA", help="R2 penalty weight on generated data "
                     "(default 0: off).", panel=HELP_MODEL),
    gp: float = _opt(None, "--gp", metavar="LAMBDA", help="Gradient-penalty weight (default: "
                     "the loss's, 10 for wgan-gp, else off).", panel=HELP_MODEL),
    reg_every: int = _opt(None, "--reg-every", metavar="N", help="Lazy regularisation: the "
                          "penalties every N D updates at N times the weight (default 1).",
                          panel=HELP_MODEL),
    update: str = _opt(None, "--update", metavar="RULE", help="Update rule: how an iteration "
                       "moves the players (default alternating: K D steps, then one G step). "
                       "alternating, simultaneous, extragradient (ExtraAdam), optimistic "
                       "(Optimistic Adam), consensus, sga, lookahead; game-sim's names "
                       "altgd, simgd, ogda also work (gantool list update; docs/train.md).",
                       panel=HELP_OPT),
    update_opt: list[str] = _opt(None, "--update-opt", metavar="KEY=VALUE", help="An option "
                                 "of the update rule (repeatable): consensus gamma=1, sga "
                                 "lam=1 align=true (false: lambda's sign fixed), "
                                 "lookahead base=simultaneous k=5 alpha=0.5 (and its base's "
                                 "options).", panel=HELP_OPT),
    optimizer: str = _opt(None, "--optimizer", metavar="STEP", help="Each player's step "
                          "inside the update rule: adam (default) or sgd (plain, "
                          "--beta1/--beta2 unused). In game-sim, --optimizer is the old name "
                          "of --update.", panel=HELP_OPT),
    d_steps: int = _opt(None, "--d-steps", metavar="K", help="D updates per G update "
                        "(default 1).", panel=HELP_OPT),
    lr_g: float = _opt(None, "--lr-g", help="G's learning rate (default 4e-4 with dcgan, "
                       "else 2e-4).",
                       panel=HELP_OPT),
    lr_d: float = _opt(None, "--lr-d", help="D's learning rate (default 9e-4 with dcgan, "
                       "else 2e-4).",
                       panel=HELP_OPT),
    beta1: float = _opt(None, "--beta1", help="Adam beta1 (default 0 with dcgan, else 0.5).",
                       panel=HELP_OPT),
    beta2: float = _opt(None, "--beta2", help="Adam beta2 (default 0.999).", panel=HELP_OPT),
    batch_size: int = _opt(None, "--batch-size", help="Global batch size (default 64).",
                           panel=HELP_OPT),
    steps: int = _opt(None, "--steps", help="Training steps, one G update each (default "
                      "6000 with dcgan, else 7000).", panel=HELP_OPT),
    epochs: int = _opt(None, "--epochs", help="Train for this many passes over the data "
                       "instead of --steps.", panel=HELP_OPT),
    ema: float = _opt(None, "--ema", metavar="DECAY", help="Keep an EMA copy of G for samples, "
                      "e.g. 0.999 (default 0: off).", panel=HELP_OPT),
    ema_kimg: float = _opt(None, "--ema-kimg", metavar="KIMG", help="Keep an EMA copy of G "
                           "whose half-life is KIMG thousand images, ramped up over the first "
                           "images as in StyleGAN2 (default 0: off; instead of --ema).",
                           panel=HELP_OPT),
    augment: bool = _opt(None, "--augment/--no-augment", help="DiffAugment (colour, "
                         "translation, cutout) for small data.", panel=HELP_OPT),
    ada: bool = _opt(None, "--ada/--no-ada", help="Adaptive augmentation (ADA): DiffAugment "
                     "on each image with a probability p steered by D's overfitting, "
                     "r_t = E[sign D(x)] (the loss's own reading of it: sign(D(x) - "
                     "D(G(z))) for relativistic and wgan, sign(D(x) - 0.5) for lsgan), toward "
                     "--ada-target.", panel=HELP_OPT),
    ada_target: float = _opt(None, "--ada-target", help="ADA's target for r_t (default 0.6).",
                             panel=HELP_OPT),
    seed: int = _opt(None, "--seed", help="Random seed (default 0).", panel=HELP_OPT),
    device: str = _opt(None, "--device", help="auto (default), cpu, cuda or mps.",
                       panel=HELP_OPT),
    amp: bool = _opt(None, "--amp/--no-amp", help="bfloat16 mixed precision (CUDA, or a CPU "
                     "with AVX512-BF16/AMX; float32 with a warning elsewhere).", panel=HELP_OPT),
    compile: bool = _opt(None, "--compile/--no-compile", help="torch.compile the training "
                         "forward passes.", panel=HELP_OPT),
    recipe: str = _opt(None, "--recipe", metavar="NAME", help="A named group of options "
                       "(gantool list recipe: lecture, dcgan, r3gan, own-images); flags "
                       "and --config override it.", panel=HELP_RUN),
    tensorboard: bool = _opt(None, "--tensorboard/--no-tensorboard", help="Write TensorBoard "
                             "event files into the run directory (default on).",
                             panel=HELP_RUN),
    config_file: Path = _opt(None, "--config", metavar="FILE", help="TOML file of options "
                             "(keys are option names, e.g. lr-g = 1e-4); flags override it.",
                             panel=HELP_RUN),
    run_dir: str = _opt(None, "--run-dir", help="Write the run here.", panel=HELP_RUN),
    name: str = _opt(None, "--name", help="Run name under --runs-root (default: time, "
                     "dataset, arch, loss).", panel=HELP_RUN),
    runs_root: str = _opt(None, "--runs-root", help="Where runs go (default ./runs).",
                          panel=HELP_RUN),
    sample_every: int = _opt(None, "--sample-every", help="Save a sample grid every N steps "
                             "(default 500).", panel=HELP_RUN),
    checkpoint_every: int = _opt(None, "--checkpoint-every", help="Checkpoint every N steps "
                                 "(default 1000).", panel=HELP_RUN),
    keep_last: int = _opt(None, "--keep-last", metavar="K", help="Keep the K newest "
                          "checkpoints (default 3).", panel=HELP_RUN),
    log_every: int = _opt(None, "--log-every", help="Log metrics and diagnostics every N "
                          "steps (default 100).", panel=HELP_RUN),
    eval_every: int = _opt(None, "--eval-every", metavar="N", help="Every N steps (and at "
                           "the end, or where a signal stops it) score the sampled G (EMA if kept) with gantool evaluate's "
                           "code: digits (mnist-5k, mnist, stacked-mnist): FID, IS and mode "
                           "coverage in digit-classifier features; ring8, grid25: mode "
                           "coverage. Into metrics.jsonl (\"eval\"), TensorBoard and "
                           "losses.png; the best G is kept in checkpoints/best.pt (default: "
                           "off).", panel=HELP_RUN),
    eval_samples: int = _opt(None, "--eval-samples", metavar="N", help="Samples per "
                             "--eval-every evaluation, at least 10 (default 1000 on digits, "
                             "about 10 s on one CPU core; 2500 on 2-D mixtures).",
                             panel=HELP_RUN),
    resume: str = _opt(None, "--resume", metavar="RUN", help="Continue RUN (a path, a name "
                       "under --runs-root, or 'latest') exactly where it stopped.",
                       panel=HELP_RUN),
    dry_run: bool = _opt(False, "--dry-run", help="Print the resolved options as JSON and "
                         "exit.", panel=HELP_RUN),
) -> None:
    """Train a GAN, by default with the lecture's alternating algorithm (fix G, train D; fix
    D, train G); --update chooses another game-theory update rule.

    Writes a run directory (config.json, checkpoints/, samples/, metrics.jsonl, losses.png,
    progress.gif) and prints its path on stdout. Progress and diagnostics go to stderr.

    Example: gantool train   (a small DCGAN on the bundled digits)

    The lecture's MLP GAN and minimax loss: gantool train --recipe lecture

    Mode collapse: gantool train --dataset ring8 --loss minimax   (then add --spectral-norm)

    Resume: gantool train --resume latest --steps 10000
    """
    options = {k: v for k, v in locals().items() if k not in ("config_file", "dry_run")}
    options["config"] = config_file
    from gantool import api
    from gantool.train.distributed import world_from_env

    if dry_run:
        print(json.dumps(api.train_options(**options), indent=2))
        return
    run = api.train(**options)
    if world_from_env().is_main:
        print(run.path)
