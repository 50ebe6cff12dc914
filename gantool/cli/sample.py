"""`gantool sample` (being built)."""

from gantool.errors import GantoolError


def sample_command() -> None:
    """(being built)"""
    raise GantoolError("sample is not built yet")
