"""FER-2013 (Goodfellow et al. 2013): 48×48 grey faces, as class folders or the original CSV.

- Folders: ``ROOT/<split>/<class>/*.jpg`` (the common image-folder release: ``train`` and
  ``validation`` = PublicTest; ``test`` = PrivateTest where present).
- CSV: the challenge's ``fer2013.csv`` with columns ``emotion,pixels,Usage``: ``emotion`` is
  0–6 = Angry, Disgust, Fear, Happy, Sad, Surprise, Neutral; ``pixels`` is 2304 space-separated
  grey values; ``Usage`` is ``Training``, ``PublicTest`` or ``PrivateTest``.

The whole image is the face (box = the image). Classes are mapped to the zoo's vocabulary
in the paper's order (Anger … Surprise).
"""

from __future__ import annotations

import csv
import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from glamor_zoo.data.datasets.base import (
    DATASETS,
    OnError,
    Sample,
    WholeImageDataset,
    class_files,
    label_of,
    select_classes,
)
from glamor_zoo.data.datasets.folder import resolve_split_folder
from glamor_zoo.data.images import load_image
from glamor_zoo.data.transforms import Box

__all__ = ["FER2013_CSV_LABELS", "FER2013_USAGE", "Fer2013Dataset"]

_logger = logging.getLogger(__name__)

FER2013_CSV_LABELS: tuple[str, ...] = (
    "Angry",
    "Disgust",
    "Fear",
    "Happy",
    "Sad",
    "Surprise",
    "Neutral",
)
FER2013_USAGE: dict[str, str] = {
    "train": "Training",
    "training": "Training",
    "val": "PublicTest",
    "validation": "PublicTest",
    "publictest": "PublicTest",
    "public_test": "PublicTest",
    "test": "PrivateTest",
    "privatetest": "PrivateTest",
    "private_test": "PrivateTest",
}
_FOLDER_ALIASES: dict[str, tuple[str, ...]] = {
    "val": ("validation", "PublicTest", "public_test", "valid"),
    "validation": ("val", "PublicTest", "public_test", "valid"),
    "test": ("PrivateTest", "private_test"),
    "train": ("Training", "training"),
}


@DATASETS.register("fer2013")
class Fer2013Dataset(WholeImageDataset):
    """FER-2013 from class folders or the original CSV (see the module docs).

    Args:
        root: The folder of split folders, or the CSV file (or a folder holding
            ``fer2013.csv`` and no split folders).
        split: ``train``, ``val``/``validation`` (PublicTest) or ``test`` (PrivateTest).
        preprocess_cfg: The model's ``preprocess_cfg()`` (Deep-Emotion: grey 48×48 faces).
        train: Training preprocessing.
        seed: Base seed of the augmentation.
        classes: Fixed class vocabulary (any spelling); ``None`` → the classes found.
        on_error: See :class:`EmotionDataset`.
        preload: Decode every image of a folder release once, into memory (grey, ~2.3 KB per
            face), instead of reading its file at every access (the CSV is always in memory).
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        preprocess_cfg: Mapping[str, Any] | None = None,
        train: bool = False,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        on_error: OnError = "raise",
        preload: bool = False,
    ) -> None:
        root = Path(root)
        csv_path = root if root.is_file() else root / "fer2013.csv"
        self._rows: list[np.ndarray] | None = None
        self.failures: dict[str, str] = {}
        left_out: dict[str, str] = {}
        if root.is_file() or (
            csv_path.is_file()
            and not any((root / s).is_dir() for s in (split, *_FOLDER_ALIASES.get(split, ())))
        ):
            samples, vocab = self._from_csv(csv_path, split, classes, left_out)
        else:
            samples, vocab = self._from_folders(root, split, classes, left_out)
        super().__init__(samples, vocab, preprocess_cfg, train=train, seed=seed, on_error=on_error)
        if preload and self._rows is None:
            self._rows = [np.array(load_image(s.path).convert("L")) for s in self.samples]
        self.left_out = left_out
        self.root = root
        self.split = split

    @staticmethod
    def _from_folders(
        root: Path, split: str, classes: Sequence[str] | None, left_out: dict[str, str]
    ) -> tuple[list[Sample], list[str]]:
        folder = resolve_split_folder(root, split, _FOLDER_ALIASES.get(split.lower(), ()))
        vocab, files, outside = class_files(folder, classes)
        samples = [Sample(str(p), label) for p, label in files]
        left_out.update(outside)
        if not samples:
            raise FileNotFoundError(f"no images found under {str(folder)!r}")
        return samples, vocab

    def _from_csv(
        self, path: Path, split: str, classes: Sequence[str] | None, left_out: dict[str, str]
    ) -> tuple[list[Sample], list[str]]:
        usage = FER2013_USAGE.get(split.lower())
        if usage is None:
            raise ValueError(
                f"unknown FER-2013 split {split!r}; use one of {sorted(FER2013_USAGE)}"
            )
        vocab, index = select_classes(FER2013_CSV_LABELS, classes)
        rows: list[np.ndarray] = []
        samples: list[Sample] = []
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
            if missing:
                raise ValueError(
                    f"{str(path)!r} is not a FER-2013 CSV: missing column(s) {sorted(missing)} "
                    f"(header: {reader.fieldnames})"
                )
            for line, row in enumerate(reader, start=2):
                if row["Usage"] != usage:
                    continue
                where = f"{path}#{line}"
                try:
                    emotion = int(row["emotion"])
                    values = np.array(row["pixels"].split(), dtype=np.int64)
                    side = math.isqrt(values.size)
                    if not 0 <= emotion < len(FER2013_CSV_LABELS):
                        raise ValueError(f"emotion {emotion} is not 0–6")
                    if side * side != values.size or values.size == 0:
                        raise ValueError(f"{values.size} pixels is not a square image")
                    if values.min() < 0 or values.max() > 255:
                        raise ValueError("pixel values outside 0–255")
                except (ValueError, TypeError, AttributeError) as exc:
                    self.failures[where] = str(exc)
                    continue
                label = index.get(label_of(FER2013_CSV_LABELS[emotion]))
                if label is None:
                    left_out[where] = label_of(FER2013_CSV_LABELS[emotion])
                    continue
                rows.append(values.astype(np.uint8).reshape(side, side))
                samples.append(Sample(where, label))
        if self.failures:
            _logger.warning(
                "%d malformed row(s) left out of %s, e.g. %s",
                len(self.failures),
                path,
                next(iter(self.failures.items())),
            )
        if not samples:
            raise ValueError(f"no {usage} rows in {str(path)!r}")
        self._rows = rows
        return samples, vocab

    def load(self, index: int) -> tuple[Image.Image | torch.Tensor, Box | None]:
        if self._rows is None:
            return super().load(index)
        grey = torch.from_numpy(self._rows[index])
        return grey.unsqueeze(0), (0.0, 0.0, float(grey.shape[1]), float(grey.shape[0]))
