"""What a run directory says about its run, read without torch and without running any code.

    config.json       the resolved options (required: it is what makes a folder a run)
    metrics.jsonl     one record per logged step (a torn last line is normal while training)
    summary.json      written when training finishes; its "status" field wins when present
    samples/step-NNNNNN.png, checkpoints/step-NNNNNN.pt, .lock (a held flock: running)
    evaluation*.json  `gantool evaluate --run RUN --json > RUN/evaluation.json`, when present
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from gantool.errors import GantoolError, UsageError

STEP_FILE = re.compile(r"^step-(\d+)\.(png|pt)$")
STATUSES = ("finished", "stopped", "diverged", "running")
DIAGNOSTICS = ("diminished_gradient", "non_convergence", "mode_collapse")


@dataclass
class Run:
    path: Path
    config: dict
    records: list[dict] = field(default_factory=list)
    summary: dict | None = None
    samples: list[tuple[int, Path]] = field(default_factory=list)
    checkpoint_steps: list[int] = field(default_factory=list)
    evaluations: dict[str, dict] = field(default_factory=dict)
    running: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def options(self) -> dict:
        options = self.config.get("options")
        return options if isinstance(options, dict) else {}

    @property
    def steps_done(self) -> int:
        seen = [r["step"] for r in self.records] + self.checkpoint_steps
        if self.summary and isinstance(self.summary.get("steps"), int):
            seen.append(self.summary["steps"])
        return max(seen, default=0)

    @property
    def steps_planned(self) -> int | None:
        steps = self.options.get("steps")
        return steps if isinstance(steps, int) else None

    @property
    def status(self) -> str:
        if self.running:
            return "running"
        said = (self.summary or {}).get("status")
        if said in STATUSES:
            return said
        last = self.records[-1] if self.records else {}
        if any(isinstance(v, float) and not math.isfinite(v) for v in last.values()):
            return "diverged"
        # summary.json is written at the end; a resume that stopped early leaves an older one.
        if self.summary is not None and self.summary.get("steps", -1) >= self.steps_done:
            return "finished"
        return "stopped"

    def flags(self) -> dict[str, dict]:
        """Each diagnostic flagged at least once: {kind: {"count", "checks", "first_step"}}."""
        found: dict[str, dict] = {}
        checks = [r for r in self.records if isinstance(r.get("diag"), dict)]
        for record in checks:
            for kind, flagged in record["diag"].items():
                if flagged is True:
                    entry = found.setdefault(kind, {"count": 0, "first_step": record["step"]})
                    entry["count"] += 1
        for entry in found.values():
            entry["checks"] = len(checks)
        return found


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GantoolError(f"cannot read {path}: {exc}") from None
    if not isinstance(value, dict):
        raise GantoolError(f"cannot read {path}: expected a JSON object")
    return value


def read_records(path: Path) -> list[dict]:
    """metrics.jsonl: the records with an integer step, the last one kept per step (a resumed
    run may repeat steps); unreadable lines (a line torn while training) are skipped."""
    by_step: dict[int, dict] = {}
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise GantoolError(f"cannot read {path}: {exc.strerror or exc}") from None
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and isinstance(record.get("step"), int):
            by_step[record["step"]] = record
    return [by_step[s] for s in sorted(by_step)]


def _step_files(folder: Path, suffix: str) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = STEP_FILE.match(path.name)
        if match and match.group(2) == suffix and path.is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def is_locked(run_dir: Path) -> bool:
    """True while a trainer holds the run's flock (released by the OS when it dies)."""
    lock = run_dir / ".lock"
    if not lock.is_file():
        return False
    try:
        import fcntl
    except ImportError:  # no fcntl (Windows): the lock is not used there either
        return False
    with open(lock) as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return False


def read_run(run_dir: str | Path) -> Run:
    path = Path(run_dir)
    if not path.is_dir():
        raise GantoolError(f"run directory not found: {path}")
    if not (path / "config.json").is_file():
        raise GantoolError(f"{path} is not a gantool run directory (no config.json)")
    summary_path = path / "summary.json"
    evaluations = {p.name: _read_json(p) for p in sorted(path.glob("evaluation*.json"))}
    return Run(
        path=path,
        config=_read_json(path / "config.json"),
        records=read_records(path / "metrics.jsonl"),
        summary=_read_json(summary_path) if summary_path.is_file() else None,
        samples=_step_files(path / "samples", "png"),
        checkpoint_steps=[s for s, _ in _step_files(path / "checkpoints", "pt")],
        evaluations=evaluations,
        running=is_locked(path),
    )


def find_runs(root: str | Path) -> list[Path]:
    """The run directories directly under root (the `latest` pointer is not a second run)."""
    root = Path(root)
    if not root.is_dir():
        raise UsageError(f"runs root not found: {root}")
    return sorted(p for p in root.iterdir()
                  if p.name != "latest" and p.is_dir() and (p / "config.json").is_file())
