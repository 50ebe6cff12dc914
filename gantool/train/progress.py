"""What training shows on stderr: a rich progress bar on a terminal, plain log lines otherwise.

stdout is never touched (the CLI prints the run directory there at the end).
"""

from __future__ import annotations

import os
import sys
import time


def format_record(r: dict, total: int) -> str:
    """One plain log line for a metrics record."""
    parts = [f"step {r['step']}/{total}",
             f"loss D {r['loss_d']:.4f} G {r['loss_g']:.4f}",
             f"D(x) {r['d_real']:.3f} D(G(z)) {r['d_fake']:.3f}",
             f"|grad| G {r['grad_g']:.3g} D {r['grad_d']:.3g}",
             f"{r['img_per_s']:.0f} img/s"]
    if "modes_hit" in r:
        parts.append(f"modes {r['modes_hit']}/{r['modes_total']} (near {r['modes_near']}, "
                     f"{100 * r['near_share']:.0f}% of samples)")
    if "diversity" in r:
        parts.append(f"diversity {100 * r['diversity']:.0f}%")
    if "class_diversity" in r:
        parts.append(f"within a class {100 * r['class_diversity']:.0f}%")
    if "eval" in r:
        parts.append(format_eval(r["eval"]))
    flags = [k for k, on in r.get("diag", {}).items() if on]
    if flags:
        parts.append("WARN " + ",".join(flags))
    return " | ".join(parts)


def format_eval(e: dict) -> str:
    """--eval-every's scores in a log line, e.g. `eval FID 41.2 IS 6.31 modes 10/10 (best)`."""
    parts = []
    if e.get("fid") is not None:
        parts.append(f"FID {e['fid']:.3g}")
    if e.get("is") is not None:
        parts.append(f"IS {e['is']:.3g}")
    if e.get("modes") is not None:
        parts.append(f"modes {e['modes']}/{e.get('modes_total', '?')}")
    if e.get("high_quality") is not None:
        parts.append(f"{100 * e['high_quality']:.0f}% high quality")
    return "eval " + " ".join(parts) + (" (best)" if e.get("best") else "")


class Reporter:
    """Progress and messages on stderr; `enabled=False` (ranks other than 0) prints nothing."""

    def __init__(self, enabled: bool = True, stream=None):
        self.enabled = enabled
        self.stream = stream or sys.stderr
        self.bar = None
        self.task = None
        self.total = 0
        self.start_time = time.monotonic()
        self.interactive = enabled and self.stream.isatty() and not os.environ.get("NO_COLOR")
        if self.interactive:
            from rich.console import Console

            self.console = Console(file=self.stream)

    def info(self, message: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        self.info(f"Warning: {message}")

    def start(self, first_step: int, total: int) -> None:
        self.total = total
        if not self.interactive:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(TextColumn("step"), MofNCompleteColumn(), BarColumn(),
                            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(),
                            console=self.console, transient=False)
        self.task = self.bar.add_task("train", total=total, completed=first_step, stats="")
        self.bar.start()

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step)

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            stats = (f"D {record['loss_d']:.3f} G {record['loss_g']:.3f} "
                     f"{record['img_per_s']:.0f} img/s")
            self.bar.update(self.task, completed=record["step"], stats=stats)
        else:
            print(format_record(record, self.total), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
