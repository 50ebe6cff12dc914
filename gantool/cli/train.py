"""`gantool train` (being built)."""

from gantool.errors import GantoolError


def train_command() -> None:
    """(being built)"""
    raise GantoolError("train is not built yet")
