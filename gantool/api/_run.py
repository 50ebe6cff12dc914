"""A run directory as a Python object: what `gantool train` wrote, read without torch, and
the samples its generator makes."""

from __future__ import annotations

from pathlib import Path

from gantool.api._common import Picture, public


class Run:
    """A training run: its directory, resolved options, metrics records, sample grids and
    checkpoints. Returned by `gantool.train`; `gantool.open_run` opens an existing one.

    The files are read again at each access, so a Run of a run still training stays current.
    """

    def __init__(self, path: str | Path):
        from gantool.report.rundata import read_run

        self.path = Path(path)
        read_run(self.path)  # refuses a folder that is not a run, at once
        self.messages: list[str] = []  # what training said here: start, warnings, summary

    def _data(self):
        from gantool.report.rundata import read_run

        return read_run(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config(self) -> dict:
        """config.json: the resolved options ("options"), seed, versions, dataset, command."""
        return self._data().config

    @property
    def options(self) -> dict:
        """Every resolved training option, by its snake_case name."""
        return self._data().options

    @property
    def records(self) -> list[dict]:
        """metrics.jsonl: one dict per logged step (losses, D outputs, gradient norms,
        diagnostics, evaluations)."""
        return self._data().records

    @property
    def summary(self) -> dict | None:
        """summary.json: how the run ended (status, reason, steps, diagnostics), or None."""
        return self._data().summary

    @property
    def status(self) -> str:
        """finished, stopped, diverged or running."""
        return self._data().status

    @property
    def steps(self) -> int:
        """Steps done."""
        return self._data().steps_done

    @property
    def checkpoints(self) -> list[Path]:
        """The checkpoint files kept, oldest first."""
        from gantool.report.rundata import _step_files

        return [path for _, path in _step_files(self.path / "checkpoints", "pt")]

    @property
    def grids(self) -> dict[int, Path]:
        """The sample grids saved while training (one fixed latent batch): step -> PNG path."""
        return dict(self._data().samples)

    def grid_at(self, step: int | str = "final") -> Picture:
        """The grid saved at `step` ("final": the last one), shown inline in Jupyter."""
        grids = self.grids
        if not grids:
            from gantool.errors import GantoolError

            raise GantoolError(f"{self.path} has no sample grids yet")
        chosen = max(grids) if step == "final" else step
        if chosen not in grids:
            from gantool.errors import UsageError

            raise UsageError(f"{self.path} has no grid at step {step!r}; it has steps "
                             f"{', '.join(str(s) for s in sorted(grids))} (or 'final')")
        return Picture.from_file(grids[chosen], f"{self.name}, step {chosen}")

    def losses(self) -> Picture:
        """losses.png: the loss, D-output and diagnostic curves (written at the end)."""
        path = self.path / "losses.png"
        if not path.is_file():
            from gantool.errors import GantoolError

            raise GantoolError(f"{path} does not exist yet (it is drawn when training ends)")
        return Picture.from_file(path, f"{self.name}, losses")

    def failure_modes(self) -> dict[str, dict]:
        """The lecture's failure modes flagged while training: {kind: {"count", "checks",
        "first_step"}} for mode_collapse, non_convergence, diminished_gradient ({} if none).
        The log's own summary lines are in `messages` when the run was trained here."""
        return self._data().flags()

    def sample(self, n: int = 64, **options):
        """n samples of this run's generator as a numpy array: uint8 (N, H, W, C) images or
        float32 (N, D) points. Options as `gantool.sample` (seed, ema, class_index,
        truncation, ...)."""
        from gantool.api._sample import sample

        return sample(self.path, n=n, **options)

    @public
    def grid(self, n: int = 64, *, seed: int = 0, **options) -> Picture:
        """A fresh grid of n samples (a scatter plot over the modes for 2-D points), shown
        inline in Jupyter. Options as `gantool.sample`."""
        from gantool.api._sample import picture

        return picture(self.path, n=n, seed=seed, **options)

    def evaluate(self, **options):
        """`gantool.evaluate(run=this run, **options)`."""
        from gantool.api._evaluate import evaluate

        return evaluate(run=self.path, **options)

    def __repr__(self) -> str:
        data = self._data()
        planned = data.steps_planned
        steps = f"{data.steps_done}/{planned}" if planned else str(data.steps_done)
        return f"Run({str(self.path)!r}, {data.status}, {steps} steps)"


@public
def open_run(run: str | Path | None = None, *, runs_root: str | Path = "runs") -> Run:
    """An existing run: a directory, a name under runs_root, or None/'latest' (runs/latest)."""
    from gantool.train.rundir import resolve_run

    return Run(resolve_run(run, runs_root))
