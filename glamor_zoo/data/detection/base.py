"""The result type and the interface every face detector backend implements."""

from __future__ import annotations

import importlib
import json
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from PIL import Image

__all__ = [
    "Face",
    "FaceDetector",
    "best_face",
    "box_iou",
    "detection_threads",
    "group_by_size",
    "import_backend",
    "largest_first",
]

_Result = TypeVar("_Result")


@dataclass(frozen=True)
class Face:
    """One detected face.

    Attributes:
        box: (x1, y1, x2, y2) in pixels of the original image. Not clipped: a face cut by the
            image border may reach outside it (the preprocessing clips).
        score: The backend's confidence (its own scale: a probability for ``mtcnn`` and
            ``retinaface``, an SVM/CNN margin for the dlib detectors).
        landmarks: Five (x, y) points (eyes, nose, mouth corners) when the backend gives
            them, else ``None``.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...] | None = None

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``box``, ``score``, ``landmarks``)."""
        return {
            "box": list(self.box),
            "score": self.score,
            "landmarks": [list(p) for p in self.landmarks] if self.landmarks else None,
        }


def best_face(faces: Sequence[Face]) -> Face | None:
    """The highest-scoring face (the paper keeps one face per training image), or ``None``."""
    return max(faces, key=lambda f: f.score, default=None)


def import_backend(module: str, needs: str) -> Any:
    """Import a detector's optional dependency ``module``.

    Raises:
        ImportError: it is not installed: ``"{needs} ({the import error})"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(f"{needs} ({exc})") from exc


def box_iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes (0 when they do not overlap)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def group_by_size(images: Sequence[Image.Image]) -> dict[tuple[int, int], list[int]]:
    """Indices of ``images`` grouped by (width, height): batched backends need equal sizes."""
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, image in enumerate(images):
        groups[image.size].append(i)
    return dict(groups)


class FaceDetector(ABC):
    """A face detector: RGB images in, faces above :attr:`threshold` out, best first.

    Subclasses implement :meth:`_detect_batch` (images of any sizes) and list their settings
    in :meth:`settings` (they key the detection caches).

    Args:
        threshold: Faces scoring below it are dropped (the backend's own scale).
        batch_size: Images per backend call, where the backend can batch.
    """

    name: str = "detector"
    #: Whether one instance may detect in several threads at once (:class:`AdaptedDetector`'s
    #: ``workers``). Off unless a backend is known to keep no state between calls (dlib's CNN
    #: stores each layer's output in the network object).
    thread_safe: bool = False
    #: Threads detecting the images of one :meth:`detect` call at once, one image each, when
    #: :attr:`thread_safe` (torch releases the GIL inside its operations, and MTCNN's many
    #: small ones leave its intra-op threads idle); 1: batches of :attr:`batch_size` in the
    #: calling thread. The faces are the same either way up to float rounding (~1e-4 px).
    workers: int = 1

    def __init__(self, threshold: float, batch_size: int = 8) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)

    @abstractmethod
    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        """All faces the backend finds in each image (before the threshold)."""

    def settings(self) -> dict[str, Any]:
        """What determines this detector's output (name, threshold, backend options)."""
        return {"name": self.name, "threshold": self.threshold}

    def searching_faces_from(self, pixels: float) -> FaceDetector:
        """A detector for images where only faces of at least ``pixels`` matter: backends
        whose cost grows with the range of face sizes searched (MTCNN's image pyramid) return
        a cheaper copy; the others return themselves."""
        return self

    def fingerprint(self) -> str:
        """A stable string of :meth:`settings`, for cache keys."""
        return json.dumps(self.settings(), sort_keys=True, default=str)

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        """Faces in each image, highest score first, scores at or above :attr:`threshold`.

        Args:
            images: RGB PIL images (any sizes; other modes are converted to RGB).
        """
        images = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        results: list[list[Face]] = []
        if self.workers > 1 and self.thread_safe and len(images) > 1:
            results.extend(
                largest_first(lambda image: self._detect_batch([image])[0], images, self.workers)
            )
        else:
            for start in range(0, len(images), self.batch_size):
                results.extend(self._detect_batch(images[start : start + self.batch_size]))
        return [
            sorted((f for f in faces if f.score >= self.threshold), key=lambda f: -f.score)
            for faces in results
        ]

    def detect_one(self, image: Image.Image) -> list[Face]:
        """:meth:`detect` for one image."""
        return self.detect([image])[0]

    def __call__(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        return self.detect(images)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items() if k != "name")
        return f"{type(self).__name__}({args})"


@contextmanager
def detection_threads(workers: int) -> Iterator[ThreadPoolExecutor]:
    """A pool of ``workers`` threads that share torch's intra-op threads between them: each runs
    its operations on ``torch.get_num_threads() // workers`` of them (at least one). For tasks
    of similar sizes (:class:`~glamor_zoo.data.detection.AdaptedDetector`'s bounded copies and
    refinement crops).

    NOTE: measured (benchmarks/README.md): two workers that each kept torch's two OpenMP
    threads ran four busy threads on two cores; the 12 benchmark photos' detection took
    0.76–0.89 s against 0.71–0.75 s with one thread each, and end to end `predict` went from
    11.2 to 15.0 images/s. ``torch.set_num_threads`` also sets the default
    of threads that start using torch later, so the caller's setting is restored when the pool
    is done."""
    import torch

    saved = torch.get_num_threads()
    each = max(1, saved // workers)
    try:
        with ThreadPoolExecutor(
            workers, initializer=torch.set_num_threads, initargs=(each,)
        ) as pool:
            yield pool
    finally:
        torch.set_num_threads(saved)


def largest_first(
    fn: Callable[[Image.Image], _Result], images: Sequence[Image.Image], workers: int
) -> list[_Result]:
    """``fn`` over ``images`` in up to ``workers`` threads, results in input order.

    The images are started largest first (by pixels): a detector's time grows with them, and
    the largest photo started last would leave the other threads idle while it finishes
    (longest-processing-time-first scheduling)."""
    order = sorted(range(len(images)), key=lambda i: -images[i].width * images[i].height)
    results: list[_Result | None] = [None] * len(images)
    # NOTE: torch's intra-op threads are not split between these workers (detection_threads):
    # at full resolution one photo can outweigh all the others (a 12 MP photo among the 11
    # scene photos: `predict --max-side 0` fell from 1.11x to 0.94x f010fcf's images/s with
    # one thread per worker), and it then finishes alone on one thread.
    with ThreadPoolExecutor(max(1, min(workers, len(images)))) as pool:
        for index, result in zip(order, pool.map(lambda i: fn(images[i]), order), strict=True):
            results[index] = result
    return results  # type: ignore[return-value]


def run_grouped(
    images: list[Image.Image], detect_same_size: Callable[[list[Image.Image]], list[list[Face]]]
) -> list[list[Face]]:
    """Call ``detect_same_size`` once per group of equally sized images; results in input order."""
    results: list[list[Face]] = [[] for _ in images]
    for indices in group_by_size(images).values():
        for index, faces in zip(
            indices, detect_same_size([images[i] for i in indices]), strict=True
        ):
            results[index] = faces
    return results


def rgb_array(image: Image.Image) -> np.ndarray:
    """A C-contiguous (H, W, 3) uint8 array of an RGB image."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
