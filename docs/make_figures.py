"""Regenerate the figures of the documentation with gantool itself.

    python docs/make_figures.py              # every figure (the training runs: ~15 min on CPU)
    python docs/make_figures.py --small      # only the fast ones (game-sim plots, seconds)
    python docs/make_figures.py --list       # each figure with the commands that make it
    python docs/make_figures.py 'howto/*'    # only the figures whose path matches
    python docs/make_figures.py --keep DIR   # train in DIR and keep the runs and their logs

Each figure is made by the gantool commands listed here, and the page that shows the figure
quotes the same commands (tests/test_docs.py checks both, and regenerates the small figures).
`{img}` stands for docs/img. The commands run in a fresh temporary directory, so the runs they
train (runs/NAME) start from scratch every time and never touch your own runs/. When a figure is
a file a run writes (e.g. its losses.png), `source` names it. Commands shared by several figures
(one training run, several of its sample grids) run once.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
IMG = "docs/img"  # how {img} is written in the pages
# {emoji}: the real colour folder beside the repository (shared/data, never copied into it)
EMOJI = "../shared/data/emoji-noto-64"  # how {emoji} is written in the pages
EMOJI_DIR = REPO.parent / "shared" / "data" / "emoji-noto-64"
# {sweeps}: the search spaces of docs/train.md's digits search
SWEEPS = "bench/sweeps"  # how {sweeps} is written in the pages
SWEEPS_DIR = REPO / "bench" / "sweeps"


@dataclass(frozen=True)
class Figure:
    path: str  # under docs/img
    commands: tuple[str, ...]  # what a reader types; {img} = docs/img
    small: bool = False  # fast enough for the test suite
    source: str | None = None  # a file the commands write, copied to `path`
    # made by a bench script against a reference's own code (not shipped, an hour of CPU):
    # listed and quoted like the others, but make_figures does not rerun it
    bench: bool = False

    def shown(self) -> list[str]:
        """The commands as the docs print them."""
        return [c.format(img=IMG, emoji=EMOJI, sweeps=SWEEPS) for c in self.commands]


MNIST_RUN = "gantool train --arch mlp --steps 1500 --name mnist-lecture"
# The default run before issue 24's search (docs/train.md, "How the default was chosen")
DEFAULT_BEFORE = ("--loss non-saturating --update alternating --lr-g 2e-4 --lr-d 2e-4 --beta1 0.5 "
                  "--arch-opt g_width=32 --arch-opt g_extra=0 --arch-opt d_extra=0")
# Mescheder et al. 2017's mixture-of-Gaussians networks and batch as gantool spells them; Adam
# with beta1 = 0, beta2 = 0.9 stands in for their RMSProp (decay 0.9), see x-to-real-gans.md
MOG_OPTIONS = ("--arch-opt width=16 --arch-opt depth=4 --z-dim 16 --batch-size 512 "
               "--lr-g 1e-3 --lr-d 1e-3 --beta1 0 --beta2 0.9")

OWN_IMAGES_BENCH = (
    "gantool train-classifier --dataset folder --data-root {emoji} --image-size 32 --width 16 "
    "--epochs 8 --out emoji32.safetensors",
    "python bench/own_images.py --dcgan-py dcgan.py --extractor emoji32.safetensors "
    "--at 300,600,1200,1800 --score-at 600,1800 --n 5000 --work own-images "
    "--out {img}/howto/own-images",
)

DIGITS_SWEEP = ("gantool sweep --space {sweeps}/digits.toml --trials 16 --budget-cpu 240 "
                "--eval-every 500 --jobs 2 --leaders 0 --out digits240 -- --no-tensorboard")

FIGURES: tuple[Figure, ...] = (
    # theory/nash-equilibrium.md: the lecture's x*y game and Dirac-GAN (game-sim, seconds)
    Figure("theory/xy-simgd.png", (
        "gantool game-sim --x 2 --y 2 --plot {img}/theory/xy-simgd.png",), small=True),
    Figure("theory/xy-optimizers.png", (
        "gantool game-sim --x 2 --y 2 --optimizer simgd,altgd,extragradient,flow "
        "--plot {img}/theory/xy-optimizers.png",), small=True),
    Figure("theory/dirac-gan.png", (
        "gantool game-sim --game dirac-gan --x 1 --y 1 --optimizer simgd,altgd --steps 300 "
        "--plot {img}/theory/dirac-gan.png",), small=True),
    Figure("theory/dirac-gan-r1.png", (
        "gantool game-sim --game dirac-gan --x 1 --y 1 --optimizer simgd,altgd --steps 300 "
        "--regularizer r1 --plot {img}/theory/dirac-gan-r1.png",), small=True),
    # theory/x-to-real-gans.md: the rules on the toys (seconds), then on Mescheder et al.'s
    # mixture of Gaussians (two 2,000-step runs, about 2 minutes on CPU)
    Figure("theory/x-to-real-xy.png", (
        "gantool game-sim --x 2 --y 2 -u simgd,altgd,extragradient,ogda,consensus,sga,lookahead "
        "--plot {img}/theory/x-to-real-xy.png",), small=True),
    Figure("theory/x-to-real-dirac.png", (
        "gantool game-sim -g dirac-gan --loss non-saturating --x 1 --y 1 "
        "-u simgd,altgd,extragradient,consensus --steps 300 "
        "--plot {img}/theory/x-to-real-dirac.png",), small=True),
    *(Figure(f"theory/mog-{rule}.png", (
        f"gantool train --dataset ring8 --loss non-saturating --update {rule}{gamma} "
        f"{MOG_OPTIONS} --steps 2000 --name mog-{rule}",
        f"gantool sample --run mog-{rule} --n 2000 --out {{img}}/theory/mog-{rule}.png"))
      for rule, gamma in (("simultaneous", ""), ("consensus", " --update-opt gamma=10"))),
    # theory/algorithm.md: the lecture's "epoch 0, 500, 1000, 1500, final output" on MNIST
    *(Figure(f"theory/mnist-step-{step:06d}.png", (MNIST_RUN,),
             source=f"runs/mnist-lecture/samples/step-{step:06d}.png")
      for step in (0, 500, 1000, 1500)),
    Figure("theory/mnist-final.png", (
        MNIST_RUN, "gantool sample --run mnist-lecture --n 64 --out {img}/theory/mnist-final.png")),
    # train.md: the default run's final samples (about 8 minutes on a 2-core CPU), beside those
    # of the default before the search (its options spelled out today; about 3 minutes)
    Figure("train/default-samples.png", (
        "gantool train --name default",
        "gantool sample --run default --n 64 --out {img}/train/default-samples.png")),
    Figure("train/default-samples-before.png", (
        f"gantool train {DEFAULT_BEFORE} --name default-before",
        "gantool sample --run default-before --n 64 "
        "--out {img}/train/default-samples-before.png")),
    # train.md, "Searching for a better default": the first search's frontier (about an hour
    # of CPU for its 16 trials: listed, not rerun), then its best trial and the default at 20
    # CPU-minutes each
    Figure("train/search-frontier-240cpu-s.png", (DIGITS_SWEEP,), bench=True),
    *(Figure(f"train/search-{name}-1200cpu-s.png", (
        f"gantool sweep --space {{sweeps}}/{space}.toml --trials 1 --budget-cpu 1200 "
        f"--eval-every 2000 --leaders 0 --out {name}-1200 -- --no-tensorboard",
        f"gantool sample --run {name}-1200/trials/0000 --n 64 "
        f"--out {{img}}/train/search-{name}-1200cpu-s.png"))
      for name, space in (("trial5", "digits-trial5"), ("default", "default"))),
    # train.md: ADA's p and r_t on 500 digits (about 3 minutes on a 2-core CPU)
    Figure("train/ada-500-losses.png", (
        "gantool train --subset 500 --no-spectral-norm --steps 3000 --ada --name ada-500",),
        source="runs/ada-500/losses.png"),
    # howto/diagnostics.md: the conditional run, labels 0-9 by column (about 5 CPU-minutes)
    Figure("howto/conditional-projection.png", (
        "gantool train --conditional --steps 2000 --name cond",
        "gantool sample --run cond --n 100 --out {img}/howto/conditional-projection.png")),
    # howto/own-images.md: the own-images recipe against PyTorch-GAN's dcgan.py at equal CPU time
    # on the emoji folder, in the folder's own classifier features (bench/own_images.py, about
    # an hour of CPU, and dcgan.py's own file: listed here, not rerun)
    *(Figure(f"howto/own-images/{side}-{budget}cpu-s.png", OWN_IMAGES_BENCH, bench=True)
      for side in ("ours", "ref") for budget in (600, 1800)),
    # howto/own-images.md: the same recipe at 64 px (about 10 CPU-minutes)
    Figure("howto/own-images-64.png", (
        "gantool train --recipe own-images --dataset folder --data-root {emoji} "
        "--image-size 64 --steps 500 --name emoji64",
        "gantool sample --run emoji64 --n 64 --out {img}/howto/own-images-64.png")),
    # theory/failure-modes.md and howto/mode-collapse.md: the three failure modes on ring8
    Figure("theory/non-convergence-losses.png", (
        "gantool train --dataset ring8 --arch mlp2d --lr-g 5e-3 --lr-d 5e-3 --beta1 0.9 "
        "--steps 2000 --log-every 25 --name ring8-oscillating",),
        source="runs/ring8-oscillating/losses.png"),
    Figure("theory/diminished-gradient-losses.png", (
        "gantool train --dataset ring8 --arch mlp2d --loss minimax --lr-g 1e-2 --lr-d 1e-2 "
        "--steps 1000 --log-every 25 --name ring8-minimax-stuck",),
        source="runs/ring8-minimax-stuck/losses.png"),
    Figure("howto/ring8-collapse.png", (
        "gantool train --dataset ring8 --arch mlp2d --lr-g 2e-4 --name ring8-collapse",
        "gantool sample --run ring8-collapse --n 2000 --out {img}/howto/ring8-collapse.png")),
    Figure("howto/ring8-spectral-norm.png", (
        "gantool train --dataset ring8 --arch mlp2d --lr-g 2e-4 --spectral-norm --steps 10000 "
        "--name ring8-spectral-norm",
        "gantool sample --run ring8-spectral-norm --n 2000 "
        "--out {img}/howto/ring8-spectral-norm.png")),
)


def run_figure(fig: Figure, img_dir: Path, cwd: Path, done: set[str] | None = None) -> Path:
    """Run a figure's commands with {img} = img_dir, in cwd; return the figure's path.

    Commands already in `done` (run earlier in the same cwd) are not repeated."""
    target = img_dir / fig.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)  # gantool never overwrites an output unasked
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    env.pop("GANTOOL_DEBUG", None)
    for command in fig.commands:
        text = command.format(img=img_dir, emoji=EMOJI_DIR, sweeps=SWEEPS_DIR)
        if done is not None and text in done:
            continue
        argv = shlex.split(text)
        if argv[0] != "gantool":
            raise ValueError(f"not a gantool command: {command}")
        proc = subprocess.run([sys.executable, "-m", "gantool", *argv[1:]], cwd=cwd, env=env,
                              capture_output=True, text=True)
        with open(cwd / "commands.log", "a", encoding="utf-8") as log:  # what the docs quote
            log.write(f"$ {text}\n{proc.stdout}{proc.stderr}\n")
        if proc.returncode != 0:
            raise RuntimeError(f"`{command}` failed ({proc.returncode}): {proc.stderr.strip()}")
        if done is not None:
            done.add(text)
    if fig.source is not None:
        shutil.copyfile(cwd / fig.source, target)
    if not target.is_file():
        raise RuntimeError(f"{fig.path}: the commands did not write {target}")
    return target


def main(argv: list[str]) -> int:
    options_with_values = {"--keep"}
    patterns = [a for i, a in enumerate(argv)
                if not a.startswith("--") and (i == 0 or argv[i - 1] not in options_with_values)]
    chosen = [f for f in FIGURES if (f.small or "--small" not in argv)
              and (not patterns or any(fnmatch(f.path, p) for p in patterns))]
    if "--list" in argv:
        for fig in chosen:
            print(f"docs/img/{fig.path}" + (f"  (copied from {fig.source})" if fig.source else ""))
            for command in fig.shown():
                print(f"    {command}")
        return 0
    done: set[str] = set()
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    with tempfile.TemporaryDirectory(prefix="gantool-figures-") as work:
        cwd = Path(keep or work)
        cwd.mkdir(parents=True, exist_ok=True)
        for fig in chosen:
            if fig.bench:
                print(f"skipping docs/img/{fig.path}: a bench makes it ({fig.shown()[-1]})",
                      file=sys.stderr)
                continue
            print(f"making docs/img/{fig.path}", file=sys.stderr)
            run_figure(fig, REPO / IMG, cwd, done)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
