"""The toy's prediction checked on real training: update rules on ring8 / grid25 (issue 14, section 2).

For every dataset x loss x update rule x seed this trains with the real CLI (`gantool train`, one
subprocess per run), scores the final G with `gantool evaluate --metrics mode-coverage`, and
reads the run's own diagnostics (metrics.jsonl's `diag` flags, summary.json's status). Next to
each rule it asks `gantool game-sim` what the toys predict at the same step sizes: Dirac-GAN with
the matching loss (minimax = game-sim's `standard`) and the bilinear game x*y, D being game-sim's
maximising player x (--lr-x = --lr-d) and G the minimising y (--lr-y = --lr-g).

    python bench/rules_on_mixtures.py --out-dir /tmp/rules --json rules.json
    python bench/rules_on_mixtures.py --datasets ring8 --updates simultaneous,consensus \\
        --extra "--batch-size 512 --beta1 0" --out-dir /tmp/mescheder --json mescheder.json

Results go to the JSON file after every run (a rerun with the same --json skips the runs it
already holds, so an interrupted sweep resumes); the markdown tables go to stdout at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path
from statistics import mean, pstdev

RULES = ("alternating", "simultaneous", "extragradient", "optimistic", "consensus", "sga",
         "lookahead")
# training's rule name -> game-sim's (gantool/rules.py pairs them; both spellings work, but the
# predictions table uses game-sim's own words)
GAME_SIM_NAME = {"alternating": "altgd", "simultaneous": "simgd", "optimistic": "ogda"}
# training's --loss -> Dirac-GAN's --loss
DIRAC_LOSS = {"minimax": "standard", "non-saturating": "non-saturating"}


def gantool(args: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    """One real CLI call; one thread, since each run is small and the machine is shared."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1"}
    env.pop("GANTOOL_DEBUG", None)  # failures must read as the user sees them: one line
    return subprocess.run([sys.executable, "-m", "gantool", *args], capture_output=True,
                          text=True, env=env, cwd=cwd)


def last_error(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    return (errors or lines or ["(no message)"])[-1]


def read_diagnostics(run_dir: Path) -> dict:
    """What the run's own monitor said: per flag, how many of the log checks raised it, and
    whether it was up in the second half of the run (a transient flag early on is not the
    run's fate)."""
    rows = [json.loads(line) for line in
            (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    late = rows[len(rows) // 2:]
    flags = ("non_convergence", "mode_collapse", "diminished_gradient")
    out = {"checks": len(rows)}
    for flag in flags:
        out[flag] = sum(bool(r.get("diag", {}).get(flag)) for r in rows)
        out[f"{flag}_late"] = any(r.get("diag", {}).get(flag) for r in late)
    # the modes the in-training check saw at each log: a G that hops between modes shows as a
    # changing set size even when the final count looks fine
    out["modes_over_time"] = [r.get("modes_hit") for r in rows]
    out["loss_d"] = [r.get("loss_d") for r in rows]
    return out


def rule_options(update: str, gamma: float | None) -> list[str]:
    """consensus's gamma goes to consensus runs only: the other rules refuse the option."""
    return ["--update-opt", f"gamma={gamma:g}"] if update == "consensus" and gamma is not None else []


def train_and_score(dataset: str, loss: str, update: str, seed: int, steps: int,
                    extra: list[str], out_dir: Path) -> dict:
    """One run: train, evaluate, read the diagnostics. Failures are recorded, not raised."""
    name = f"{dataset}-{loss}-{update}-s{seed}"
    run_dir = out_dir / name
    record = {"dataset": dataset, "loss": loss, "update": update, "seed": seed, "steps": steps,
              "extra": extra, "run_dir": str(run_dir)}
    argv = ["train", "--dataset", dataset, "--loss", loss, "--update", update,
            "--seed", str(seed), "--steps", str(steps), "--run-dir", str(run_dir),
            "--no-tensorboard", "--log-every", str(max(1, steps // 20)),
            "--sample-every", str(steps), "--checkpoint-every", str(steps), *extra]
    start = time.perf_counter()
    proc = gantool(argv)
    record["wall_s"] = round(time.perf_counter() - start, 2)
    record["command"] = "gantool " + shlex.join(argv)
    summary_file = run_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    record["status"] = summary.get("status", "failed")
    if proc.returncode != 0:
        record["error"] = last_error(proc.stderr)
    if (run_dir / "metrics.jsonl").is_file():
        record["diagnostics"] = read_diagnostics(run_dir)
    if proc.returncode == 0:
        record.update(evaluate(run_dir))
    return record


def evaluate(run_dir: Path) -> dict:
    proc = gantool(["evaluate", "--run", str(run_dir), "--metrics", "mode-coverage", "--json"])
    if proc.returncode != 0:
        return {"eval_error": last_error(proc.stderr)}
    metrics = json.loads(proc.stdout)["metrics"]
    return {"modes": metrics["modes"]["value"], "modes_total": metrics["modes"]["total"],
            "high_quality": metrics["high_quality"]["value"],
            "mode_kl": metrics["mode_kl"]["value"]}


def verdict(record: dict) -> str:
    """One word per run, from the evaluation and the monitor's late flags."""
    if "error" in record or record.get("status") != "finished":
        return "failed" if record.get("status") != "diverged" else "diverged"
    diag = record.get("diagnostics", {})
    if diag.get("non_convergence_late"):
        return "oscillates"
    if diag.get("mode_collapse_late") or record.get("modes", 0) <= 1:
        return "collapses"
    if record.get("modes") == record.get("modes_total"):
        return "all modes"
    return "partial"


def late_loss_std(record: dict) -> float | None:
    """The spread of D's logged loss over the second half of the run: a run settling at the
    equilibrium holds it near 2 ln 2 (minimax, non-saturating), an oscillating one swings."""
    losses = [x for x in record.get("diagnostics", {}).get("loss_d", []) if x is not None]
    late = losses[len(losses) // 2:]
    return pstdev(late) if len(late) >= 2 else None


def aggregate(records: list[dict]) -> list[dict]:
    """One row per (dataset, loss, update): modes mean/min/max over the seeds that ran, the
    high-quality share, the verdict counts and the mean wall time."""
    groups: dict[tuple, list[dict]] = {}
    for r in records:
        groups.setdefault((r["dataset"], r["loss"], r["update"]), []).append(r)
    rows = []
    for (dataset, loss, update), runs in groups.items():
        scored = [r for r in runs if "modes" in r]
        verdicts: dict[str, int] = {}
        for r in runs:
            verdicts[verdict(r)] = verdicts.get(verdict(r), 0) + 1
        row = {"dataset": dataset, "loss": loss, "update": update,
               "seeds": sorted(r["seed"] for r in runs), "scored": len(scored),
               "verdicts": verdicts, "wall_s": round(mean(r["wall_s"] for r in runs), 1),
               "errors": sorted({r["error"] for r in runs if "error" in r})}
        spreads = [x for x in map(late_loss_std, runs) if x is not None]
        row["loss_d_late_std"] = round(mean(spreads), 3) if spreads else None
        if scored:
            modes = [r["modes"] for r in scored]
            row.update(modes_total=scored[0]["modes_total"], modes_mean=round(mean(modes), 2),
                       modes_min=min(modes), modes_max=max(modes),
                       high_quality=round(mean(r["high_quality"] for r in scored), 3))
        rows.append(row)
    return rows


def predict(lr_d: float, lr_g: float, steps: int, updates: list[str], losses: list[str],
            gamma: float | None = None) -> list[dict]:
    """game-sim's verdicts for the same rules and step sizes: Dirac-GAN per loss, and x*y."""
    names = [GAME_SIM_NAME.get(u, u) for u in updates]
    games = [("dirac-gan", DIRAC_LOSS[loss], ["-g", "dirac-gan", "--loss", DIRAC_LOSS[loss]])
             for loss in losses] + [("bilinear", None, ["-g", "bilinear"])]
    out = []
    for game, loss, game_args in games:
        argv = ["game-sim", *game_args, "--x", "1", "--y", "1", "-u", ",".join(names),
                "--lr-x", str(lr_d), "--lr-y", str(lr_g), "--steps", str(steps), "--format", "json"]
        if gamma is not None and "consensus" in updates:
            argv += ["--consensus-gamma", f"{gamma:g}"]
        proc = gantool(argv)
        if proc.returncode != 0:
            out.append({"game": game, "loss": loss, "error": last_error(proc.stderr),
                        "command": "gantool " + shlex.join(argv)})
            continue
        result = json.loads(proc.stdout)
        for update, opt in zip(updates, result["optimizers"]):
            out.append({"game": game, "loss": loss, "update": update, "game_sim": opt["name"],
                        "verdict": opt["verdict"], "spectral_radius": opt["spectral_radius"],
                        "distance_end": opt["distance_end"],
                        "command": "gantool " + shlex.join(argv)})
    return out


def markdown(rows: list[dict], predictions: list[dict]) -> str:
    lines = ["| dataset | loss | update | seeds | modes mean (min-max) | high quality | "
             "verdicts | D loss std, 2nd half | wall s / run |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        modes = (f"{r['modes_mean']:g} / {r['modes_total']} ({r['modes_min']}-{r['modes_max']})"
                 if r["scored"] else "-")
        hq = f"{100 * r['high_quality']:.0f}%" if r["scored"] else "-"
        verdicts = ", ".join(f"{k} {v}" for k, v in sorted(r["verdicts"].items()))
        spread = r["loss_d_late_std"]
        if r["errors"]:
            verdicts += " (" + "; ".join(r["errors"]) + ")"
        lines.append(f"| {r['dataset']} | {r['loss']} | {r['update']} | "
                     f"{','.join(map(str, r['seeds']))} | {modes} | {hq} | {verdicts} | "
                     f"{'-' if spread is None else f'{spread:.3f}'} | {r['wall_s']:g} |")
    if predictions:
        lines += ["", "| game | loss | update (game-sim) | verdict | spectral radius |",
                  "|---|---|---|---|---|"]
        for p in predictions:
            if "error" in p:
                lines.append(f"| {p['game']} | {p['loss'] or '-'} | - | {p['error']} | - |")
                continue
            radius = "-" if p["spectral_radius"] is None else f"{p['spectral_radius']:.8f}"
            lines.append(f"| {p['game']} | {p['loss'] or '-'} | {p['update']} ({p['game_sim']}) "
                         f"| {p['verdict']} | {radius} |")
    return "\n".join(lines)


def resolved_lrs(dataset: str, extra: list[str]) -> tuple[float, float]:
    """The step sizes training will use (registry defaults, then --extra), from --dry-run."""
    proc = gantool(["train", "--dataset", dataset, *extra, "--dry-run"])
    if proc.returncode != 0:
        raise SystemExit(f"Error: gantool train --dry-run: {last_error(proc.stderr)}")
    config = json.loads(proc.stdout)
    return config["lr_d"], config["lr_g"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="ring8,grid25")
    p.add_argument("--losses", default="minimax,non-saturating")
    p.add_argument("--updates", default=",".join(RULES))
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--extra", default="", help="more `gantool train` options, one string")
    p.add_argument("--consensus-gamma", type=float, default=None,
                   help="consensus's gamma, in training and game-sim [each command's default, 1]")
    p.add_argument("--game-sim-steps", type=int, default=None,
                   help="game-sim steps [the training steps]")
    p.add_argument("--out-dir", type=Path, required=True, help="where the runs go")
    p.add_argument("--json", type=Path, required=True, help="results file (resumed if present)")
    args = p.parse_args(argv)
    datasets, losses = args.datasets.split(","), args.losses.split(",")
    updates, seeds = args.updates.split(","), [int(s) for s in args.seeds.split(",")]
    extra = shlex.split(args.extra)
    args.out_dir.mkdir(parents=True, exist_ok=True)

    done = json.loads(args.json.read_text()) if args.json.is_file() else {"runs": []}
    have = {(r["dataset"], r["loss"], r["update"], r["seed"]) for r in done["runs"]}
    # seeds outermost: a sweep cut short still has every combination for its first seeds
    for seed in seeds:
        for dataset in datasets:
            for loss in losses:
                for update in updates:
                    if (dataset, loss, update, seed) in have:
                        continue
                    record = train_and_score(dataset, loss, update, seed, args.steps,
                                             extra + rule_options(update, args.consensus_gamma),
                                             args.out_dir)
                    print(f"{dataset} {loss} {update} seed {seed}: {verdict(record)}, "
                          f"modes {record.get('modes', '-')}, {record['wall_s']} s",
                          file=sys.stderr, flush=True)
                    done["runs"].append(record)
                    args.json.write_text(json.dumps(done, indent=1))
    lr_d, lr_g = resolved_lrs(datasets[0], extra)
    wanted = {(d, l, u, s) for d in datasets for l in losses for u in updates for s in seeds}
    records = [r for r in done["runs"] if (r["dataset"], r["loss"], r["update"], r["seed"]) in wanted]
    done["aggregate"] = aggregate(records)
    done["predictions"] = predict(lr_d, lr_g, args.game_sim_steps or args.steps, updates, losses,
                                  args.consensus_gamma)
    done["settings"] = {"steps": args.steps, "extra": extra, "lr_d": lr_d, "lr_g": lr_g,
                        "seeds": seeds, "consensus_gamma": args.consensus_gamma}
    args.json.write_text(json.dumps(done, indent=1))
    print(markdown(done["aggregate"], done["predictions"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
