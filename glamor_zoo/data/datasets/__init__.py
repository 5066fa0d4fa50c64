"""Emotion datasets as torch Datasets, built by kind with :func:`build_dataset`.

Kinds (registry ``dataset``; plugins add more through the entry-point group
``glamor_zoo.dataset``):

- ``caer`` / ``ncaer``: the official CAER-S/NCAER-S layout with ``crop/`` box files;
- ``folder``: plain class folders, faces detected once and cached;
- ``fer2013``: FER-2013 as class folders or as the original CSV;
- ``ckplus``: CK+ (e.g. CK+48) with a subject-disjoint train/test split;
- ``hf``: a 🤗 dataset (Hub id or local folder) with an image and a label column.

Every dataset yields ``{"face", "context", "label", "path"}`` dicts (no ``"context"`` for
face-only preprocessing), exposes ``classes`` and ``targets``, and seeds its augmentation per
(seed, epoch, index): call ``set_epoch(epoch)`` each epoch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glamor_zoo.data.datasets.base import (
    DATASETS,
    EmotionDataset,
    Sample,
    WholeImageDataset,
    class_vocabulary,
    label_of,
    sample_generator,
)
from glamor_zoo.data.datasets.caer import CaerDataset, read_box
from glamor_zoo.data.datasets.ckplus import CKPlusDataset
from glamor_zoo.data.datasets.fer2013 import Fer2013Dataset
from glamor_zoo.data.datasets.folder import FolderDataset
from glamor_zoo.data.datasets.hf import HFDataset

__all__ = [
    "DATASETS",
    "CKPlusDataset",
    "CaerDataset",
    "EmotionDataset",
    "Fer2013Dataset",
    "FolderDataset",
    "HFDataset",
    "Sample",
    "WholeImageDataset",
    "build_dataset",
    "class_vocabulary",
    "label_of",
    "read_box",
    "sample_generator",
]


def build_dataset(
    kind: str,
    root: str | Path,
    split: str = "train",
    preprocess_cfg: dict[str, Any] | None = None,
    train: bool | None = None,
    **kwargs: Any,
) -> EmotionDataset:
    """Build a dataset by kind.

    Args:
        kind: ``caer``, ``ncaer``, ``folder``, ``fer2013``, ``ckplus``, ``hf`` or a plugin's name.
        root: The dataset's folder (or CSV file for ``fer2013``, a Hub id for ``hf``).
        split: The split to read.
        preprocess_cfg: The model's ``preprocess_cfg()``; ``None`` → the paper's pipeline.
        train: Training preprocessing; ``None`` → ``split == "train"``.
        **kwargs: Passed to the dataset class (``seed``, ``classes``, ``fold``…).
    """
    if train is None:
        train = split == "train"
    return DATASETS.create(
        kind, root, split=split, preprocess_cfg=preprocess_cfg, train=train, **kwargs
    )
