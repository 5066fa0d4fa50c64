"""Face detectors by name, one result type (:class:`Face`), plugins through entry points.

Built in: ``mtcnn`` (the default; facenet-pytorch, offline), ``retinaface`` (the
``retinaface`` extra), ``dlib-hog`` and ``dlib-mmod`` (the ``dlib`` extra; MMOD is the paper's),
and ``none`` for aligned-face datasets whose every image is one face (the centre square, or the
whole image with ``crop="full"``). Any detector can run on a bounded copy of each image
(``max_side``) or on its channels in BGR order (``channel_order``), boxes mapped back
(:class:`AdaptedDetector`).
Third-party detectors register in the entry-point group ``glamor_zoo.detector`` with a
:class:`FaceDetector` subclass (or any factory returning an object with ``detect``)::

    [project.entry-points."glamor_zoo.detector"]
    my_detector = "my_package.detect:MyDetector"

Example::

    from glamor_zoo.data.detection import create_detector
    from glamor_zoo.data.images import load_image

    detector = create_detector("mtcnn", threshold=0.9)
    faces = detector.detect([load_image("group.jpeg")])[0]   # best first
"""

from __future__ import annotations

from typing import Any

from glamor_zoo.data.detection.adapted import (
    DEFAULT_MAX_SIDE,
    DEFAULT_WORKERS,
    AdaptedDetector,
    ChannelOrder,
)
from glamor_zoo.data.detection.base import Face, FaceDetector, best_face, box_iou
from glamor_zoo.data.detection.dlib_backend import DlibHogDetector, DlibMMODDetector
from glamor_zoo.data.detection.mtcnn import MTCNNDetector
from glamor_zoo.data.detection.retinaface_backend import RetinaFaceDetector
from glamor_zoo.data.detection.retry import RetryingDetector
from glamor_zoo.data.detection.whole import WholeImageDetector
from glamor_zoo.registry import new_registry

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_MAX_SIDE",
    "DEFAULT_WORKERS",
    "DETECTORS",
    "AdaptedDetector",
    "DlibHogDetector",
    "DlibMMODDetector",
    "Face",
    "FaceDetector",
    "MTCNNDetector",
    "RetinaFaceDetector",
    "RetryingDetector",
    "WholeImageDetector",
    "best_face",
    "box_iou",
    "create_detector",
    "list_detectors",
]

DEFAULT_DETECTOR = "mtcnn"
#: Detectors that look again on padded copies of an image where they find no face by default
#: (:class:`RetryingDetector`): MTCNN misses faces that fill the frame. The paper's MMOD and the
#: others keep their own behaviour unless asked (``retry=True``).
RETRY_BY_DEFAULT = frozenset({"mtcnn"})
#: MTCNN's candidate-stage thresholds (P-Net, R-Net; its own defaults 0.6, 0.7) on the retries:
#: more candidates reach O-Net, whose score must still reach the detector's threshold.
RETRY_MTCNN_STAGE_THRESHOLDS = (0.4, 0.5)

DETECTORS = new_registry("detector")
DETECTORS.add("mtcnn", MTCNNDetector)
DETECTORS.add("retinaface", RetinaFaceDetector)
DETECTORS.add("dlib-hog", DlibHogDetector)
DETECTORS.add("dlib-mmod", DlibMMODDetector)
DETECTORS.add("none", WholeImageDetector)


def create_detector(
    name: str | type[FaceDetector] = DEFAULT_DETECTOR,
    *,
    max_side: int | None = None,
    channel_order: ChannelOrder = "rgb",
    workers: int = DEFAULT_WORKERS,
    retry: bool | None = None,
    **kwargs: Any,
) -> FaceDetector:
    """Build a face detector by registry name (or class) with backend options.

    Args:
        name: ``mtcnn``, ``retinaface``, ``dlib-hog``, ``dlib-mmod``, ``none``, or a plugin's.
        max_side: Detect on a copy at most this many pixels on its longer side (boxes mapped
            back to the original's pixels); ``None``: the full image.
        channel_order: ``"bgr"`` runs the detector on the image with red and blue swapped, as
            the authors' code ran MMOD on OpenCV's arrays.
        workers: Threads detecting at once, for a backend that is
            :attr:`~FaceDetector.thread_safe` (MTCNN): the images of a call (and, on bounded
            copies, the faces' refinement crops, :class:`AdaptedDetector`); 1: the images of a
            call in batches, in the calling thread.
        **kwargs: The backend's options (``threshold``, ``model_path``, ``weights``, ``device``,
            ``crop``…).

    Raises:
        UnknownComponentError: no such detector (the message lists the valid names).
        ImportError: the backend's optional dependency is missing (names the extra to install).
        ValueError: ``workers`` below 1.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    detector = _adapted(DETECTORS.create(name, **kwargs), max_side, channel_order, workers)
    if retry is None:
        retry = name in RETRY_BY_DEFAULT
    if not retry:
        return detector
    again = None
    if isinstance(detector, MTCNNDetector) or (
        isinstance(detector, AdaptedDetector) and isinstance(detector.detector, MTCNNDetector)
    ):
        last = float(kwargs.get("stage_thresholds", (0.6, 0.7, 0.7))[2])
        stages = (*RETRY_MTCNN_STAGE_THRESHOLDS, last)
        again = _adapted(
            DETECTORS.create(name, **{**kwargs, "stage_thresholds": stages}),
            max_side,
            channel_order,
            workers,
        )
    return RetryingDetector(detector, again=again)


def _adapted(
    detector: FaceDetector, max_side: int | None, channel_order: ChannelOrder, workers: int
) -> FaceDetector:
    """``detector`` with its threads, on bounded / channel-swapped copies where asked."""
    if max_side is None and channel_order == "rgb":
        detector.workers = workers
        return detector
    return AdaptedDetector(
        detector, max_side=max_side, channel_order=channel_order, workers=workers
    )


def list_detectors() -> list[str]:
    """Names of the available detectors, built-ins and plugins."""
    return DETECTORS.names()
