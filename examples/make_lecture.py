"""Writes examples/lecture.ipynb (without outputs) from the cells below: edit here, then run
`python examples/make_lecture.py`. tests/test_notebook.py checks the two agree."""

from __future__ import annotations

from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent

CELLS = [
    ("markdown", """\
# Generative adversarial networks: the lecture, runnable

The lecture's slides as code you can run on a laptop CPU in a few minutes, with
gantool's Python API (`import gantool`; reference: `docs/api.md`).

1. The x\\*y game: why simultaneous gradient steps do not find the Nash equilibrium.
2. Dirac-GAN: the smallest GAN, with and without the R1 penalty.
3. Train a GAN on MNIST digits: the sample grids at steps 0, 500, 1000 and at the end, and
   the lecture's three failure modes as gantool checks them.
4. Mode collapse on eight Gaussians (ring8), and its cure.
5. Evaluate the result.

Training shows one progress line per run. Jupyter's stop button (interrupt) stops training at
the end of the current step, saves a checkpoint and raises `gantool.Interrupted`; its `run`
attribute is the stopped run, and `gantool.train(resume=run.path, steps=...)` continues it."""),
    ("code", """\
# Budgets: the defaults take a few minutes on a CPU; the test suite runs this notebook with
# smaller ones (papermill-style "parameters" cell).
STEPS = 1500          # the digit GAN (DCGAN on the 5,000 bundled MNIST digits)
RING8_STEPS = 5000    # each ring8 run
EVAL_SAMPLES = 2000   # samples drawn for `evaluate`
SEED = 0""", {"tags": ["parameters"]}),
    ("code", """\
import gantool
from IPython.display import display

gantool.__version__"""),
    ("markdown", """\
## 1. Nash equilibrium and the x\\*y game

Player A holds $x$ and wants $V(x, y) = xy$ large; player B holds $y$ and wants it small. The
Nash equilibrium is $(0, 0)$: there neither player gains by moving alone. Gradient steps for
both at once, $\\Delta x = \\alpha\\, \\partial V/\\partial x = \\alpha y$ and
$\\Delta y = -\\alpha\\, \\partial V/\\partial y = -\\alpha x$, from the lecture's start
$(2, 2)$:"""),
    ("code", """\
xy = gantool.game_sim(2, 2)          # `gantool game-sim --x 2 --y 2`
print(xy.summary)
xy.trajectories["simgd"][:4]         # (x, y) per step, a numpy array"""),
    ("code", """\
xy.plot()   # the trajectory over the update field, and the distance to (0, 0) per step"""),
    ("markdown", """\
Each step multiplies the distance to the equilibrium by $\\sqrt{1 + \\alpha^2}$: the players
circle ever further out. It cannot converge. Methods that look one step ahead do:"""),
    ("code", """\
rules = gantool.game_sim(2, 2, update="simgd,altgd,extragradient", steps=300)
for name, verdict in rules.verdicts.items():
    print(f"{name:14s} {verdict}")
rules.plot()"""),
    ("markdown", """\
## 2. Dirac-GAN: the smallest GAN

The data is a single point at 0; the generator is another point at $\\theta$, and the
discriminator a line $D(x) = \\psi x$. Without regularisation, simultaneous gradient steps
circle away from the equilibrium $(\\theta, \\psi) = (0, 0)$, like x\\*y. The R1 penalty
($\\gamma/2$ times D's squared gradient on real data) makes the same steps converge."""),
    ("code", """\
plain = gantool.game_sim(1, 1, game="dirac-gan", update="simgd,altgd", steps=500)
print(plain.summary)
plain.plot()"""),
    ("code", """\
r1 = gantool.game_sim(1, 1, game="dirac-gan", regularizer="r1", gamma=0.3,
                      update="simgd,altgd", steps=500)
print(r1.summary)
r1.plot()"""),
    ("markdown", """\
## 3. Train a GAN on MNIST

The lecture's algorithm, alternating: step 1 fixes G and trains D to tell real digits from
generated ones; step 2 fixes D and trains G to fool it. `gantool.train()` with no dataset
trains a small DCGAN on the 5,000 MNIST digits that ship with gantool's dependencies, and
keeps a sample grid of the same 64 noise vectors every 500 steps: the lecture's "epoch 0,
500, 1000" slides."""),
    ("code", """\
run = gantool.train(steps=STEPS, seed=SEED)
run"""),
    ("code", """\
for step in [s for s in (0, 500, 1000) if s in run.grids] + ["final"]:
    print(f"step {step}")
    display(run.grid_at(step))"""),
    ("markdown", """\
The lecture's three failure modes, *non-convergence*, *mode collapse* and the *diminished
gradient*, are checked at every log step; the summary printed at the end of training (above,
and kept in `run.messages`) says which were seen. `run.failure_modes()` counts the flagged
checks, and `run.losses()` shows the curves."""),
    ("code", """\
print(run.failure_modes() or "no failure mode flagged")
run.losses()"""),
    ("markdown", """\
## 4. Mode collapse on ring8, and its cure

ring8 is eight Gaussians on a circle: a generator that covers them all puts an eighth of its
samples on each. With the generator's learning rate a fifth of the discriminator's
(`lr_g=2e-4`, `lr_d=1e-3`), G collapses onto a single mode (docs/howto/mode-collapse.md)."""),
    ("code", """\
collapse = gantool.train(dataset="ring8", lr_g=2e-4, steps=RING8_STEPS, seed=SEED)
display(collapse.grid(2000))
gantool.evaluate(run=collapse.path, metrics="mode-coverage")"""),
    ("markdown", """\
The cure: spectral normalisation of D bounds how steeply it can change, so it cannot wall
off the one mode G found and keeps pointing G to the others. Same run, one option more:"""),
    ("code", """\
cured = gantool.train(dataset="ring8", lr_g=2e-4, spectral_norm=True, steps=RING8_STEPS,
                      seed=SEED)
display(cured.grid(2000))
gantool.evaluate(run=cured.path, metrics="mode-coverage")"""),
    ("markdown", """\
`modes` counts the modes with at least 0.5% of the samples within 3 standard deviations;
`mode_kl` is 0 when every mode gets its eighth and $\\log 8 \\approx 2.08$ when all samples
land on one.

## 5. Evaluate the digit GAN

FID, KID and precision/recall/density/coverage of the MNIST run against the bundled digits,
in the features of gantool's digit classifier (offline). The result is a dict of values; its
`protocol` records how they were measured."""),
    ("code", """\
scores = gantool.evaluate(run=run.path, n=EVAL_SAMPLES)
display(scores)
{name: round(value, 4) for name, value in scores.items()}"""),
    ("code", """\
scores.protocol["feature_extractor"], scores.protocol["n_fake"], scores.protocol["n_real"]"""),
]


def notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                  "language": "python"},
                   "language_info": {"name": "python"}}
    for i, (kind, source, *metadata) in enumerate(CELLS):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        cell = make(source, id=f"cell-{i:02d}")  # stable ids: regenerating changes nothing
        cell.metadata = metadata[0] if metadata else {}
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def render() -> str:
    return nbformat.writes(notebook()) + "\n"


if __name__ == "__main__":
    (HERE / "lecture.ipynb").write_text(render(), encoding="utf-8")
    print(HERE / "lecture.ipynb")
