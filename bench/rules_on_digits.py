"""Update rules on mnist-5k at equal wall time: does any rule beat alternating Adam on digits?

Every rule trains the default run (`gantool train --update RULE`, every other option left at its
default: today the deeper dcgan pair with the hinge loss and TTUR; bench/results/rules_on_digits*.json were
measured with the default before issue 24's search, the non-saturating loss with Adam 2e-4 and
beta1 0.5 at width 32) for the same wall time. Runs go two at a time,
one thread each, so every run shares the machine with exactly one other and load hits all of
them alike. A rule that costs more per step (extragradient's extrapolation, consensus's double
backward) reaches fewer steps in the budget: equal wall time is the comparison a user faces.
At each time T the newest checkpoint written by T is scored with `gantool evaluate` against
mnist-5k in the digits classifier's features (the same figures as bench_quality.py), next to the
real MNIST test digits' own scores (the limit). A second seed of alternating shows how far two
seeds of one rule already differ; `--seeds 0,1,2` runs every rule at each seed instead.

    python bench/rules_on_digits.py
    python bench/rules_on_digits.py --rules alternating,optimistic --seeds 0,1,2 --extra-seed -1
    python bench/rules_on_digits.py --rules consensus:gamma=0.1,consensus:gamma=0.01 --extra-seed -1
    python bench/rules_on_digits.py --at 150,300 --rules alternating,consensus --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_quality import (COLUMNS, checkpoints_by_time, evaluate, figures, mnist_test_digits,
                           row)

RULES = "alternating,simultaneous,extragradient,optimistic,consensus,sga,lookahead"


def run_name(rule: str, seed: int) -> str:
    """`consensus:gamma=0.1` at seed 0 trains in the folder `consensus_gamma=0.1-0`."""
    return f"{rule.replace(':', '_')}-{seed}"


def launch(rule: str, seed: int, runs: Path, threads: int,
           every: int) -> tuple[subprocess.Popen, float]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    name, *options = rule.split(":")
    update = [arg for option in options for arg in ("--update-opt", option)]
    # A checkpoint every `every` steps, all kept, so each time T has a recent one.
    cmd = [sys.executable, "-m", "gantool", "train", "--update", name, *update,
           "--seed", str(seed), "--runs-root", str(runs), "--name", run_name(rule, seed),
           "--checkpoint-every", str(every),
           "--keep-last", "100000", "--no-tensorboard"]
    launched = time.time()
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            cwd=runs), launched


def train_pair(jobs: list[tuple[str, int]], runs: Path, budget: float, threads: int,
               every: int) -> dict[str, float]:
    """Train up to two runs at once for `budget` seconds each; their launch times by name."""
    started = [(run_name(rule, seed), *launch(rule, seed, runs, threads, every))
               for rule, seed in jobs]
    for name, process, launched in started:
        try:
            process.wait(timeout=max(launched + budget - time.time(), 0))
        except subprocess.TimeoutExpired:
            process.terminate()  # gantool saves a checkpoint and exits 143
            process.wait()
        if process.returncode not in (0, 143):
            raise SystemExit(f"rules_on_digits: {name} failed: "
                             f"{process.stderr.read().decode()[-2000:]}")
    return {name: launched for name, _, launched in started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", default=RULES,
                        help=f"comma-separated (default {RULES}); RULE:KEY=VALUE[:KEY=VALUE] "
                             "passes --update-opt KEY=VALUE, e.g. consensus:gamma=0.1")
    parser.add_argument("--at", default="150,300",
                        help="comma-separated wall times in seconds; the last is the budget")
    parser.add_argument("--seeds", default="0",
                        help="comma-separated seeds, each rule runs at every one (default 0)")
    parser.add_argument("--extra-seed", type=int, default=1,
                        help="a second seed of alternating (-1: none)")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--n", type=int, default=10000, help="samples scored per checkpoint")
    parser.add_argument("--max-samples", type=int,
                        help="features kept per side for prdc and memorization [evaluate's]")
    parser.add_argument("--checkpoint-every", type=int, default=100,
                        help="steps between the checkpoints the times T pick from")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args(argv)
    at = sorted(float(t) for t in args.at.split(","))
    # Seed by seed, so the runs that share the machine are the rules at one seed.
    jobs = [(rule, int(seed)) for seed in args.seeds.split(",") for rule in args.rules.split(",")]
    if args.extra_seed >= 0 and ("alternating", args.extra_seed) not in jobs:
        jobs.append(("alternating", args.extra_seed))
    print(f"{len(jobs)} runs of the default with --update RULE, {at[-1]:.0f} s each, two at a "
          f"time, {args.threads} thread(s) each; snapshots at {args.at} s scored on digits "
          "features vs mnist-5k")
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        launched: dict[str, float] = {}
        for i in range(0, len(jobs), 2):
            launched |= train_pair(jobs[i:i + 2], runs, at[-1], args.threads,
                                   args.checkpoint_every)
        kept = ["--max-samples", str(args.max_samples)] if args.max_samples else []
        results["limit"] = figures(evaluate(
            ["--fake", str(mnist_test_digits(runs / "t.npz")), *kept], runs))
        for name, start in launched.items():
            for t, checkpoint in zip(at, checkpoints_by_time(runs / name, start, at)):
                if checkpoint is not None:
                    results[f"{name}@{t:.0f}"] = {
                        "checkpoint": checkpoint.name,
                        "step": int(checkpoint.stem.split("-")[1]),
                        **figures(evaluate(
                            ["--checkpoint", str(checkpoint), "--n", str(args.n), *kept], runs))}
    header = ["rule (seed), step", "wall s"] + [title for _, title in COLUMNS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print(row("real MNIST test digits (limit)", "-", results["limit"]))
    for t in at:
        for name in launched:
            values = results.get(f"{name}@{t:.0f}")
            if values is not None:
                rule, seed = name.rsplit("-", 1)
                print(row(f"{rule.replace('_', ' ')} ({seed}), {values['step']:,}", f"{t:.0f}", values))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
