"""The ``none`` detector, for images that already are one face each (aligned-face datasets).

SFEW, FER-2013-style folders and AffectNet crops hold one face per image, aligned by the
dataset's makers; a detector run on them misses many (MTCNN finds none in half of SFEW 2.0's
validation faces). ``none`` returns one face per image without looking: the centre square
(``crop="center"``, the default: the face of a portrait crop, square as the models' inputs), or
the whole image (``crop="full"``).

It has no context to offer: for a context model the masked context would be all black, so the
recogniser and the CLI refuse the combination.
"""

from __future__ import annotations

from typing import Any, Literal

from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector

__all__ = ["WholeImageDetector", "center_square"]

CropMode = Literal["center", "full"]


def center_square(width: int, height: int) -> tuple[float, float, float, float]:
    """The largest centred square of a width×height image, in whole pixels (x1, y1, x2, y2)."""
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return float(left), float(top), float(left + side), float(top + side)


class WholeImageDetector(FaceDetector):
    """One "face" per image, found without looking (registered as ``none``).

    Args:
        crop: ``"center"``: the largest centred square (default); ``"full"``: the whole image.
        threshold: Kept for the common interface; every face scores 1.0.
        batch_size: Kept for the common interface.
    """

    name = "none"

    def __init__(self, crop: CropMode = "center", threshold: float = 0.0, batch_size: int = 8):
        super().__init__(threshold, batch_size)
        if crop not in ("center", "full"):
            raise ValueError(
                f"detector none: crop must be 'center' (the centred square) or 'full' (the whole "
                f"image), got {crop!r}; e.g. --detector-arg crop=full"
            )
        self.crop: CropMode = crop

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "crop": self.crop}

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        if self.crop == "full":
            return [[Face((0.0, 0.0, float(im.width), float(im.height)), 1.0)] for im in images]
        return [[Face(center_square(im.width, im.height), 1.0)] for im in images]
