"""Faces and data: image loading, face detection, the paper's preprocessing, datasets.

- :mod:`glamor_zoo.data.images`: :func:`load_image` for real-world files.
- :mod:`glamor_zoo.data.detection`: face detectors by name (``mtcnn``, ``retinaface``,
  ``dlib-hog``, ``dlib-mmod``, plugins).
- :mod:`glamor_zoo.data.transforms`: :class:`GlamorTransform`, the paper's face/context pipeline.
- :mod:`glamor_zoo.data.datasets`: CAER-S/NCAER-S, class folders, FER-2013, CK+.
- :mod:`glamor_zoo.data.ncaer`: rebuilding NCAER-S from the CAER videos.

Backends' heavy dependencies (facenet-pytorch, dlib, PyAV…) are imported on first use.
"""

from __future__ import annotations

from glamor_zoo.data.datasets import EmotionDataset, build_dataset
from glamor_zoo.data.detection import Face, FaceDetector, create_detector
from glamor_zoo.data.images import ImageLoadError, load_image
from glamor_zoo.data.transforms import PAPER_PREPROCESS_CFG, GlamorTransform

__all__ = [
    "PAPER_PREPROCESS_CFG",
    "EmotionDataset",
    "Face",
    "FaceDetector",
    "GlamorTransform",
    "ImageLoadError",
    "build_dataset",
    "create_detector",
    "load_image",
]
