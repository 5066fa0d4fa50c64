"""CK+ (Lucey et al. 2010) face crops, e.g. the common CK+48 release, split by subject.

Layout ``ROOT/<class>/S<subject>_<sequence>_<frame>.png``. Each sequence gives several
near-identical frames, so train and test must not share subjects: the subjects (the ``S###``
file-name prefix) are shuffled with a seed and cut into ``num_folds`` folds; ``split="test"``
is fold ``fold``, ``split="train"`` the others, ``split="all"`` everything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glamor_zoo.data.datasets.base import DATASETS, OnError, Sample, WholeImageDataset, class_files

__all__ = ["CKPlusDataset", "subject_folds", "subject_of"]

_SUBJECT = re.compile(r"^(S\d+)_")


def subject_of(path: str | Path) -> str:
    """The subject id (``S005``) of a CK+ file name; error if the name has none."""
    match = _SUBJECT.match(Path(path).name)
    if match is None:
        raise ValueError(
            f"CK+ file name {Path(path).name!r} does not start with a subject id like 'S005_'"
        )
    return match.group(1)


def subject_folds(subjects: Sequence[str], num_folds: int, seed: int) -> list[list[str]]:
    """Unique ``subjects`` shuffled with ``seed`` and cut into ``num_folds`` near-equal folds."""
    unique = sorted(set(subjects))
    if not 2 <= num_folds <= len(unique):
        raise ValueError(
            f"num_folds must be in 2..{len(unique)} (the number of subjects), got {num_folds}"
        )
    order = np.random.default_rng(seed).permutation(len(unique))
    return [[unique[i] for i in chunk] for chunk in np.array_split(order, num_folds)]


@DATASETS.register("ckplus")
class CKPlusDataset(WholeImageDataset):
    """CK+ with a subject-disjoint split (see the module docs).

    Args:
        root: Folder of class folders (``anger``, ``contempt``… any spelling).
        split: ``train``, ``test`` or ``all``.
        preprocess_cfg: The model's ``preprocess_cfg()``.
        train: Training preprocessing.
        seed: Base seed of the augmentation, and of the subject split unless ``split_seed``
            is given.
        fold: Which fold is the test split (0 … num_folds-1).
        num_folds: Number of subject folds (10 → 90 % / 10 % of the subjects).
        split_seed: Seed of the subject shuffle (``None`` → ``seed``).
        classes: Fixed class vocabulary (any spelling); ``None`` → the folders found (paper
            order, then CK+'s extra ``Contempt``).
        on_error: See :class:`EmotionDataset`.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        preprocess_cfg: Mapping[str, Any] | None = None,
        train: bool = False,
        seed: int = 0,
        fold: int = 0,
        num_folds: int = 10,
        split_seed: int | None = None,
        classes: Sequence[str] | None = None,
        on_error: OnError = "raise",
    ) -> None:
        if split not in ("train", "test", "all"):
            raise ValueError(f"CK+ split must be 'train', 'test' or 'all', got {split!r}")
        if not 0 <= fold < num_folds:
            raise ValueError(f"fold must be in 0..{num_folds - 1}, got {fold}")
        root = Path(root)
        vocab, files, outside = class_files(root, classes)
        if not files:
            raise FileNotFoundError(f"no images found under {str(root)!r}")
        subjects = [subject_of(p) for p, _ in files]
        # NOTE: the folds are cut from every subject of every class folder, so fold k holds the
        # same people whichever classes a model knows.
        every_subject = subjects + [subject_of(p) for p in outside]
        folds = subject_folds(every_subject, num_folds, seed if split_seed is None else split_seed)
        test_subjects = set(folds[fold])
        keep = {
            "all": lambda s: True,
            "test": lambda s: s in test_subjects,
            "train": lambda s: s not in test_subjects,
        }[split]
        samples = [
            Sample(str(p), label)
            for (p, label), subject in zip(files, subjects, strict=True)
            if keep(subject)
        ]
        super().__init__(samples, vocab, preprocess_cfg, train=train, seed=seed, on_error=on_error)
        self.left_out = {p: c for p, c in outside.items() if keep(subject_of(p))}
        self.root = root
        self.split = split
        self.fold = fold
        self.num_folds = num_folds
        self.subjects = sorted({s for s in subjects if keep(s)})
