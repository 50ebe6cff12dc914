"""gantool: train, sample, evaluate and reason about GANs from the command line or from Python.

Every command has a function here, with the command's option names in snake_case, its defaults
and its error messages (gantool.api holds them; docs/api.md is the reference):

    import gantool
    run = gantool.train(dataset="ring8", steps=1000)   # -> gantool.api.Run
    run.grid()                                          # shows inline in Jupyter
    gantool.evaluate(run=run.path, metrics="mode-coverage")["modes"]

`import gantool` stays light: nothing heavier than this file is imported until a name is used,
and torch only when a function needs it.
"""

from __future__ import annotations

import types

from gantool.errors import GantoolError, UsageError

__version__ = "0.1.0"

# Names served by gantool.api, imported on first use (PEP 562).
_API = ("train", "train_options", "sample", "evaluate", "compare", "game_sim", "list", "runs",
        "report", "prepare", "train_classifier", "sweep", "open_run", "Run", "Picture",
        "Evaluation", "GameSim", "SweepResults", "Interrupted", "Diverged")
__all__ = ["GantoolError", "UsageError", "__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        from gantool import api

        return getattr(api, name)
    raise AttributeError(f"module 'gantool' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_API})


class _CommandPackage(types.ModuleType):
    """gantool.train, gantool.report and gantool.sweep are packages (the training loop, the
    HTML report, the search) and, called, the API functions of their commands. Python binds a
    subpackage to its parent's attribute once it is imported, so a plain function of that
    name would be replaced by the package the first time it ran; a callable package keeps
    `gantool.train(...)` working."""

    def __call__(self, *args, **kwargs):
        return self._function()(*args, **kwargs)

    def _function(self):
        from gantool import api

        return getattr(api, self.__name__.rpartition(".")[2])

    @property
    def __signature__(self):  # what Jupyter's Shift-Tab and inspect.signature show
        import inspect

        return inspect.signature(self._function())


def _make_callable(package: str) -> None:
    import importlib

    importlib.import_module(package).__class__ = _CommandPackage  # all light, no torch


_make_callable("gantool.train")
_make_callable("gantool.report")
_make_callable("gantool.sweep")
del _make_callable
