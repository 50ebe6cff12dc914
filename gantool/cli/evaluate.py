"""`gantool evaluate` (being built)."""

from gantool.errors import GantoolError


def evaluate_command() -> None:
    """(being built)"""
    raise GantoolError("evaluate is not built yet")
