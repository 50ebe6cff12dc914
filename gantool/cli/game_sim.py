"""`gantool game-sim` (being built)."""

from gantool.errors import GantoolError


def game_sim_command() -> None:
    """(being built)"""
    raise GantoolError("game-sim is not built yet")
