"""A detector for tests of context models on small images: the middle half of every image.

``none`` refuses context models (a face crop has no scene), so tests that run a context model
on face crops register this one (as ``test-middle``) and pass ``--detector test-middle``.
"""

from __future__ import annotations

from PIL import Image

from glamor_zoo.data.detection import DETECTORS, Face, FaceDetector


class MiddleDetector(FaceDetector):
    """One face per image: the middle half (a quarter of the width/height in from each side)."""

    name = "test-middle"

    def __init__(self, threshold: float = 0.0, batch_size: int = 8) -> None:
        super().__init__(threshold, batch_size)

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        return [
            [Face((im.width / 4, im.height / 4, 3 * im.width / 4, 3 * im.height / 4), 1.0)]
            for im in images
        ]


DETECTORS.add(MiddleDetector.name, MiddleDetector, overwrite=True)
