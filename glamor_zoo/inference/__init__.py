"""Recognition in photos, folders, videos and datasets: :class:`EmotionRecognizer`, jobs, ONNX.

- :mod:`~glamor_zoo.inference.recognizer`: :class:`EmotionRecognizer` (detect, preprocess,
  batch, predict) in the exact or the shared-context mode (:mod:`.shared_context`).
- :mod:`~glamor_zoo.inference.visualize`: boxes and labels, attention overlays, saliency.
- :mod:`~glamor_zoo.inference.video`: frame sampling and annotated videos (PyAV, ``video`` extra).
- People over time in videos: :mod:`.tracking` (faces linked into tracks, shot cuts),
  :mod:`.smoothing` (probabilities over time), :mod:`.tracked` (the stage over a run's video
  predictions, ``EmotionRecognizer.track``), :mod:`.timeline` and :mod:`.timeline_plot`
  (timelines, per-person summaries, their files and pictures).
- :mod:`~glamor_zoo.inference.onnx_export`: ONNX export and its onnxruntime check (``onnx`` extra).
- :mod:`~glamor_zoo.inference.job`: a resumable prediction job into a folder, in one process or
  shared by the processes of ``accelerate launch`` (:mod:`.processes`, :mod:`.journal`,
  :mod:`.progress`), reading files or 🤗 datasets (:mod:`.sources`), writing pictures
  (:mod:`.pictures`) and JSON, CSV, Parquet or dataset results (:mod:`.writers`).
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
