"""Evaluation metrics (registry kind "metric") and feature extractors ("feature-extractor").

One small module per metric; importing this package registers them all.
"""

from gantool.metrics import (  # noqa: F401  (register)
    fid,
    inception_score,
    kid,
    memorization,
    mode_coverage,
    prdc,
)
