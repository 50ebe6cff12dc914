"""gantool's Python API: one function per command, with the command's options in snake_case,
its defaults, its checks and its error messages (the messages name the command's flags, e.g.
"--n must be at least 1"). The command line is a thin layer over these functions.

Errors raise `gantool.errors.UsageError` (bad input) or `GantoolError` (a runtime failure),
never SystemExit. Importing this module imports neither torch nor numpy; a function imports
what it needs when it runs.

    import gantool
    run = gantool.train(dataset="ring8", steps=2000)    # a Run
    run.grid()                                          # inline in Jupyter
    gantool.evaluate(run=run.path, metrics="mode-coverage")["modes"]
    gantool.game_sim(2, 2).plot()
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what the functions' modules hold, for readers, type checkers and the docs
    from gantool.api._classifier import train_classifier
    from gantool.api._common import Picture
    from gantool.api._evaluate import Evaluation, compare, evaluate
    from gantool.api._game import GameSim, game_sim
    from gantool.api._misc import list_components, prepare, report, runs
    from gantool.api._run import Run, open_run
    from gantool.api._sample import sample
    from gantool.api._sweep import SweepResults, sweep
    from gantool.api._train import train, train_options
    from gantool.train.loop import Diverged, Interrupted

# name -> the module that defines it. Each is imported on first use, so a command (or
# `gantool.game_sim`) loads only its own module: the command line starts as fast as before.
_WHERE = {
    "train": "gantool.api._train", "train_options": "gantool.api._train",
    "Run": "gantool.api._run", "open_run": "gantool.api._run",
    "sample": "gantool.api._sample", "Picture": "gantool.api._common",
    "evaluate": "gantool.api._evaluate", "compare": "gantool.api._evaluate",
    "Evaluation": "gantool.api._evaluate",
    "game_sim": "gantool.api._game", "GameSim": "gantool.api._game",
    "list_components": "gantool.api._misc", "runs": "gantool.api._misc",
    "report": "gantool.api._misc", "prepare": "gantool.api._misc",
    "train_classifier": "gantool.api._classifier",
    "sweep": "gantool.api._sweep", "SweepResults": "gantool.api._sweep",
    # The training loop's stop exceptions live beside the loop (which imports torch).
    "Interrupted": "gantool.train.loop", "Diverged": "gantool.train.loop",
}

__all__ = [
    "Diverged", "Evaluation", "GameSim", "Interrupted", "Picture", "Run", "SweepResults",
    "compare", "evaluate", "game_sim", "list", "list_components", "open_run", "prepare",
    "report", "runs", "sample", "sweep", "train", "train_classifier", "train_options",
]


def __getattr__(name: str):
    if name == "list":  # gantool.list(kind) mirrors `gantool list KIND`
        name = "list_components"
    if name not in _WHERE:
        raise AttributeError(f"module 'gantool.api' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name]), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
