"""Your own images, side by side: gantool's own-images recipe against PyTorch-GAN's dcgan.py.

Both sides train on the same pixels (an image folder, transparent backgrounds composited onto
the same background by gantool's folder loader, at 32 px) for the same CPU time, so load from
anything else on the machine costs neither side quality (wall time would: machines of one kind
differ 2x, and a shared one more):

- gantool: `gantool train --recipe own-images` (or any options after `--ours`), checkpointing
  every 100 steps; the bench polls the process's CPU time (user + system) and notes when each
  checkpoint appears; at each budget T the newest checkpoint seen by T is scored.
- dcgan.py: PyTorch-GAN's implementations/dcgan/dcgan.py run AS WRITTEN (its networks, loss,
  loop, per-step print), with `--channels 3 --img_size 32`, its one dataset line pointed at the
  composited folder (torchvision's ImageFolder instead of MNIST: the same transforms), inside a
  wrapper whose CPU-time timer (ITIMER_PROF) saves the generator at each budget. Its samples
  are drawn the way dcgan.py draws them: G in train mode, 64 latents at a time.

Each snapshot gives N samples scored by `gantool evaluate` against the folder with the same
feature extractor (a file from `gantool train-classifier` on the folder: Frechet distance in the
folder's own features, comparable between these runs only) plus memorization; two disjoint
halves of the folder give the real data's own score. Grids of both sides go to --out.

    python bench/own_images.py --dcgan-py PyTorch-GAN/implementations/dcgan/dcgan.py \\
        --extractor emoji.safetensors --at 600,1800 --out bench/results/own_images
    python bench/own_images.py ... --sides ref        # one side now, the other later (CPU time
    python bench/own_images.py ... --sides ours       # makes the two runs comparable anyway)
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
FOLDER = ROOT.parent / "shared" / "data" / "emoji-noto-64"
METRICS = "fid,kid,is,prdc,memorization"
POLL_S = 0.5

# Runs dcgan.py as written in this namespace; SIGPROF fires when the process has used the next
# budget of CPU time (user + system) and saves the generator (between bytecodes of the main
# thread, so never inside a half-built tensor); the last budget stops it.
WRAPPER = r'''
import signal, sys, time, torch
budgets, out_dir, folder = [float(t) for t in sys.argv[1].split(",")], sys.argv[2], sys.argv[3]
sys.argv = ["dcgan.py", "--n_epochs", "1000000", "--channels", "3", "--img_size", "32"]
namespace = {"__name__": "__main__"}
taken = 0

def snapshot(signum, frame):
    global taken
    if "generator" not in namespace:  # a budget inside dcgan.py's imports: save when it exists
        signal.setitimer(signal.ITIMER_PROF, 0.1)
        return
    early = budgets[taken] - time.process_time()
    if early > 0:  # the timer counts in scheduler ticks, process_time exactly: a few ms short
        signal.setitimer(signal.ITIMER_PROF, max(early, 1e-3))
        return
    torch.save(namespace["generator"].state_dict(), f"{out_dir}/g-{taken}.pt")
    sys.stdout.flush()  # dcgan.py prints one line per batch after its options' line
    with open(f"{out_dir}/dcgan.log") as log:
        steps = sum(1 for _ in log) - 1
    with open(f"{out_dir}/g-{taken}.json", "w") as f:
        f.write('{"cpu_s": %f, "wall_s": %f, "steps": %d}'
                % (time.process_time(), time.time() - started, steps))
    taken += 1
    if taken == len(budgets):
        raise SystemExit(0)
    signal.setitimer(signal.ITIMER_PROF, max(budgets[taken] - time.process_time(), 1e-3))

source = open("dcgan.py").read()
dataset_line = """datasets.MNIST(
        "../../data/mnist",
        train=True,
        download=True,"""
assert source.count(dataset_line) == 1, "dcgan.py's dataset line is not the one expected"
source = source.replace(dataset_line, "datasets.ImageFolder(\n        %r," % folder)
started = time.time()
signal.signal(signal.SIGPROF, snapshot)
signal.setitimer(signal.ITIMER_PROF, max(budgets[0] - time.process_time(), 1e-3))
exec(compile(source, "dcgan.py", "exec"), namespace)
'''


def gantool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "gantool", *args], capture_output=True,
                          cwd=cwd, text=True)
    if done.returncode != 0:
        raise SystemExit(f"own_images: gantool {' '.join(args)}: {done.stderr[-2000:]}")
    return done


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def composited_folder(folder: Path, size: int, background: str, work: Path) -> Path:
    """The folder as gantool's loader sees it (alpha composited, fitted to size), written as
    RGB PNGs in one class folder: what dcgan.py's ImageFolder reads, pixel for pixel."""
    import torch
    from PIL import Image

    from gantool.data import load_dataset

    data = load_dataset("folder", root=folder, image_size=size, channels=3,
                        background=background).data
    out = work / "composited" / "all"
    out.mkdir(parents=True)
    for i, image in enumerate(data.permute(0, 2, 3, 1).numpy()):
        Image.fromarray(image).save(out / f"{i:05d}.png")
    assert isinstance(data, torch.Tensor)
    np.savez(work / "real.npz", images=data.numpy())
    return out.parent


def run_ours(data: list[str], run: Path, budgets: list[float], threads: int,
             options: list[str]) -> list[dict]:
    """gantool train until the last CPU budget; for each budget, the newest checkpoint seen."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "gantool", "train", *data, "--run-dir", str(run),
           "--steps", "10000000", "--checkpoint-every", "100", "--keep-last", "100000",
           "--sample-every", "100000", *options]
    started = time.time()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    seen: dict[Path, tuple[float, float]] = {}
    cpu = 0.0
    while process.poll() is None and cpu < budgets[-1]:
        time.sleep(POLL_S)
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            cpu = cpu_seconds(process.pid)
        for path in (run / "checkpoints").glob("step-*.pt"):
            seen.setdefault(path, (cpu, time.time() - started))
    process.terminate()
    _, stderr = process.communicate()
    if not seen:
        raise SystemExit(f"own_images: gantool train wrote no checkpoint: {stderr[-2000:]}")
    snapshots = []
    for budget in budgets:
        step_of = {p: int(p.stem.split("-")[1]) for p, (c, _) in seen.items() if c <= budget}
        best = max(step_of, key=step_of.get, default=None)
        if best is not None:
            cpu_at, wall_at = seen[best]
            snapshots.append({"budget": budget, "checkpoint": str(best), "steps": step_of[best],
                              "cpu_s": cpu_at, "wall_s": wall_at})
    return snapshots


def run_ref(dcgan_py: Path, composited: Path, work: Path, budgets: list[float],
            threads: int) -> list[dict]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    run_in = work / "ref"
    run_in.mkdir(parents=True, exist_ok=True)
    shutil.copy(dcgan_py, run_in / "dcgan.py")
    (run_in / "wrapper.py").write_text(WRAPPER)
    with open(run_in / "dcgan.log", "w") as log:
        done = subprocess.run([sys.executable, "wrapper.py", ",".join(map(str, budgets)),
                               str(run_in), str(composited)], env=env, cwd=run_in,
                              stdout=log, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"own_images: dcgan.py failed: {done.stderr[-2000:]}")
    return [{"budget": b, "checkpoint": str(run_in / f"g-{i}.pt"),
             **json.loads((run_in / f"g-{i}.json").read_text())} for i, b in enumerate(budgets)]


def ref_samples(weights: Path, n: int, out: Path) -> Path:
    """n images from a dcgan.py snapshot, drawn as dcgan.py draws them (train mode, 64 latents
    per batch), as a uint8 .npz for `gantool evaluate --fake`."""
    import torch

    run_in = weights.parent
    source = (run_in / "dcgan.py").read_text()
    namespace: dict = {"__name__": "dcgan_py"}
    here, argv = Path.cwd(), sys.argv
    try:  # dcgan.py's own definitions (argparse defaults, Generator) without its loop
        os.chdir(run_in)
        sys.argv = ["dcgan.py", "--channels", "3", "--img_size", "32"]
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source.split("# Loss function")[0], "dcgan.py", "exec"), namespace)
    finally:
        os.chdir(here)
        sys.argv = argv
    generator = namespace["Generator"]()
    generator.load_state_dict(torch.load(weights, weights_only=True))
    generator.train()
    torch.manual_seed(0)
    with torch.no_grad():
        images = torch.cat([generator(torch.randn(min(64, n - start), 100))
                            for start in range(0, n, 64)])
    pixels = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
    np.savez(out, images=pixels)
    return out


def ours_samples(checkpoint: Path, n: int, out: Path) -> Path:
    gantool("sample", "--checkpoint", str(checkpoint), "--n", str(n), "--format", "npz",
            "--out", str(out), "--seed", "0")
    return out


def evaluate(fake: Path, real: Path, extractor: Path) -> dict:
    done = gantool("evaluate", "--fake", str(fake), "--real", str(real), "--feature-extractor",
                   str(extractor), "--metrics", METRICS, "--json")
    return {name: m["value"] for name, m in json.loads(done.stdout)["metrics"].items()}


def grid(samples: Path, out: Path) -> None:
    """The first 64 samples as an 8x8 grid, through gantool's own picture code."""
    from gantool.data.arrays import images_to_uint8
    from gantool.io import read_array
    from gantool.pictures import save_grid

    images = images_to_uint8(read_array(samples), str(samples))  # NHWC or NCHW, any key
    save_grid(images[:64], out, columns=8, scale=2)


COLUMNS = [("fid", "FID"), ("kid", "KID"), ("is", "IS"), ("precision", "prec"),
           ("recall", "recall"), ("coverage", "cover"), ("memorized", "memorized")]


def row(name: str, cells: list[str], values: dict) -> str:
    for key, _ in COLUMNS:
        value = values.get(key)
        cells.append("-" if value is None else f"{value:.3g}")
    return "| " + " | ".join([name, *cells]) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dcgan-py", type=Path, default=os.environ.get("DCGAN_PY"),
                        help="PyTorch-GAN's implementations/dcgan/dcgan.py (or $DCGAN_PY)")
    parser.add_argument("--folder", type=Path, default=FOLDER)
    parser.add_argument("--background", default="white")
    parser.add_argument("--extractor", type=Path, required=True,
                        help="a feature extractor file from gantool train-classifier")
    parser.add_argument("--at", default="600,1800",
                        help="comma-separated CPU-second budgets per side; the last stops it")
    parser.add_argument("--threads", type=int, default=1, help="threads per side")
    parser.add_argument("--sides", default="ours,ref",
                        help="which to train ('' only scores what the work folder holds)")
    parser.add_argument("--ours", nargs=argparse.REMAINDER, default=["--recipe", "own-images"],
                        help="gantool train options (default: --recipe own-images)")
    parser.add_argument("--n", type=int, default=10_000, help="samples scored per snapshot")
    parser.add_argument("--score-at", help="score only these budgets (default: every one)")
    parser.add_argument("--work", type=Path, required=True, help="work folder (kept, resumable)")
    parser.add_argument("--out", type=Path, help="grids and results.json here")
    args = parser.parse_args()
    budgets = sorted(float(t) for t in args.at.split(","))
    sides = [side for side in args.sides.split(",") if side]
    if "ref" in sides and (args.dcgan_py is None or not args.dcgan_py.is_file()):
        raise SystemExit("own_images: give --dcgan-py PATH to PyTorch-GAN's dcgan.py")
    args.work.mkdir(parents=True, exist_ok=True)
    composited = args.work / "composited"
    if not composited.is_dir():
        composited_folder(args.folder, 32, args.background, args.work)
    if "ref" in sides:
        record(args.work, "ref", run_ref(args.dcgan_py, composited, args.work, budgets,
                                         args.threads))
    if "ours" in sides:
        data = ["--dataset", "folder", "--data-root", str(args.folder), "--background",
                args.background, "--image-size", "32"]
        record(args.work, "ours", run_ours(data, args.work / "runs" / "ours", budgets,
                                           args.threads, args.ours))
        record(args.work, "ours_options", args.ours)
    score(json.loads((args.work / "results.json").read_text()), args)


def record(work: Path, key: str, value) -> None:
    """One side's results into work/results.json, re-read first: the sides may run apart."""
    path = work / "results.json"
    results = json.loads(path.read_text()) if path.is_file() else {}
    results[key] = value
    path.write_text(json.dumps(results, indent=1))


def score(results: dict, args) -> None:
    real = args.work / "real.npz"
    images = np.load(real)["images"]
    halves = np.random.default_rng(0).permutation(len(images))
    half = len(images) // 2
    np.savez(args.work / "half-a.npz", images=images[halves[:half]])
    np.savez(args.work / "half-b.npz", images=images[halves[half:]])
    results["limit"] = evaluate(args.work / "half-a.npz", args.work / "half-b.npz",
                                args.extractor)
    header = ["run", "CPU s", "steps", *[title for _, title in COLUMNS]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
             row("real: one half of the folder vs the other (limit)", ["-", "-"],
                 results["limit"])]
    out = args.out or args.work
    wanted = {float(t) for t in (args.score_at or "").split(",") if t}
    out.mkdir(parents=True, exist_ok=True)
    for side, name in (("ref", "PyTorch-GAN dcgan.py"), ("ours", "gantool own-images")):
        for snap in results.get(side, []):
            if args.score_at and snap["budget"] not in wanted:
                continue
            samples = args.work / f"{side}-{snap['budget']:.0f}-n{args.n}.npz"
            if not samples.is_file():  # seeded: the same samples on a rerun
                make = ref_samples if side == "ref" else ours_samples
                make(Path(snap["checkpoint"]), args.n, samples)
            snap["figures"] = evaluate(samples, real, args.extractor)
            (out / "results.json").write_text(json.dumps(results, indent=1))
            grid(samples, out / f"{side}-{snap['budget']:.0f}cpu-s.png")
            lines.append(row(name, [f"{snap['cpu_s']:.0f}", str(snap.get("steps", "-"))],
                             snap["figures"]))
    print("\n".join(lines))
    (out / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
