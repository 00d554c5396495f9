"""Datasets: the manifest of clone pairs, its loaders, and validation before any synthesis."""

from rvcbench.data.loaders import Dataset, load_dataset

__all__ = ["Dataset", "load_dataset"]
