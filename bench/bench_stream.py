"""Streaming a prepared dataset vs holding it in memory, and the readers we chose between.

    python bench/bench_stream.py throughput   # mnist-5k: gantool train in memory vs prepared
    python bench/bench_stream.py large        # train on a set 4x larger than a memory cap
    python bench/bench_stream.py formats --python litdata=VENV/bin/python ...
    python bench/bench_stream.py encodings    # raw vs png vs jpeg: disk and read speed

throughput: each side is `gantool.train.loop.train` in its own process (so each peak RSS is its
  own), run for --short (twice: the first is a warm-up) and --long steps;
  images/s = (long - short) * batch / (t_long - t_short), so start-up (imports, reading the
  first window) cancels. Sides alternate, --repeats times; the best of each and the ratio
  are printed. Target: prepared >= 0.9x in-memory.
large: writes --gib GiB of seeded 64x64 RGB images as shards (in a temp dir, deleted after),
  then trains one epoch over them in a process whose memory is capped at a quarter of that
  (a cgroup v1 memory limit when one can be made, else RLIMIT_AS on top of the process's
  start-up address space) and prints its peak RSS (getrusage). The model trains on a resized
  view (--image-size, default 16: a 64x64 MLP GAN is too slow on a CPU); the stream still reads
  and decodes every 64x64 shard.
formats: per reader (webdataset here; litdata, mosaicml-streaming through the interpreters of
  venvs that have them), writes mnist-5k x4 as that reader's format and reads one pass back:
  import seconds, write seconds, read images/s, peak RSS, bytes on disk. Interleaved repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _child(*args: str, python: str = sys.executable, preexec=None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([python, __file__, "_child", *args], capture_output=True, env=env,
                          text=True, preexec_fn=preexec)
    if done.returncode != 0:
        raise SystemExit(f"child {args} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- children: one measurement each, printed as one JSON line
def child_train(dataset: str, root: str, steps: list[int], batch: int, arch: str,
                image_size: int | None = None) -> dict:
    from gantool.train.config import build_config
    from gantool.train.loop import train
    from gantool.train.progress import Reporter

    times = []
    with tempfile.TemporaryDirectory() as runs:
        for n in steps:
            config = build_config({}, {"dataset": dataset, "data_root": root, "steps": n,
                                       "image_size": image_size,
                                       "batch_size": batch, "arch": arch, "device": "cpu",
                                       "runs_root": runs, "name": f"run{len(times)}",
                                       "log_every": 10**6, "sample_every": 10**6,
                                       "checkpoint_every": 10**6})
            start = time.perf_counter()
            train(config, reporter=Reporter(enabled=False))
            times.append(time.perf_counter() - start)
    return {"times": times, "peak_rss_mib": _peak_rss_mib()}


def child_format(name: str, work: str) -> dict:
    start = time.perf_counter()
    reader = FORMATS[name]
    module = __import__(reader["module"])
    import_s = time.perf_counter() - start
    import numpy as np

    from gantool.data import load_dataset

    digits = load_dataset("mnist-5k")
    images = np.concatenate([digits.data.numpy()] * 4)
    labels = np.concatenate([digits.labels.numpy()] * 4)
    out = Path(work) / name
    start = time.perf_counter()
    reader["write"](module, out, images, labels)
    write_s = time.perf_counter() - start
    rss_before = _peak_rss_mib()
    start = time.perf_counter()
    total = reader["read"](module, out)
    read_s = time.perf_counter() - start
    assert total == int(images.astype(np.int64).sum()), "read back other pixels"
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"import_s": import_s, "write_s": write_s, "images_per_s": len(images) / read_s,
            "peak_rss_mib": _peak_rss_mib(), "rss_before_read_mib": rss_before,
            "disk_mib": size / 2**20}


def _wds_write(wds, out, images, labels):
    from gantool.data.preparing import Source, prepare

    prepare(Source({"bench": "formats"}, images.shape[1:], 10, len(images),
                   lambda a, b: (images[a:b], labels[a:b])), out, shard_size=5000)


def _wds_read(wds, out):
    from gantool.data import load_dataset

    dataset = load_dataset("prepared", root=str(out))
    total = 0
    for entry in dataset.manifest["shards"]:  # shard by shard, as the stream reads them
        total += int(dataset.read([entry])[0].sum(dtype=__import__("torch").int64))
    return total


def _lit_write(litdata, out, images, labels):
    from litdata.streaming.writer import BinaryWriter

    writer = BinaryWriter(str(out), chunk_bytes="16MB")
    for i, (image, label) in enumerate(zip(images, labels, strict=True)):
        writer.add_item(i, {"image": image, "label": int(label)})
    writer.done()
    writer.merge()


def _lit_read(litdata, out):
    dataset = litdata.StreamingDataset(str(out))
    return sum(int(item["image"].astype("int64").sum()) for item in dataset)


def _mds_write(streaming, out, images, labels):
    columns = {"image": "ndarray:uint8:1,28,28", "label": "int"}
    with streaming.MDSWriter(out=str(out), columns=columns, size_limit=16 << 20) as writer:
        for image, label in zip(images, labels, strict=True):
            writer.write({"image": image, "label": int(label)})


def _mds_read(streaming, out):
    streaming.base.util.clean_stale_shared_memory()
    dataset = streaming.StreamingDataset(local=str(out), batch_size=64)
    return sum(int(item["image"].astype("int64").sum()) for item in dataset)


FORMATS = {
    "webdataset": {"module": "webdataset", "write": _wds_write, "read": _wds_read},
    "litdata": {"module": "litdata", "write": _lit_write, "read": _lit_read},
    "mosaicml-streaming": {"module": "streaming", "write": _mds_write, "read": _mds_read},
}


# ---- the three benchmarks
def bench_throughput(args) -> None:
    from gantool.data.preparing import open_source, prepare

    with tempfile.TemporaryDirectory() as work:
        shards = Path(work) / "mnist-5k"
        prepare(open_source("mnist-5k"), shards)
        # The first train() in a process pays one-time costs (lazy imports, allocator warm-up):
        # a warm-up run, then the two measured ones.
        steps = [str(args.short), str(args.short), str(args.long)]
        sides = {"in-memory": ("mnist-5k", ""), "prepared": ("prepared", str(shards))}
        best: dict[str, dict] = {}
        for repeat in range(args.repeats):
            for side, (dataset, root) in sides.items():
                got = _child("train", dataset, root, ",".join(steps), str(args.batch), args.arch)
                t_short, t_long = got["times"][-2:]
                rate = (args.long - args.short) * args.batch / (t_long - t_short)
                print(f"repeat {repeat}: {side:9s} {rate:8.0f} images/s, peak RSS "
                      f"{got['peak_rss_mib']:.0f} MiB", file=sys.stderr)
                if side not in best or rate > best[side]["rate"]:
                    best[side] = {"rate": rate, "rss": got["peak_rss_mib"]}
    mem, pre = best["in-memory"], best["prepared"]
    print(f"mnist-5k, {args.arch}, batch {args.batch}, best of {args.repeats}:")
    print(f"  in-memory {mem['rate']:8.0f} images/s  peak RSS {mem['rss']:.0f} MiB")
    print(f"  prepared  {pre['rate']:8.0f} images/s  peak RSS {pre['rss']:.0f} MiB")
    print(f"  ratio prepared / in-memory: throughput {pre['rate'] / mem['rate']:.3f}x, "
          f"peak RSS {pre['rss'] / mem['rss']:.3f}x")


def _synthetic_source(count: int, size: int, seed: int):
    """Seeded 'random-ish' RGB images: smooth colour ramps plus noise, made shard by shard."""
    import numpy as np

    from gantool.data.preparing import Source

    ramp = np.linspace(0, 1, size, dtype=np.float32)

    def chunk(start: int, stop: int):
        rng = np.random.default_rng([seed, start])
        n = min(stop, count) - start
        colour = rng.random((n, 3, 1, 1), dtype=np.float32)
        base = colour * ramp[None, None, :, None] + (1 - colour) * ramp[None, None, None, :]
        noise = rng.random((n, 3, size, size), dtype=np.float32) * 0.25
        return (np.clip(base + noise, 0, 1) * 255).astype(np.uint8), None

    return Source({"bench": "synthetic", "seed": seed}, (3, size, size), 0, count, chunk)


def _cap_memory(limit: int):
    """A function that caps the calling (child) process to `limit` bytes, and its name."""
    group = Path("/sys/fs/cgroup/memory") / f"gantool-bench-{os.getpid()}"
    try:
        group.mkdir()
        (group / "memory.limit_in_bytes").write_text(str(limit))
        return (lambda: (group / "cgroup.procs").write_text(str(os.getpid()))), \
            f"cgroup v1 memory.limit_in_bytes={limit >> 20} MiB", group
    except OSError:
        # No cgroup: cap the address space. Start-up alone maps ~3 GiB (libtorch), so the cap
        # is that plus `limit`, which bounds what the process can allocate on top of it.
        base = _startup_vm()
        return (lambda: resource.setrlimit(resource.RLIMIT_AS, (base + limit,) * 2)), \
            f"RLIMIT_AS = start-up {base >> 20} MiB + {limit >> 20} MiB", None


def _startup_vm() -> int:
    code = ("import torch, gantool.train.loop, webdataset;"
            "print(open('/proc/self/status').read().split('VmPeak:')[1].split()[0])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    return int(out.stdout.strip()) * 1024


def bench_large(args) -> None:
    from gantool.data.preparing import prepare

    size, limit = 64, int(args.gib * 2**30 / 4)
    count = int(args.gib * 2**30) // (3 * size * size)
    work = Path(tempfile.mkdtemp(prefix="gantool-large-", dir=args.work))
    group = None
    try:
        start = time.perf_counter()
        manifest = prepare(_synthetic_source(count, size, 0), work / "shards")
        disk = sum(e["bytes"] for e in manifest["shards"])
        print(f"prepared {count} images ({count * 3 * size * size / 2**30:.2f} GiB of pixels, "
              f"{disk / 2**30:.2f} GiB of shards) in {time.perf_counter() - start:.0f} s",
              file=sys.stderr)
        cap, how, group = _cap_memory(limit)
        steps = count // args.batch  # one full epoch: every shard is read once
        start = time.perf_counter()
        got = _child("train", "prepared", str(work / "shards"), str(steps), str(args.batch),
                     args.arch, str(args.image_size), preexec=cap)
        wall = time.perf_counter() - start
        print(f"large: {count} images of 3x64x64 = {count * 3 * size * size / 2**30:.2f} GiB, "
              f"{len(manifest['shards'])} shards; memory cap {limit / 2**30:.2f} GiB ({how})")
        print(f"  trained {args.arch} at --image-size {args.image_size} (shards read at 64x64, "
              "resized per window)")
        print(f"  trained {steps} steps of {args.batch} (one epoch) in {wall:.0f} s: "
              f"{steps * args.batch / got['times'][0]:.0f} images/s")
        print(f"  peak RSS {got['peak_rss_mib']:.0f} MiB = "
              f"{got['peak_rss_mib'] * 2**20 / (count * 3 * size * size):.3f}x the dataset "
              "(RSS counts libtorch's shared file pages, which the cgroup does not charge)")
        if group is not None:
            peak, hits = ((group / f"memory.{k}").read_text().strip()
                          for k in ("max_usage_in_bytes", "failcnt"))
            print(f"  cgroup: peak charge {int(peak) >> 20} MiB (page cache included, "
                  f"reclaimed at the cap), {hits} allocation failure(s) at the cap")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if group is not None:
            group.rmdir()


def bench_formats(args) -> None:
    pythons = {"webdataset": sys.executable, **dict(p.split("=", 1) for p in args.python)}
    best: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as work:
        for repeat in range(args.repeats):
            for name, python in pythons.items():
                run_dir = Path(work) / f"{repeat}"
                run_dir.mkdir(exist_ok=True)
                got = _child("format", name, str(run_dir), python=python)
                print(f"repeat {repeat}: {name}: {json.dumps(got)}", file=sys.stderr)
                if name not in best or got["images_per_s"] > best[name]["images_per_s"]:
                    best[name] = got
                shutil.rmtree(run_dir / name, ignore_errors=True)
    base = best["webdataset"]["images_per_s"]
    print(f"mnist-5k x4 (20,000 28x28 digits), one read pass, best of {args.repeats}:")
    for name, got in best.items():
        print(f"  {name:19s} read {got['images_per_s']:8.0f} images/s "
              f"({got['images_per_s'] / base:.2f}x webdataset)  import {got['import_s']:.2f} s  "
              f"write {got['write_s']:.1f} s  peak RSS {got['peak_rss_mib']:.0f} MiB  "
              f"disk {got['disk_mib']:.1f} MiB")


def bench_encodings(args) -> None:
    """raw vs png vs jpeg: bytes on disk and read speed, on digits and on 64x64 colour."""
    from gantool.data import load_dataset
    from gantool.data.preparing import open_source, prepare

    sources = {"mnist-5k": open_source("mnist-5k"),
               "synthetic 64x64 RGB": _synthetic_source(2000, 64, 0)}
    with tempfile.TemporaryDirectory() as work:
        for name, source in sources.items():
            best = {}
            for repeat in range(args.repeats):
                for encoding in ("raw", "png", "jpeg"):
                    out = Path(work) / f"{encoding}-{repeat}"
                    manifest = prepare(source, out, encoding=encoding)
                    dataset = load_dataset("prepared", root=str(out))
                    start = time.perf_counter()
                    dataset.read(manifest["shards"])
                    rate = manifest["count"] / (time.perf_counter() - start)
                    disk = sum(e["bytes"] for e in manifest["shards"]) / 2**20
                    best[encoding] = (max(rate, best.get(encoding, (0, 0))[0]), disk)
                    shutil.rmtree(out)
            for encoding, (rate, disk) in best.items():
                print(f"{name:20s} {encoding:4s} read {rate:8.0f} images/s "
                      f"({rate / best['raw'][0]:.2f}x raw)  disk {disk:7.1f} MiB "
                      f"({disk / best['raw'][1]:.2f}x raw)")


def main() -> None:
    if sys.argv[1:2] == ["_child"]:
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "train":
            dataset, root, steps, batch, arch, *size = rest
            result = child_train(dataset, root or None, [int(s) for s in steps.split(",")],
                                 int(batch), arch, int(size[0]) if size else None)
        else:
            result = child_format(*rest)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="bench", required=True)
    t = sub.add_parser("throughput")
    t.add_argument("--short", type=int, default=20)
    t.add_argument("--long", type=int, default=420)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--arch", default="mlp")
    t.add_argument("--repeats", type=int, default=3)
    large = sub.add_parser("large")
    large.add_argument("--gib", type=float, default=2.0, help="pixels on disk (the cap is 1/4)")
    large.add_argument("--batch", type=int, default=256)
    large.add_argument("--arch", default="mlp")
    large.add_argument("--image-size", type=int, default=16,
                       help="what the model sees (a CPU cannot train 64x64 fast)")
    large.add_argument("--work", default=None, help="where the temporary shards go")
    f = sub.add_parser("formats")
    f.add_argument("--python", action="append", default=[], metavar="READER=PYTHON")
    f.add_argument("--repeats", type=int, default=2)
    e = sub.add_parser("encodings")
    e.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    {"throughput": bench_throughput, "large": bench_large, "formats": bench_formats,
     "encodings": bench_encodings}[
        args.bench](args)


if __name__ == "__main__":
    main()
