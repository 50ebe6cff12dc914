"""Refusing outputs that cannot fit in memory before allocating them (no numpy or torch here).

An allocation far beyond memory either fails late (after minutes of work) or, with Linux's
overcommit, succeeds and gets the process killed while it fills; asking first gives one line.
"""

from __future__ import annotations

import os

from gantool.errors import UsageError


def available_bytes() -> int | None:
    """Memory a new allocation can get: MemAvailable on Linux, else the physical memory the
    OS reports, else None (unknown: nothing is refused)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if n < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    raise AssertionError("unreachable")


def require_memory(nbytes: int, what: str) -> None:
    """UsageError unless `nbytes` fit in the memory available now; `what` names the request."""
    available = available_bytes()
    if available is not None and nbytes > available:
        raise UsageError(
            f"{what} needs {format_bytes(nbytes)} of memory, but {format_bytes(available)} "
            "is available; ask for fewer"
        )
