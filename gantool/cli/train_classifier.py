"""`gantool train-classifier` (being built)."""

from gantool.errors import GantoolError


def train_classifier_command() -> None:
    """(being built)"""
    raise GantoolError("train-classifier is not built yet")
