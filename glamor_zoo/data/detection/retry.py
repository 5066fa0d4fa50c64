"""Look again, on prepared copies, at an image where a detector found no face.

A detector trained on faces with some of the scene around them (MTCNN: its P-Net slides a
12-pixel window over an image pyramid and its box regression expects context) misses a face
that fills the frame: a selfie crop, a video frame zoomed on a face, an aligned-face dataset.
On SFEW 2.0 (aligned faces from movie stills) MTCNN alone finds a face in about half of the
images. :class:`RetryingDetector` runs its detector as usual and, only where it finds nothing at
its threshold, on copies of the image that give the face back its surroundings, one after the
other until one holds a face:

1. the image inside a black border of ``pad`` times its longer side on every side;
2. the same, after histogram equalisation of each channel (a dark or washed-out frame).

Boxes and landmarks are mapped back into the original image's pixels (they may reach outside
it, as a face cut by the border does). A face still counts only if the detector scored it at or
above its own threshold: nothing here lowers a threshold, and an image where no copy holds a
face keeps zero faces. Images where the first pass finds a face are untouched, so photos of
people in scenes give exactly the faces they gave before (the retry costs time only on images
with no face found).

NOTE: measured on SFEW 2.0 Train (benchmarks/detector_coverage.py): MTCNN at its default
threshold 0.9 found a face in 51.6 % of the 860 images; with a 25 % black border 91.0 %
(a border of the image's mean colour 91.3 %, 50 % border fewer); equalised copies found 20 of
the 49 faces still missed, rotated copies (±20°) 4–6 and a 2× upscale 7.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageOps

from glamor_zoo.data.detection.base import Face, FaceDetector

__all__ = ["DEFAULT_RETRY_PAD", "RetryingDetector"]

#: The black border of a retry copy, as a fraction of the image's longer side (each side).
DEFAULT_RETRY_PAD = 0.25


def padded(image: Image.Image, pad: float) -> tuple[Image.Image, int]:
    """``image`` inside a black border of ``pad`` times its longer side, and the border's width."""
    border = max(1, round(pad * max(image.size)))
    return ImageOps.expand(image, border=border, fill=(0, 0, 0)), border


def equalized(image: Image.Image) -> Image.Image:
    """Each RGB channel histogram-equalised (a dark or low-contrast frame spread over 0–255)."""
    return Image.merge("RGB", [ImageOps.equalize(band) for band in image.split()])


def _shifted_back(face: Face, border: int) -> Face:
    x1, y1, x2, y2 = face.box
    landmarks = (
        tuple((x - border, y - border) for x, y in face.landmarks)
        if face.landmarks is not None
        else None
    )
    return Face((x1 - border, y1 - border, x2 - border, y2 - border), face.score, landmarks)


class RetryingDetector(FaceDetector):
    """``detector``, and where it finds no face, the same detector on padded copies.

    Args:
        detector: The detector doing the work (its threshold applies to every pass).
        pad: Border of the retry copies, a fraction of the image's longer side (0 < pad ≤ 1).
        equalize: Also try an equalised padded copy when the padded one holds no face.
    """

    def __init__(
        self, detector: FaceDetector, pad: float = DEFAULT_RETRY_PAD, equalize: bool = True
    ) -> None:
        if not 0 < pad <= 1:
            raise ValueError(f"retry pad must be a fraction in (0, 1], got {pad!r}")
        super().__init__(detector.threshold, detector.batch_size)
        self.detector = detector
        self.name = detector.name
        self.thread_safe = detector.thread_safe
        self.workers = detector.workers
        self.pad = float(pad)
        self.equalize = bool(equalize)

    def settings(self) -> dict[str, Any]:
        return {**self.detector.settings(), "retry_pad": self.pad, "retry_equalize": self.equalize}

    def searching_faces_from(self, pixels: float) -> FaceDetector:
        return RetryingDetector(self.detector.searching_faces_from(pixels), self.pad, self.equalize)

    def _copies(self, image: Image.Image) -> list[tuple[Image.Image, int]]:
        first = padded(image, self.pad)
        return [first, (equalized(first[0]), first[1])] if self.equalize else [first]

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        # The wrapped detector applies its own threshold and threads (and its own batches).
        results = self.detector.detect(images)
        missing = [i for i, faces in enumerate(results) if not faces]
        for attempt in range(2 if self.equalize else 1):
            if not missing:
                break
            copies = [self._copies(images[i])[attempt] for i in missing]
            found = self.detector.detect([copy for copy, _ in copies])
            still = []
            for index, (_, border), faces in zip(missing, copies, found, strict=True):
                if faces:
                    results[index] = [_shifted_back(f, border) for f in faces]
                else:
                    still.append(index)
            missing = still
        return results

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        images = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        # Not batched again here: the wrapped detector batches (and threads) each pass itself.
        return [
            sorted((f for f in faces if f.score >= self.threshold), key=lambda f: -f.score)
            for faces in self._detect_batch(images)
        ]
