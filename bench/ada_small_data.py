"""ADA on 500 digits: does D overfit without it, and does ADA's p hold r_t at its target?

Two runs of `gantool train --subset 500` (the same seeded random 500 of mnist-5k's digits), one
with `--ada`, one without, side by side with one thread each. The discriminator is the DCGAN paper's (BatchNorm, no spectral norm),
which memorises a small set quickly. For every checkpoint the script measures Karras et al.'s
overfitting signal on D itself (their Fig. 1b) on the 500 training digits and on 500 held-out
MNIST test digits: the mean of the run's loss's `overfit_sign` (what ADA's r_t averages), i.e.
E[sign D(x)] for the logistic losses and E[sign(D(x) - D(G(z)))] over pairs with the same fakes
for the relativistic and Wasserstein ones. A D that tells the training digits from unseen ones of
the same kind has memorised them. It also reads ADA's p and r_t from the ADA run's metrics.jsonl
and scores each run's last G with `gantool evaluate` against the held-out test digits. Options
after `--` go to both `gantool train` runs (e.g. a recipe, a loss, a smaller architecture).

    python bench/ada_small_data.py --steps 3000 --json bench/results/ada_small_data.json
    python bench/ada_small_data.py --steps 1200 -- --recipe r3gan --image-size 16 \
        --arch-opt width=16 --arch-opt min_width=16 --arch-opt blocks=1
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
METRICS = "fid,is,prdc,mode-coverage,memorization"
RUNS = {"no-ada": ["--no-ada"], "ada": ["--ada"]}


def digits(work: Path, n: int, image_size: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The training digits (what --subset n picks) and as many held-out MNIST test digits, at
    the runs' image size; the 28x28 test digits are also written to test.npz, the real side of
    the final evaluation."""
    import torch

    from gantool.data import load_dataset
    from gantool.data.convert import convert

    train = load_dataset("mnist-5k", image_size=image_size).subset(n).data.numpy()
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz") as f:
        test = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    np.savez(work / "test.npz", images=test[:, 0])
    held_out = test[np.random.default_rng(1).choice(len(test), n, replace=False)]
    return train, convert(torch.from_numpy(held_out.copy()), image_size, None).numpy()


def train_both(n: int, work: Path, steps: int, every: int, threads: int,
               options: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    common = ["--subset", str(n), "--no-spectral-norm",
              "--steps", str(steps), "--checkpoint-every", str(every), "--keep-last", "1000",
              "--runs-root", str(work), "--no-tensorboard", *options]
    running = [subprocess.Popen([sys.executable, "-m", "gantool", "train", "--name", name,
                                 *common, *extra], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
               for name, extra in RUNS.items()]
    for name, process in zip(RUNS, running):
        _, err = process.communicate()
        if process.returncode != 0:
            raise SystemExit(f"ada_small_data: {name} failed: {err.decode()[-2000:]}")


def sign_means(checkpoint: Path, loss_name: str, train: np.ndarray,
               held_out: np.ndarray) -> tuple[float, float]:
    """The mean of the loss's overfit_sign on the training and on the held-out digits, each
    paired with the same fakes of the checkpoint's G (the one D trains against, not the EMA);
    D as it trains (train mode, batches of real or of fake images only, as the loop feeds a
    BatchNorm D)."""
    import torch

    from gantool import registry
    from gantool.train.checkpoint import build_models, load_checkpoint, load_weights

    state = load_checkpoint(checkpoint)
    G, D = build_models(state["arch"])
    load_weights(G, state["G"], state["arch"]["name"], checkpoint)
    load_weights(D, state["D"], state["arch"]["name"], checkpoint)
    D.train()
    overfit_sign = registry.create("loss", loss_name).overfit_sign
    z = torch.randn(len(train), G.z_dim, generator=torch.Generator().manual_seed(0))

    def logits(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([D(b) for b in x.split(64)])

    with torch.no_grad():
        fake_logits = logits(torch.cat([G(b) for b in z.split(64)]))

        def mean_sign(images: np.ndarray) -> float:
            real = torch.from_numpy(images).float().div(127.5).sub(1.0)
            return float(overfit_sign(logits(real), fake_logits).mean())

        return mean_sign(train), mean_sign(held_out)


def ada_log(run: Path) -> list[dict]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{"step": r["step"], "p": r["ada_p"], "rt": r.get("ada_rt")}
            for r in records if "ada_p" in r]


def evaluate(run: Path, real: Path) -> dict:
    cmd = [sys.executable, "-m", "gantool", "evaluate", "--run", str(run), "--real", str(real),
           "--feature-extractor", "digits", "--metrics", METRICS, "--json"]
    done = subprocess.run(cmd, capture_output=True)
    if done.returncode != 0:
        raise SystemExit(f"ada_small_data: {' '.join(cmd)}: {done.stderr.decode()[-1000:]}")
    return {k: m["value"] for k, m in json.loads(done.stdout)["metrics"].items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", type=int, default=500, help="training digits")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--checkpoints", type=int, default=10, help="checkpoints per run")
    parser.add_argument("--threads", type=int, default=1, help="threads per run")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    parser.add_argument("--keep", type=Path, help="keep the runs in this directory")
    parser.add_argument("--no-evaluate", action="store_true",
                        help="skip scoring the last G of each run (gantool evaluate)")
    parser.add_argument("train_options", nargs="*", metavar="-- OPTION",
                        help="options for both gantool train runs, after --")
    args = parser.parse_args(argv)
    every = max(args.steps // args.checkpoints, 1)
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        train_both(args.digits, work, args.steps, every, args.threads, args.train_options)
        options = json.loads((work / "ada" / "config.json").read_text())["options"]
        train, held_out = digits(work, args.digits, options["image_size"])
        results = {"digits": args.digits, "steps": args.steps, "loss": options["loss"],
                   "train_options": args.train_options, "runs": {}}
        for name in RUNS:
            from gantool.train.checkpoint import list_checkpoints

            curve = []
            for step, path in list_checkpoints(work / name / "checkpoints"):
                r_train, r_val = sign_means(path, options["loss"], train, held_out)
                curve.append({"step": step, "sign_train": r_train, "sign_held_out": r_val})
            results["runs"][name] = {"checkpoints": curve, "ada": ada_log(work / name),
                                     "final": None if args.no_evaluate
                                     else evaluate(work / name, work / "test.npz")}
    print_tables(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def print_tables(results: dict) -> None:
    runs = results["runs"]
    print(f"{results['digits']} training digits, {results['steps']} steps, loss "
          f"{results['loss']}; the loss's overfitting signal on the training digits / on "
          "held-out test digits, and ADA's p and r_t at that step")
    print("| step | no ADA: train / held-out | ADA: train / held-out | ADA p | ADA r_t |")
    print("|---|---|---|---|---|")
    ada_by_step = {r["step"]: r for r in runs["ada"]["ada"]}
    for plain, ada in zip(runs["no-ada"]["checkpoints"], runs["ada"]["checkpoints"]):
        log = ada_by_step.get(ada["step"], {})
        rt = "-" if log.get("rt") is None else f"{log['rt']:.2f}"
        p = "-" if "p" not in log else f"{log['p']:.3f}"
        print(f"| {plain['step']} | {plain['sign_train']:.2f} / {plain['sign_held_out']:.2f} | "
              f"{ada['sign_train']:.2f} / {ada['sign_held_out']:.2f} | {p} | {rt} |")
    if any(run["final"] is None for run in runs.values()):
        return
    print("| run | IS | FID (digits) | precision | recall | coverage | mode KL | memorized |")
    print("|---|---|---|---|---|---|---|---|")
    for name, run in runs.items():
        f = run["final"]
        print(f"| {name} | {f['is']:.2f} | {f['fid']:.0f} | {f['precision']:.2f} | "
              f"{f['recall']:.2f} | {f['coverage']:.2f} | {f['mode_kl']:.3f} | "
              f"{f['memorized']:.3f} |")


if __name__ == "__main__":
    sys.exit(main())
