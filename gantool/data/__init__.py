"""Datasets (registry kind "dataset"). Callers use `load_dataset(name, **options)`.

Importing this package registers the built-in datasets.
"""

from gantool.data.dataset import Dataset, cache_dir, load_dataset

# Importing these registers their datasets.
from gantool.data import arrays, bundled, folder, mixtures, prepared, stacked, torchvision_sets  # noqa: F401  isort: skip

__all__ = ["Dataset", "cache_dir", "load_dataset"]
