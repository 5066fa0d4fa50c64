"""dlib's face detectors: HOG + linear SVM (``dlib-hog``) and the MMOD CNN (``dlib-mmod``).

MMOD is the detector the paper used (the authors' ``data_utils.py``). Both need the ``dlib``
extra (``pip install 'glamor-zoo[dlib]'``, which installs the prebuilt ``dlib-bin``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector, rgb_array, run_grouped

__all__ = ["MMOD_MODEL_ENV", "DlibHogDetector", "DlibMMODDetector"]

MMOD_MODEL_ENV = "GLAMOR_ZOO_MMOD_MODEL"
MMOD_MODEL_URL = "http://dlib.net/files/mmod_human_face_detector.dat.bz2"


def _import_dlib() -> Any:
    try:
        import dlib
    except ImportError as exc:
        raise ImportError(
            "the dlib detectors need dlib: pip install 'glamor-zoo[dlib]' (installs dlib-bin)"
        ) from exc
    return dlib


def _box(rect: Any) -> tuple[float, float, float, float]:
    # NOTE: dlib's right()/bottom() are inclusive; the authors wrote them unchanged into the crop
    # files and sliced [y1:y2, x1:x2], so the zoo keeps dlib's numbers exactly.
    return float(rect.left()), float(rect.top()), float(rect.right()), float(rect.bottom())


class DlibHogDetector(FaceDetector):
    """dlib's frontal-face HOG detector (fast, frontal faces only).

    Args:
        threshold: Minimum SVM score (dlib's own default: 0).
        upsample: Times the image is doubled before detection (finds smaller faces, slower).
    """

    name = "dlib-hog"

    def __init__(self, threshold: float = 0.0, upsample: int = 1, batch_size: int = 8) -> None:
        super().__init__(threshold, batch_size)
        self.upsample = int(upsample)
        self._detector = _import_dlib().get_frontal_face_detector()

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "upsample": self.upsample}

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        results = []
        for image in images:
            rects, scores, _ = self._detector.run(rgb_array(image), self.upsample, self.threshold)
            results.append([Face(_box(r), float(s)) for r, s in zip(rects, scores, strict=True)])
        return results


class DlibMMODDetector(FaceDetector):
    """dlib's MMOD CNN face detector, the paper's (2–9 s per image on a CPU).

    Args:
        model_path: ``mmod_human_face_detector.dat``; default: the file named by the
            environment variable ``GLAMOR_ZOO_MMOD_MODEL``.
        threshold: Minimum MMOD confidence (the authors' ``predict.py`` used 0.6).
        upsample: Times the image is doubled before detection (the authors used 1).
        batch_size: Equally sized images per CNN call.
    """

    name = "dlib-mmod"

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        threshold: float = 0.6,
        upsample: int = 1,
        batch_size: int = 8,
    ) -> None:
        super().__init__(threshold, batch_size)
        dlib = _import_dlib()
        model_path = model_path or os.environ.get(MMOD_MODEL_ENV)
        if not model_path:
            raise FileNotFoundError(
                "dlib-mmod needs its model file mmod_human_face_detector.dat: pass "
                f"model_path=... (CLI: --detector-arg model_path=...) or set {MMOD_MODEL_ENV}; "
                f"download it from {MMOD_MODEL_URL} and decompress it (bunzip2)"
            )
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"dlib-mmod model file {str(path)!r} does not exist")
        self.model_path = str(path.resolve())
        self.upsample = int(upsample)
        try:
            self._detector = dlib.cnn_face_detection_model_v1(self.model_path)
        except RuntimeError as exc:
            raise ValueError(f"{self.model_path!r} is not a dlib MMOD model file ({exc})") from exc

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "upsample": self.upsample,
            "model": Path(self.model_path).name,
            "model_bytes": Path(self.model_path).stat().st_size,
        }

    def _same_size(self, images: list[Image.Image]) -> list[list[Face]]:
        arrays = [rgb_array(im) for im in images]
        if len(arrays) == 1:
            detections = [self._detector(arrays[0], self.upsample)]
        else:
            detections = self._detector(arrays, self.upsample, batch_size=len(arrays))
        return [[Face(_box(d.rect), float(d.confidence)) for d in dets] for dets in detections]

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        return run_grouped(images, self._same_size)
