"""CPU seconds (user + system) a child process has spent: less noisy than wall time on a shared
machine, and the same on a fast or a slow one up to the CPU's own speed."""

from __future__ import annotations

import os
from pathlib import Path

from gantool.errors import GantoolError

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system time of `pid`, its threads and its waited-for children; None once the
    process is gone. Linux reads /proc/PID/stat; elsewhere psutil (with live children)."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError):
            return None
        # Fields after the command name (which may hold spaces) in ")": utime is field 14.
        fields = text.rpartition(")")[2].split()
        utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
        return (utime + stime + cutime + cstime) / _TICK
    try:
        import psutil
    except ImportError:
        raise GantoolError("gantool sweep measures CPU time from /proc (Linux) or with "
                           "psutil elsewhere: pip install psutil") from None
    try:
        process = psutil.Process(pid)
        total = sum(process.cpu_times()[:2])
        for child in process.children(recursive=True):
            total += sum(child.cpu_times()[:2])
        return total
    except psutil.NoSuchProcess:
        return None
