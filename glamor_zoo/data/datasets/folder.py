"""Plain class folders (``ROOT[/<split>]/<Class>/*.jpg``) whose faces are detected once, cached."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glamor_zoo.data.datasets.base import DATASETS, EmotionDataset, OnError, Sample, class_files
from glamor_zoo.data.detection import DEFAULT_DETECTOR, FaceDetector, best_face, create_detector
from glamor_zoo.data.detection.cache import DetectionCache, detect_files

__all__ = ["FolderDataset", "resolve_split_folder"]

_logger = logging.getLogger(__name__)


def resolve_split_folder(root: Path, split: str | None, aliases: Sequence[str] = ()) -> Path:
    """``root/<split>`` (or the first existing alias); ``root`` itself for ``None``/``"all"``."""
    if split in (None, "", "all"):
        return root
    for name in (split, *aliases):
        if (root / name).is_dir():
            return root / name
    found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    raise FileNotFoundError(
        f"split {split!r} not found in {str(root)!r} (looked for {[split, *aliases]}); "
        f"sub-folders: {found}; use split=None for a folder of class folders"
    )


@DATASETS.register("folder")
class FolderDataset(EmotionDataset):
    """Class folders of photos; the best face of each photo is detected once and cached.

    Args:
        root: Folder of class folders, or of split folders holding class folders.
        split: Split sub-folder (``None`` or ``"all"``: ``root`` holds the class folders).
        preprocess_cfg: The model's ``preprocess_cfg()``; ``None`` → the paper's pipeline.
        train: Training preprocessing (random crop, face augmentation).
        seed: Base seed of the augmentation.
        classes: Fixed class vocabulary (any spelling); ``None`` → the folders found.
        detector: Detector name or instance (default ``mtcnn``).
        detector_kwargs: Options for a detector given by name (``threshold``…).
        cache: A :class:`DetectionCache`, a path to one, ``None`` for the default cache, or
            ``False`` to detect without caching.
        progress: Show a progress bar while detecting.
        on_error: See :class:`EmotionDataset`. Unreadable files are found while detecting and
            left out whatever this says: :attr:`failures` gives why, :attr:`unreadable` their
            labels (an evaluation counts them as wrong).
    """

    def __init__(
        self,
        root: str | Path,
        split: str | None = None,
        preprocess_cfg: Mapping[str, Any] | None = None,
        train: bool = False,
        seed: int = 0,
        classes: Sequence[str] | None = None,
        detector: str | FaceDetector = DEFAULT_DETECTOR,
        detector_kwargs: Mapping[str, Any] | None = None,
        cache: DetectionCache | str | Path | bool | None = None,
        progress: bool = True,
        on_error: OnError = "raise",
    ) -> None:
        root = Path(root)
        folder = resolve_split_folder(root, split)
        vocab, files, left_out = class_files(folder, classes)
        if not files:
            raise FileNotFoundError(f"no images found under {str(folder)!r}")
        if not isinstance(detector, FaceDetector):
            detector = create_detector(detector, **dict(detector_kwargs or {}))
        if cache is False:
            store, own_cache = None, False
        elif isinstance(cache, DetectionCache):
            store, own_cache = cache, False
        else:
            store = DetectionCache(None if cache is None or cache is True else cache)
            own_cache = True
        try:
            results = detect_files(
                [p for p, _ in files], detector, store, progress=progress, desc=f"faces in {folder}"
            )
        finally:
            if own_cache:
                store.close()
        samples: list[Sample] = []
        self.failures: dict[str, str] = {}
        unreadable: dict[str, int] = {}
        for (path, label), result in zip(files, results, strict=True):
            if result.error is not None:
                self.failures[str(path)] = result.error.reason
                unreadable[str(path)] = label
                continue
            face = best_face(result.faces)
            samples.append(Sample(str(path), label, face.box if face else None))
        if self.failures:
            _logger.warning(
                "%d unreadable image(s) left out of %s, e.g. %s",
                len(self.failures),
                folder,
                next(iter(self.failures)),
            )
        if not samples:
            raise FileNotFoundError(f"no readable images under {str(folder)!r}")
        super().__init__(samples, vocab, preprocess_cfg, train=train, seed=seed, on_error=on_error)
        self.left_out = left_out
        self.unreadable = unreadable
        self.root = root
        self.split = split
        self.detector_settings = detector.settings()
