"""Datasets: registry, fetching/mirroring, loading through HF `datasets`, normalisation, splits."""

from smishctl.data.prepare import Example, PreparedDataset, load_dataset_splits

__all__ = ["Example", "PreparedDataset", "load_dataset_splits"]
