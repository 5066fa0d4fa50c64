"""Recognition in photos, folders and videos: :class:`EmotionRecognizer`, pictures, ONNX export.

- :mod:`~glamor_zoo.inference.recognizer`: :class:`EmotionRecognizer` (detect, preprocess,
  batch, predict) in the exact or the shared-context mode (:mod:`.shared_context`).
- :mod:`~glamor_zoo.inference.visualize`: boxes and labels, attention overlays, saliency.
- :mod:`~glamor_zoo.inference.video`: frame sampling and annotated videos (PyAV, ``video`` extra).
- :mod:`~glamor_zoo.inference.onnx_export`: ONNX export and its onnxruntime check (``onnx`` extra).
"""

from __future__ import annotations

from glamor_zoo.inference.loading import DEFAULT_MODEL, ModelLoadError, load_model
from glamor_zoo.inference.recognizer import EmotionRecognizer
from glamor_zoo.inference.results import FaceRecord, ImageResult

__all__ = [
    "DEFAULT_MODEL",
    "EmotionRecognizer",
    "FaceRecord",
    "ImageResult",
    "ModelLoadError",
    "load_model",
]
