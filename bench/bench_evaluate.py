"""Feature extraction throughput: gantool's extractors against a peer doing the same work.

Run: python bench/bench_evaluate.py [--n 10000] [--repeats 3] [--batch-size 100] [--threads 1]
       [--cases inception-legacy-tf,dinov2-vits14,digits]

Each measurement is a fresh subprocess (so its peak RSS is its own), on random uint8 images of
the case's size, with random weights (nothing is downloaded; speed does not depend on the
values). The sides of a case run interleaved, `--repeats` times; the script prints images/s
(median and best) and peak memory of each side and the ratio of medians.
Pairs (same input, same output):
- inception-legacy-tf: gantool `inception --resize legacy-tf` vs torch-fidelity's
  FeatureExtractorInceptionV3 (2048-d pool features; it resizes the TF1 way inside too);
- inception-legacy-pytorch, inception-clean: gantool only (pytorch-fid / clean-fid's resizes);
- dinov2-vits14 / dinov2-vitl14: gantool (dgm-eval's PIL bicubic resize + timm ViT) vs timm's
  ViT on tensors resized by torch's bicubic interpolate (the ViT forward without PIL);
- digits: gantool only (28x28, no peer has this extractor).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {
    "inception-legacy-tf": (("gantool", "torch-fidelity"), 32),
    "inception-legacy-pytorch": (("gantool",), 32),
    "inception-clean": (("gantool",), 32),
    "dinov2-vits14": (("gantool", "timm"), 32),
    "dinov2-vitl14": (("gantool", "timm"), 32),
    "digits": (("gantool",), 28),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cases", default="inception-legacy-tf,dinov2-vits14,digits")
    parser.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)  # CASE SIDE
    return parser.parse_args()


def build(case: str, side: str):
    """A function uint8 (B, 3, H, W) -> features, on random weights."""
    import torch

    torch.manual_seed(0)
    if side == "torch-fidelity":
        from torch_fidelity import feature_extractor_inceptionv3 as tf_inception

        Fx = tf_inception.FeatureExtractorInceptionV3
        # Random weights: no download (this process only builds this one model).
        tf_inception.load_state_dict_from_url = lambda *a, **k: {}
        Fx.load_state_dict = lambda self, *a, **k: None
        model = Fx("inception-v3-compat", ["2048"]).eval()
        return lambda x: model(x)[0]
    if side == "timm":
        import torch.nn.functional as F

        from gantool.metrics.dinov2 import build_model

        model = build_model(case.split("-")[1], "cpu").eval()
        return lambda x: model(F.interpolate(x.float() / 255, size=(224, 224), mode="bicubic"))
    from gantool.metrics.features import DigitsExtractor, InceptionExtractor
    from gantool.metrics.inception import FIDInception

    if case.startswith("inception"):
        extractor = InceptionExtractor(resize=case.split("-", 1)[1])
        extractor._model = FIDInception().eval()  # random weights instead of the weight file
        return lambda x: extractor(x).features
    if case == "digits":
        from gantool.metrics.digits import DigitClassifier

        extractor = DigitsExtractor()
        extractor._model = DigitClassifier().double().eval()
        return lambda x: extractor(x[:, :1]).features
    from gantool.metrics.dinov2 import DINOv2Extractor, build_model

    extractor = DINOv2Extractor(case.split("-")[1])
    extractor._model = build_model(extractor.arch, "cpu").eval()
    return lambda x: extractor(x).features


def worker(case: str, side: str, n: int, batch_size: int) -> None:
    import resource
    import time

    import torch

    _, size = CASES[case]
    fn = build(case, side)
    generator = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (n, 3, size, size), generator=generator, dtype=torch.uint8)
    with torch.no_grad():
        fn(images[:2])  # warm-up
        start = time.perf_counter()
        for i in range(0, n, batch_size):
            fn(images[i : i + batch_size])
        seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    print(json.dumps({"images_per_s": n / seconds, "peak_mib": peak}))


def measure(case: str, side: str, args) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": str(args.threads),
           "MKL_NUM_THREADS": str(args.threads)}
    command = [sys.executable, __file__, "--worker", case, side, "--n", str(args.n),
               "--batch-size", str(args.batch_size)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"{case} / {side} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    if args.worker:
        worker(*args.worker, args.n, args.batch_size)
        return
    print(f"{args.n} random images per run, batch {args.batch_size}, {args.threads} thread(s), "
          f"{args.repeats} interleaved repeats; random weights")
    for case in args.cases.split(","):
        sides, _ = CASES[case]
        runs = {side: [] for side in sides}
        for _ in range(args.repeats):
            for side in sides:  # interleaved: load changes hit both sides alike
                runs[side].append(measure(case, side, args))
        medians = {}
        for side in sides:
            rates = [r["images_per_s"] for r in runs[side]]
            medians[side] = statistics.median(rates)
            peak = max(r["peak_mib"] for r in runs[side])
            print(f"{case:26s} {side:15s} median {medians[side]:8.1f} img/s, best "
                  f"{max(rates):8.1f} img/s, peak RSS {peak:7.0f} MiB")
        if len(sides) == 2:
            ours, theirs = medians[sides[0]], medians[sides[1]]
            print(f"{case:26s} ratio gantool / {sides[1]}: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
