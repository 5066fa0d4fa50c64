"""Run a detector on a prepared copy of each image; boxes come back in the original's pixels.

Two preparations, each optional:

- ``max_side``: the copy is at most this many pixels on its longer side. MTCNN on a 64 MP photo
  builds a float image pyramid of several GB; on a 1,600-pixel copy it needs a few MB, and the
  faces of such a photo are large anyway. Boxes and landmarks are scaled back per axis.
- ``channel_order="bgr"``: the copy's red and blue channels are swapped. The authors'
  ``predict.py`` and ``extract_faces`` ran dlib's MMOD on the array ``cv2.imread`` returns, in
  BGR order; MMOD is not colour-blind (its boxes on RGB and BGR differ, IoU 0.66–0.70 on three
  of five faces of their sample photos), so the authors' boxes need the swap.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector

__all__ = ["AdaptedDetector", "ChannelOrder", "bounded_size"]

ChannelOrder = Literal["rgb", "bgr"]


def bounded_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(width, height) scaled so that the longer side is at most ``max_side`` (never enlarged)."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


class AdaptedDetector(FaceDetector):
    """``detector`` run on a bounded and/or channel-swapped copy of each image.

    Args:
        detector: The detector doing the work.
        max_side: Longest side of the copy it sees (``None``: the full size).
        channel_order: ``"rgb"`` (as loaded) or ``"bgr"`` (red and blue swapped, as OpenCV
            loads images).
    """

    def __init__(
        self,
        detector: FaceDetector,
        max_side: int | None = None,
        channel_order: ChannelOrder = "rgb",
    ) -> None:
        if max_side is not None and max_side < 1:
            raise ValueError(f"max_side must be at least 1, got {max_side}")
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        super().__init__(detector.threshold, detector.batch_size)
        self.detector = detector
        self.name = detector.name
        self.max_side = max_side
        self.channel_order: ChannelOrder = channel_order

    def settings(self) -> dict[str, Any]:
        return {
            **self.detector.settings(),
            "max_side": self.max_side,
            "channel_order": self.channel_order,
        }

    def _prepare(self, image: Image.Image) -> Image.Image:
        if self.max_side is not None:
            size = bounded_size(image.width, image.height, self.max_side)
            if size != image.size:
                image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        if self.channel_order == "bgr":
            image = Image.fromarray(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))
        return image

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        copies = [self._prepare(image) for image in images]
        found = self.detector.detect(copies)
        results: list[list[Face]] = []
        for image, copy, faces in zip(images, copies, found, strict=True):
            sx, sy = image.width / copy.width, image.height / copy.height
            results.append(faces if sx == sy == 1 else [_scaled(f, sx, sy) for f in faces])
        return results


def _scaled(face: Face, sx: float, sy: float) -> Face:
    x1, y1, x2, y2 = face.box
    landmarks = (
        tuple((x * sx, y * sy) for x, y in face.landmarks) if face.landmarks is not None else None
    )
    return Face((x1 * sx, y1 * sy, x2 * sx, y2 * sy), face.score, landmarks)
