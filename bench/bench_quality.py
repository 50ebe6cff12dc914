"""Quality against wall time: `gantool train` (the default run) against PyTorch-GAN's gan.py.

Both sides train at the same time, each in its own process with the same number of threads, on
the same 5,000 digits (mnist-5k, which gan.py reads laid out as torchvision's MNIST files), for the
same wall-time budget, so load from anything else on the machine hits both alike:

- gantool: `gantool train` with no training options (the default run), checkpointing often;
  at each time T its newest checkpoint written by T is scored (EMA weights, as the default
  samples). If the default's 6,000 steps end before the budget, its last checkpoint stands.
- gan.py: implementations/gan/gan.py run AS WRITTEN (its networks, data loader, loop and per-step
  print), inside a wrapper whose timer saves the generator's weights at each time T and stops
  it at the last one. Its samples are drawn as gan.py draws them during training: G in train
  mode (BatchNorm on batch statistics), 64 latents at a time.

Every snapshot gives 10,000 samples scored by `gantool evaluate` against mnist-5k in the digits
classifier's features (fid, is, prdc, mode-coverage, memorization), next to the real MNIST test
digits' own scores (the limit). Times count from each process's launch.

    python bench/bench_quality.py --gan-py ~/PyTorch-GAN/implementations/gan/gan.py
    python bench/bench_quality.py --gan-py gan.py --at 150,300,600 --threads 1 --json out.json
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
METRICS = "fid,is,prdc,mode-coverage,memorization"
N_SAMPLES = 10_000

# Runs gan.py as written in this namespace; SIGALRM (handled between bytecodes of the main
# thread, so never inside a half-built tensor) saves the generator at each deadline.
WRAPPER = r'''
import signal, sys, time, torch
deadlines, out_dir = [float(t) for t in sys.argv[1].split(",")], sys.argv[2]
sys.argv = ["gan.py", "--n_epochs", "1000000"]
namespace = {"__name__": "__main__"}
taken = 0

def snapshot(signum, frame):
    global taken
    torch.save(namespace["generator"].state_dict(), f"{out_dir}/g-{taken}.pt")
    taken += 1
    if taken == len(deadlines):
        raise SystemExit(0)
    signal.setitimer(signal.ITIMER_REAL, max(deadlines[taken] - time.time(), 1e-3))

signal.signal(signal.SIGALRM, snapshot)
signal.setitimer(signal.ITIMER_REAL, max(deadlines[0] - time.time(), 1e-3))
exec(compile(open("gan.py").read(), "gan.py", "exec"), namespace)
'''


def write_idx(path: Path, array: np.ndarray) -> None:
    """An IDX file (the MNIST format): magic with dtype uint8 and rank, big-endian dims, data."""
    with open(path, "wb") as f:
        f.write(struct.pack(">HBB", 0, 0x08, array.ndim))
        f.write(struct.pack(f">{array.ndim}I", *array.shape))
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def lay_out_mnist_5k(work: Path) -> Path:
    """mnist-5k where gan.py reads MNIST (../../data/mnist/MNIST/raw relative to where it runs);
    torchvision wants the t10k files present too, so both names hold the 5,000 digits."""
    from gantool.data import load_dataset

    digits = load_dataset("mnist-5k")
    images, labels = digits.data[:, 0].numpy(), digits.labels.numpy().astype(np.uint8)
    raw = work / "data" / "mnist" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "t10k"):
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    run_in = work / "implementations" / "gan"
    run_in.mkdir(parents=True)
    return run_in


def start_both(gan_py: Path, work: Path, at: list[float], threads: int):
    """Launch gantool's default run and the wrapped gan.py together; returns both processes and
    their launch times."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    run_in = lay_out_mnist_5k(work)
    shutil.copy(gan_py, run_in / "gan.py")
    (run_in / "wrapper.py").write_text(WRAPPER)
    (work / "ref").mkdir()
    # Every 100 steps (~15 s of dcgan on one core) and all kept, so each T has a recent one.
    ours_cmd = [sys.executable, "-m", "gantool", "train", "--runs-root", str(work / "runs"),
                "--name", "default", "--checkpoint-every", "100", "--keep-last", "100000"]
    launched_ours = time.time()
    ours = subprocess.Popen(ours_cmd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, cwd=work)
    launched_ref = time.time()
    deadlines = ",".join(str(launched_ref + t) for t in at)
    ref = subprocess.Popen([sys.executable, "wrapper.py", deadlines, str(work / "ref")], env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=run_in)
    return (ours, launched_ours), (ref, launched_ref)


def wait_for(ours, launched_ours: float, ref, budget: float) -> float:
    """Stop gantool at the budget (or let it finish first); wait for gan.py; gantool's wall."""
    try:
        ours.wait(timeout=max(launched_ours + budget - time.time(), 0))
    except subprocess.TimeoutExpired:
        ours.terminate()
        ours.wait()
    wall = time.time() - launched_ours
    ref.wait()
    if ref.returncode != 0:
        raise SystemExit(f"bench_quality: gan.py failed: {ref.stderr.read().decode()[-2000:]}")
    return wall


def checkpoints_by_time(run: Path, launched: float, at: list[float]) -> list[Path | None]:
    """For each time T, gantool's newest step checkpoint finished by T (None: none yet)."""
    written = sorted((p.stat().st_mtime - launched, p)
                     for p in (run / "checkpoints").glob("step-*.pt"))
    return [max((p for t, p in written if t <= limit), default=None,
                key=lambda p: int(p.stem.split("-")[1])) for limit in at]


def ref_samples(weights: Path, gan_py_dir: Path, out: Path) -> Path:
    """10,000 digits from a gan.py snapshot, drawn the way gan.py draws them (train mode, 64
    latents per batch), as a uint8 .npz for `gantool evaluate --fake`."""
    import torch

    sys.argv = ["gan.py"]
    source = (gan_py_dir / "gan.py").read_text()
    # gan.py's own definitions (its argparse defaults, its Generator), without its training loop;
    # run where gan.py runs (it makes an images/ folder) and without its print of the options.
    namespace: dict = {"__name__": "gan_py"}
    here = Path.cwd()
    try:
        os.chdir(gan_py_dir)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source.split("# Loss function")[0], "gan.py", "exec"), namespace)
    finally:
        os.chdir(here)
    generator = namespace["Generator"]()
    generator.load_state_dict(torch.load(weights, weights_only=True))
    generator.train()
    torch.manual_seed(0)
    batches = []
    with torch.no_grad():
        for start in range(0, N_SAMPLES, 64):
            z = torch.randn(min(64, N_SAMPLES - start), 100)
            batches.append(generator(z))
    images = torch.cat(batches)[:, 0]
    np.savez(out, images=((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy())
    return out


def mnist_test_digits(out: Path) -> Path:
    """The 10,000 real MNIST test digits as an .npz: the limit a generator could reach."""
    with gzip.open(MNIST / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    np.savez(out, images=images)
    return out


def evaluate(source: list[str], cwd: Path) -> dict:
    """`gantool evaluate SOURCE` against mnist-5k in digits features, as a dict of figures."""
    cmd = [sys.executable, "-m", "gantool", "evaluate", *source, "--real", "mnist-5k",
           "--feature-extractor", "digits", "--metrics", METRICS, "--json"]
    done = subprocess.run(cmd, capture_output=True, cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"bench_quality: {' '.join(cmd)}: {done.stderr.decode()[-1000:]}")
    return json.loads(done.stdout)


def figures(result: dict) -> dict:
    """The figures the table shows, from `gantool evaluate --json`."""
    return {name: metric["value"] for name, metric in result["metrics"].items()}


COLUMNS = [("is", "IS"), ("fid", "FID"), ("precision", "prec"), ("recall", "recall"),
           ("coverage", "cover"), ("mode_kl", "mode KL"), ("modes", "modes"),
           ("memorized", "memorized")]


def row(name: str, seconds: str, values: dict) -> str:
    cells = [name, seconds]
    for key, _ in COLUMNS:
        value = values.get(key)
        cells.append("-" if value is None else f"{value:.3g}" if isinstance(value, float)
                     else str(value))
    return "| " + " | ".join(cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gan-py", type=Path, default=os.environ.get("GAN_PY"),
                        help="PyTorch-GAN's implementations/gan/gan.py (or $GAN_PY)")
    parser.add_argument("--at", default="150,300,600",
                        help="comma-separated wall times in seconds; the last is the budget")
    parser.add_argument("--threads", type=int, default=1, help="threads per side")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    if args.gan_py is None or not args.gan_py.is_file():
        raise SystemExit("bench_quality: give --gan-py PATH to PyTorch-GAN's "
                         "implementations/gan/gan.py (or $GAN_PY)")
    at = sorted(float(t) for t in args.at.split(","))
    print(f"budget {at[-1]:.0f} s, snapshots at {args.at} s, {args.threads} thread(s) per side, "
          f"both sides at once, {N_SAMPLES} samples each, digits features vs mnist-5k")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (ours, launched_ours), (ref, _) = start_both(args.gan_py, work, at, args.threads)
        wall = wait_for(ours, launched_ours, ref, at[-1])
        run = work / "runs" / "default"
        steps = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])["step"]
        print(f"gantool default run: {steps} steps in {wall:.0f} s")
        results = {"limit": figures(evaluate(["--fake", str(mnist_test_digits(work / "t.npz"))],
                                             work))}
        for i, (t, checkpoint) in enumerate(zip(at, checkpoints_by_time(run, launched_ours, at))):
            gan_py = ref_samples(work / "ref" / f"g-{i}.pt", work / "implementations" / "gan",
                                 work / f"ref-{i}.npz")
            results[f"gan.py@{t:.0f}"] = figures(evaluate(["--fake", str(gan_py)], work))
            if checkpoint is not None:
                results[f"gantool@{t:.0f}"] = {
                    "checkpoint": checkpoint.name,
                    **figures(evaluate(["--checkpoint", str(checkpoint)], work))}
    header = ["run", "wall s"] + [title for _, title in COLUMNS]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    print(row("real MNIST test digits (limit)", "-", results["limit"]))
    for t in at:
        for side in ("gan.py", "gantool"):
            values = results.get(f"{side}@{t:.0f}")
            if values is not None:
                name = side + (f" ({values['checkpoint']})" if "checkpoint" in values else "")
                print(row(name, f"{t:.0f}", values))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
