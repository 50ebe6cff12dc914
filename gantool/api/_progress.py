"""Progress in a Jupyter cell: one line updated in place (an IPython display handle), so a run
of thousands of steps leaves one progress bar in the cell, not a line per log step. It renders
in Jupyter, VS Code and Colab, and in a notebook saved and converted to HTML, with no widget
library. On a terminal the command line's reporters are used as they are."""

from __future__ import annotations

import html
import sys
import time

from gantool.train.progress import Reporter

REFRESH_S = 0.5  # at most two display updates a second: each is a message to the front end


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}:{seconds:02d}"


class ProgressLine:
    """A progress bar with a text line beside it, shown once and then updated in place."""

    def __init__(self, label: str, total: int, done: int = 0):
        from IPython.display import display

        self.label, self.total, self.done = label, total, done
        self.start, self.shown, self.stats = time.monotonic(), 0.0, ""
        self.handle = display(self._bundle(), raw=True, display_id=True)

    def update(self, done: int, stats: str | None = None, force: bool = False) -> None:
        self.done = done
        if stats is not None:
            self.stats = stats
        now = time.monotonic()
        if force or now - self.shown >= REFRESH_S:
            self.shown = now
            self.handle.update(self._bundle(), raw=True)

    def text(self) -> str:
        elapsed = time.monotonic() - self.start
        parts = [f"{self.label} {self.done}/{self.total}"]
        if self.stats:
            parts.append(self.stats)
        parts.append(f"{_clock(elapsed)} elapsed")
        if 0 < self.done < self.total:
            rate = self.done / max(elapsed, 1e-9)
            parts.append(f"about {_clock((self.total - self.done) / rate)} left")
        return " | ".join(parts)

    def _bundle(self) -> dict:
        bar = (f'<progress value="{self.done}" max="{max(self.total, 1)}" '
               'style="width: 18em; vertical-align: middle"></progress> ')
        return {"text/plain": self.text(),
                "text/html": f"<div>{bar}<code>{html.escape(self.text())}</code></div>"}


class RecordingReporter(Reporter):
    """The command line's Reporter, keeping what it said for the Run's `messages`."""

    def __init__(self, **options):
        super().__init__(**options)
        self.said: list[str] = []

    def info(self, message: str) -> None:
        self.said.append(message)
        super().info(message)


class NotebookReporter(RecordingReporter):
    """Training's Reporter for a notebook: the step counter and the last logged losses on one
    updating line; messages (start, warnings, the failure-mode summary) as plain lines."""

    def __init__(self):
        super().__init__(enabled=True, stream=sys.stderr)
        self.interactive = False  # no rich live bar: it needs ipywidgets in a notebook
        self.line: ProgressLine | None = None

    def start(self, first_step: int, total: int) -> None:
        self.total = total
        self.line = ProgressLine("step", total, first_step)

    def advance(self, step: int) -> None:
        if self.line is not None:
            self.line.update(step)

    def log(self, record: dict) -> None:
        if self.line is not None:
            stats = (f"loss D {record['loss_d']:.3f} G {record['loss_g']:.3f} | "
                     f"{record['img_per_s']:.0f} img/s")
            self.line.update(record["step"], stats)

    def close(self) -> None:
        if self.line is not None:
            self.line.update(self.line.done, force=True)
            self.line = None


class EvaluationProgress:
    """evaluate's progress(side, done, total) callback as one updating line per side."""

    def __init__(self):
        self.lines: dict[str, ProgressLine] = {}

    def __call__(self, side: str, done: int, total: int) -> None:
        if side not in self.lines:
            self.lines[side] = ProgressLine(f"{side} features", total)
        self.lines[side].update(done, force=done >= total)
