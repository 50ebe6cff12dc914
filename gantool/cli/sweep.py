"""`gantool sweep`: a hyper-parameter search over `gantool train` at an equal CPU-time budget.

Thin: options -> gantool.sweep.study.Sweep -> DIR's results; the table (or --json) on stdout,
one progress line per trial event on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

PRUNERS = ("median", "halving", "none")


def sweep_command(
    train_args: list[str] = typer.Argument(
        None, metavar="[-- TRAIN_OPTIONS...]", show_default=False,
        help="gantool train options every trial shares, after --, e.g. -- --dataset ring8."),
    space_file: Path = typer.Option(
        ..., "--space", metavar="SPACE.toml", show_default=False,
        help="The options to search: keys are gantool train option names; a list is a "
             "choice (loss = [\"hinge\", \"non-saturating\"]), a table a range (lr-g = {low = "
             "1e-4, high = 2e-3, log = true}; int if both ends are), [true, false] a flag; "
             "\"arch-opt.width\" = [32, 64] for --arch-opt (and update-opt.KEY)."),
    trials: int = typer.Option(20, "--trials", min=1, metavar="N",
                               help="Trials in the sweep (with --resume: in all)."),
    budget_cpu: float = typer.Option(
        ..., "--budget-cpu", min=1, metavar="SECONDS", show_default=False,
        help="Training CPU-seconds (user + system, from the run's config.json on) each "
             "trial gets; then it is stopped (SIGINT: train saves and writes summary.json)."),
    eval_every: int = typer.Option(
        500, "--eval-every", min=1, metavar="STEPS",
        help="Each trial's gantool train --eval-every: the objective is its last "
             "evaluation's headline (FID on digits, modes on ring8/grid25)."),
    jobs: int = typer.Option(1, "--jobs", min=1, metavar="J", help="Trials at once."),
    threads: int = typer.Option(1, "--threads", min=1, metavar="T",
                                help="OMP_NUM_THREADS and MKL_NUM_THREADS of each trial."),
    seed: int = typer.Option(0, "--seed", min=0, metavar="S", help="Seed of the search's sampler (TPE); "
                             "the trials' own --seed goes after --."),
    pruner: str = typer.Option(
        "median", "--pruner", metavar="NAME",
        help="median (Optuna's MedianPruner), halving (SuccessiveHalvingPruner) or none; "
             "trials are compared at equal CPU-seconds, never in the first quarter of the "
             "budget."),
    leaders: int = typer.Option(3, "--leaders", min=0, metavar="L",
                                help="Re-run the best L finished trials at more seeds."),
    leader_seeds: int = typer.Option(2, "--leader-seeds", min=0, metavar="K",
                                     help="Seeds per leader beyond its own (seed+1 ... "
                                          "seed+K); 0 turns the re-runs off."),
    evaluate: str = typer.Option(
        None, "--evaluate", metavar="\"ARGS\"", show_default=False,
        help="Also run gantool evaluate --run TRIAL ARGS --json on every finished trial, "
             "e.g. --evaluate \"--real mnist-5k --n 10000\"."),
    out: Path = typer.Option(Path("sweep"), "--out", metavar="DIR",
                             help="Where the study, the trials and the results go."),
    resume: bool = typer.Option(False, "--resume", help="Continue the sweep in --out (the "
                                "same space, options and budget)."),
    as_json: bool = typer.Option(False, "--json", help="Print results.json instead of the "
                                 "table."),
) -> None:
    """Search gantool train options at an equal CPU-time budget with Optuna (TPE sampler,
    median pruner at equal CPU-seconds), re-run the leaders at more seeds, and write
    results.json, results.csv, table.md and frontier.png into --out.

    Example: gantool sweep --space space.toml --trials 30 --budget-cpu 300 --out sweeps/a
    -- --dataset mnist-5k --amp

    Continue after Ctrl-C: the same command with --resume. Progress goes to stderr, the table
    to stdout.
    """
    from gantool.errors import UsageError

    if pruner not in PRUNERS:
        raise UsageError(f"--pruner must be one of: {', '.join(PRUNERS)}, not {pruner!r}")
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise UsageError("gantool sweep needs Optuna: pip install optuna") from None
    from gantool.sweep import space, study

    settings = study.Settings(
        out=str(out), space=space.read_space(space_file), fixed=list(train_args or []),
        trials=trials, budget_s=budget_cpu, eval_every=eval_every, jobs=jobs,
        threads=threads, seed=seed, leaders=leaders, leader_seeds=leader_seeds,
        pruner=pruner, evaluate=evaluate)
    sweep = study.Sweep(settings, resume, say=lambda line: print(line, file=sys.stderr))
    try:
        sweep.run()
    finally:
        result = study.write_outputs(sweep)
    print(json.dumps(result, indent=2, default=str) if as_json
          else (out / "table.md").read_text(), end="" if not as_json else "\n")
