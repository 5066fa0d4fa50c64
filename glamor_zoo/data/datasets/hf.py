"""A 🤗 dataset (Hub id or local folder) of labelled photos, for evaluation and training.

Reads an image column and a label column (a ``ClassLabel``, class names, or class indices
into ``classes``) of one split through :func:`glamor_zoo.data.hf.open_dataset`; the best face
of each image is detected once when the dataset is built (``detector="none"`` for images that
already are face crops). Sample paths are ``<source>[<row>]``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from PIL import Image
from tqdm.auto import tqdm

from glamor_zoo.data.datasets.base import DATASETS, EmotionDataset, OnError, Sample, select_classes
from glamor_zoo.data.detection import DEFAULT_DETECTOR, FaceDetector, best_face, create_detector
from glamor_zoo.data.hf import DatasetSourceError, image_from_cell, open_dataset
from glamor_zoo.data.images import ImageLoadError
from glamor_zoo.data.transforms import Box

__all__ = ["HFDataset"]

_logger = logging.getLogger(__name__)


@DATASETS.register("hf")
class HFDataset(EmotionDataset):
    """The labelled images of a 🤗 dataset split; faces detected once.

    Args:
        root: A Hub id, a ``save_to_disk`` folder, or a folder ``load_dataset`` reads.
        split: The split (``None``: the only one).
        preprocess_cfg: The model's ``preprocess_cfg()``; ``None`` → the paper's pipeline.
        train: Training preprocessing (random crop, face augmentation).
        seed: Base seed of the augmentation.
        classes: Fixed class vocabulary (any spelling); needed when labels are plain indices.
        image_column: The column of images.
        label_column: The column of true classes.
        detector: Detector name or instance (default ``mtcnn``; ``none`` for face crops).
        detector_kwargs: Options for a detector given by name.
        progress: Show a progress bar while detecting.
        on_error: See :class:`EmotionDataset`. Unreadable images are found while detecting
            and left out whatever this says: :attr:`failures` gives why, :attr:`unreadable`
            their labels (an evaluation counts them as wrong).
    """

    def __init__(
        self,
        root: str,
        split: str | None = None,
        preprocess_cfg: Mapping[str, Any] | None = None,
        train: bool = False,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        image_column: str = "image",
        label_column: str = "label",
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        detector_kwargs: Mapping[str, Any] | None = None,
        progress: bool = True,
        on_error: OnError = "raise",
    ) -> None:
        self.dataset = open_dataset(
            root, split=split, image_column=image_column, columns=(label_column,)
        )
        self.image_column = image_column
        names = self._label_names(root, label_column, classes)
        vocab, index = select_classes(set(names), classes)
        if not isinstance(detector, FaceDetector):
            detector = create_detector(detector, **dict(detector_kwargs or {}))
        samples: list[Sample] = []
        self.rows: list[int] = []
        self.failures: dict[str, str] = {}
        unreadable: dict[str, int] = {}
        left_out: dict[str, str] = {}
        wanted = []
        for row, name in enumerate(names):
            path = f"{root}[{row}]"
            if name not in index:
                left_out[path] = name
            else:
                wanted.append((row, path, index[name]))
        batch = getattr(detector, "batch_size", 16)
        for start in tqdm(
            range(0, len(wanted), batch), desc=f"faces in {root}", disable=not progress or None
        ):
            chunk, images = [], []
            for row, path, label in wanted[start : start + batch]:
                try:
                    images.append(image_from_cell(self.dataset[row][image_column], path))
                    chunk.append((row, path, label))
                except ImageLoadError as exc:
                    self.failures[path] = exc.reason
                    unreadable[path] = label
            for (row, path, label), faces in zip(chunk, detector.detect(images), strict=True):
                face = best_face(faces)
                samples.append(Sample(path, label, face.box if face else None))
                self.rows.append(row)
        if self.failures:
            _logger.warning("%d unreadable image(s) left out of %s", len(self.failures), root)
        if not samples:
            raise FileNotFoundError(f"no readable images of known classes in dataset {root!r}")
        super().__init__(samples, vocab, preprocess_cfg, train=train, seed=seed, on_error=on_error)
        self.left_out = left_out
        self.unreadable = unreadable
        self.detector_settings = detector.settings()

    def _label_names(self, root: str, column: str, classes: Sequence[str] | None) -> list[str]:
        from glamor_zoo.data.datasets.base import label_of

        values = list(self.dataset[column])
        feature = self.dataset.features.get(column)
        if hasattr(feature, "int2str"):
            return [label_of(feature.int2str(int(v))) for v in values]
        if all(isinstance(v, str) for v in values):
            return [label_of(v) for v in values]
        if classes is None:
            raise DatasetSourceError(
                f"dataset {root!r}: label column {column!r} holds class indices without "
                "names (no ClassLabel); give the class names (the model's are used by eval)"
            )
        vocab = [label_of(c) for c in classes]
        try:
            return [vocab[int(v)] for v in values]
        except (IndexError, TypeError, ValueError):
            raise DatasetSourceError(
                f"dataset {root!r}: label column {column!r} holds values outside 0..{len(vocab) - 1}"
            ) from None

    def load(self, index: int) -> tuple[Image.Image | torch.Tensor, Box | None]:
        sample = self.samples[index]
        cell = self.dataset[self.rows[index]][self.image_column]
        return image_from_cell(cell, sample.path), sample.box
