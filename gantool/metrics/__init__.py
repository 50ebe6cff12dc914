"""Evaluation metrics (registry kind "metric") and feature extractors ("feature-extractor").

One small module per metric; importing this package registers them all.
"""

from gantool.metrics import fid, inception_score, kid, mode_coverage, prdc  # noqa: F401  (register)
