"""gantool.sweep: a hyper-parameter search over gantool train at an equal CPU-time budget.

The command's checks live here once (`gantool sweep` parses its flags and calls this); the
search itself is gantool.sweep.study's (Optuna's sampler and pruner, train children). The
result is what DIR holds, as Python: the trials as records, the leaders, the paths of
table.md / results.json / results.csv / frontier.png, and a table that Jupyter shows.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from gantool.api._common import Picture, in_notebook, public
from gantool.errors import UsageError

PRUNERS = ("median", "halving", "none")


class SweepResults:
    """A sweep's results (DIR/results.json as Python). `trials` is one dict per trial, best
    first (trial, state, params, args, value, cpu_s, steps, evals, final, error, run_dir);
    `leaders` one dict per re-run leader (trial, params, seeds, values, n, mean, std, min,
    max, runs). Shown in Jupyter as the table.md table."""

    def __init__(self, path: str | Path, result: dict, messages: list[str] | None = None):
        self.path = Path(path)
        self.result = result
        self.messages: list[str] = list(messages or [])  # the progress lines, in order

    @property
    def trials(self) -> list[dict]:
        return self.result["trials"]

    @property
    def leaders(self) -> list[dict]:
        return self.result["leaders"]

    @property
    def metric(self) -> dict:
        """The objective: name ("fid" or "modes"), direction, label."""
        return self.result["metric"]

    @property
    def settings(self) -> dict:
        return self.result["settings"]

    @property
    def best(self) -> dict | None:
        """The best complete trial's record, or None when no trial completed."""
        return next((t for t in self.trials if t["state"] == "complete"), None)

    @property
    def table_md(self) -> Path:
        return self.path / "table.md"

    @property
    def results_json(self) -> Path:
        return self.path / "results.json"

    @property
    def results_csv(self) -> Path:
        return self.path / "results.csv"

    @property
    def frontier_png(self) -> Path:
        return self.path / "frontier.png"

    def table(self) -> str:
        """table.md's markdown: what `gantool sweep` prints on stdout."""
        from gantool.sweep import results

        return results.table(self.result)

    def to_dict(self) -> dict:
        """results.json's content: what `gantool sweep --json` prints."""
        return self.result

    def frontier(self) -> Picture:
        """frontier.png (quality against training CPU-seconds), shown inline in Jupyter."""
        return Picture.from_file(self.frontier_png, "sweep frontier")

    def run(self, trial: int):
        """A trial's run directory as a `Run` (its grids, records, samples)."""
        from gantool.api._run import Run

        found = next((t for t in self.trials if t["trial"] == trial), None)
        if found is None or not found.get("run_dir"):
            raise UsageError(f"no trial {trial} with a run directory in {self.path}; trials: "
                             f"{', '.join(str(t['trial']) for t in self.trials) or 'none'}")
        return Run(found["run_dir"])

    def _repr_markdown_(self) -> str:
        return self.table()

    def __repr__(self) -> str:
        best = self.best
        shown = f", best trial {best['trial']}: {best['value']:.4g}" if best else ""
        return (f"SweepResults({str(self.path)!r}, {len(self.trials)} trials, "
                f"{self.metric['name']}{shown})")


@public
def sweep(train_args: list[str] | str | dict | None = None, *,
          space: str | Path | dict, budget_cpu: float, trials: int = 20,
          eval_every: int = 500, jobs: int = 1, threads: int = 1, seed: int = 0,
          pruner: str = "median", leaders: int = 3, leader_seeds: int = 2,
          evaluate: str | None = None, out: str | Path = "sweep", resume: bool = False,
          progress: bool = True) -> SweepResults:
    """Search gantool train options at an equal CPU-time budget (`gantool sweep`) and return
    the results, also written to `out` (results.json, results.csv, table.md, frontier.png).

    Every option is the command's, in snake_case (`--budget-cpu` is `budget_cpu`), with its
    default (docs/sweep.md and `gantool sweep --help` describe each).

    Args:
        train_args: the gantool train options every trial shares (what follows `--` on the
            command line): a list of its arguments (`["--dataset", "ring8"]`), one string of
            them, or a dict in gantool.train's spelling (`{"dataset": "ring8",
            "tensorboard": False, "arch_opt": {"width": 32}}`; None values are left out).
        space: SPACE.toml's path, or its table as a dict (`{"lr-g": {"low": 1e-4,
            "high": 1e-3, "log": True}, "loss": ["hinge", "non-saturating"]}`).
        progress: one line per trial event (start, prune, finish, failure) on stderr; in
            Jupyter one line updated in place. False is silent. Kept in `messages` either way.

    Interrupting (Jupyter's stop button, Ctrl-C, SIGTERM) stops the running trials (each
    saves), writes the results so far and raises a GantoolError (exit code 130) whose
    `results` attribute holds them; `resume=True` with the same options continues. Bad
    input raises UsageError before any trial runs.
    """
    _check(trials=trials, budget_cpu=budget_cpu, eval_every=eval_every, jobs=jobs,
           threads=threads, seed=seed, leaders=leaders, leader_seeds=leader_seeds)
    if pruner not in PRUNERS:
        raise UsageError(f"--pruner must be one of: {', '.join(PRUNERS)}, not {pruner!r}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("gantool sweep needs Optuna: pip install optuna") from None
    from gantool.sweep import study

    raw_space = _read_space(space)
    settings = study.Settings(
        out=str(out), space=raw_space, fixed=_as_args(train_args), trials=trials,
        budget_s=budget_cpu, eval_every=eval_every, jobs=jobs, threads=threads, seed=seed,
        leaders=leaders, leader_seeds=leader_seeds, pruner=pruner, evaluate=evaluate)
    say = _Progress(progress, trials)
    searched = study.Sweep(settings, resume, say=say)
    say.sweep = searched
    try:
        searched.run()
    except study.Interrupted as exc:
        exc.results = SweepResults(out, study.write_outputs(searched), say.said)
        raise
    finally:
        say.close()
    return SweepResults(out, study.write_outputs(searched), say.said)


# The command's lower bounds, checked here so that the API and the CLI say the same.
MINIMUM = {"trials": 1, "budget_cpu": 1, "eval_every": 1, "jobs": 1, "threads": 1,
           "seed": 0, "leaders": 0, "leader_seeds": 0}


def _check(**values) -> None:
    for name, value in values.items():
        flag = "--" + name.replace("_", "-")
        number = (int, float) if name == "budget_cpu" else int
        if isinstance(value, bool) or not isinstance(value, number):
            raise UsageError(f"{flag} must be a number, got {value!r}" if name == "budget_cpu"
                             else f"{flag} must be an integer, got {value!r}")
        if value < MINIMUM[name]:
            raise UsageError(f"{flag} must be at least {MINIMUM[name]}, got {value:g}")


def _read_space(space) -> dict:
    """SPACE.toml's table: read from its path, or given as a dict."""
    from gantool.sweep.space import read_space

    if isinstance(space, dict):
        if not space:
            raise UsageError("--space names no option to search over")
        return dict(space)
    if not isinstance(space, (str, Path)):
        raise UsageError(f"--space is SPACE.toml's path or its table as a dict, not "
                         f"{type(space).__name__}")
    return read_space(space)


def _as_args(train_args) -> list[str]:
    """The shared train options as `gantool train` arguments (what follows `--`)."""
    if train_args is None:
        return []
    if isinstance(train_args, str):
        return shlex.split(train_args)
    if not isinstance(train_args, dict):
        return [str(arg) for arg in train_args]
    from gantool.sweep import options, space

    known = options.train_options()
    values, assignments = {}, []
    for key, value in train_args.items():
        name = key.replace("_", "-")
        if value is None:
            continue  # as leaving the flag out
        if name in space.SUB_OPTIONS and isinstance(value, dict):
            values.update({f"{name}.{k}": v for k, v in value.items()})
        elif name in space.SUB_OPTIONS:  # KEY=VALUE strings, as on the command line
            for item in [value] if isinstance(value, str) else value:
                assignments += [f"--{name}", str(item)]
        else:
            options.check_name(name, known, "options after --")
            values[name] = str(value) if isinstance(value, Path) else value
    return space.render(values) + assignments


class _Progress:
    """The sweep's `say`: lines on stderr (the command's), or one updating line in Jupyter;
    every line is kept for SweepResults.messages."""

    def __init__(self, enabled: bool, trials: int):
        self.enabled, self.trials = enabled, trials
        self.said: list[str] = []
        self.sweep = None  # set once the study is open: it counts the trials done
        self.line = None
        self.notebook = enabled and in_notebook()

    def __call__(self, line: str) -> None:
        self.said.append(line)
        if not self.enabled:
            return
        if not self.notebook:
            print(line, file=sys.stderr)
            return
        from gantool.api._progress import ProgressLine

        done = self.sweep.done() if self.sweep is not None else 0
        if self.line is None:
            self.line = ProgressLine("trials", self.trials, done)
        self.line.update(min(done, self.trials), stats=line, force=True)

    def close(self) -> None:
        if self.line is not None and self.sweep is not None:
            self.line.update(min(self.sweep.done(), self.trials), force=True)

