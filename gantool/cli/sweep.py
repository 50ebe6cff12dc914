"""`gantool sweep`: a hyper-parameter search over `gantool train` at an equal CPU-time budget.

Thin: typer parses; gantool.api.sweep checks the options and runs the search (DIR's results);
the table (or --json) on stdout, one progress line per trial event on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


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
    trials: int = typer.Option(20, "--trials", metavar="N",
                               help="Trials in the sweep, at least 1 (with --resume: in all)."),
    budget_cpu: float = typer.Option(
        ..., "--budget-cpu", metavar="SECONDS", show_default=False,
        help="Training CPU-seconds (user + system, from the run's config.json on), at least "
             "1, each trial gets; then it is stopped (SIGINT: train saves and writes "
             "summary.json)."),
    eval_every: int = typer.Option(
        500, "--eval-every", metavar="STEPS",
        help="Each trial's gantool train --eval-every: the objective is its last "
             "evaluation's headline (FID on digits, modes on ring8/grid25)."),
    jobs: int = typer.Option(1, "--jobs", metavar="J", help="Trials at once (at least 1)."),
    threads: int = typer.Option(1, "--threads", metavar="T",
                                help="OMP_NUM_THREADS and MKL_NUM_THREADS of each trial "
                                     "(at least 1)."),
    seed: int = typer.Option(0, "--seed", metavar="S", help="Seed of the search's sampler (TPE); "
                             "the trials' own --seed goes after --."),
    pruner: str = typer.Option(
        "median", "--pruner", metavar="NAME",
        help="median (Optuna's MedianPruner), halving (SuccessiveHalvingPruner) or none; "
             "trials are compared at equal CPU-seconds, never in the first quarter of the "
             "budget."),
    leaders: int = typer.Option(3, "--leaders", metavar="L",
                                help="Re-run the best L finished trials at more seeds."),
    leader_seeds: int = typer.Option(2, "--leader-seeds", metavar="K",
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
    from gantool import api

    results = api.sweep(
        train_args, space=space_file, budget_cpu=budget_cpu, trials=trials,
        eval_every=eval_every, jobs=jobs, threads=threads, seed=seed, pruner=pruner,
        leaders=leaders, leader_seeds=leader_seeds, evaluate=evaluate, out=out, resume=resume)
    if as_json:
        print(json.dumps(results.to_dict(), indent=2, default=str))
    else:
        print(results.table(), end="")
