"""Look again, on prepared copies, at an image where a detector found no face.

A detector trained on faces with some of the scene around them (MTCNN: its P-Net slides a
12-pixel window over an image pyramid and its box regression expects context) misses a face
that fills the frame: a selfie crop, a video frame zoomed on a face, an aligned-face dataset.
On SFEW 2.0 (aligned faces from movie stills) MTCNN alone finds a face in about half of the
images. :class:`RetryingDetector` runs its detector as usual and, only where it finds nothing at
its threshold, looks again on copies of the image that give the face back its surroundings, one
after the other until one holds a face: the image inside a black border of 25 % of its longer
side, the same after histogram equalisation of each channel (a dark or washed-out frame), then
both again with a 10 % border (:data:`DEFAULT_RETRY_PADS`), then the 25 % copy rotated by ±15°
(a tilted head, :data:`DEFAULT_RETRY_ROTATIONS`; boxes rotated back), and last the image inside
a 25 % border of its own mean colour (:data:`DEFAULT_RETRY_MEAN_PADS`: a dark face next to a
black border loses its outline), where only a face at least half as wide as the image's
shorter side counts (:data:`DEFAULT_MEAN_PAD_MIN_FACE`: this copy is for faces that fill the
frame; on a face-free corner of a scene photo it once found a small false face). The retries may use a second
detector (``again``): for MTCNN, the same networks with lower thresholds for the two
candidate stages (P-Net, R-Net), so that more candidates reach the last stage; the last stage's
score must still reach the detector's threshold.

Boxes and landmarks are mapped back into the original image's pixels (they may reach outside
it, as a face cut by the border does). A face counts only if it scored at or above the
detector's threshold: an image where no copy holds such a face keeps zero faces. Images where
the first pass finds a face are untouched, so photos of people in scenes give exactly the faces
they gave before (the retries cost time only on images with no face found).

NOTE: measured on SFEW 2.0 Train (860 aligned faces from movie stills, threshold 0.9;
benchmarks/detector_coverage.py has the full table): MTCNN alone found a face in 51.6 % of the
images; with a 25 % black border 91.0 % (a border of the image's mean colour 91.3 %, a 50 %
border fewer); an equalised copy found 20 of the 49 faces still missed; the second MTCNN with
candidate-stage thresholds 0.4/0.5 (instead of 0.6/0.7) and 10 % borders 32 of the 76 faces the
first two copies missed; of the 44 faces these still missed, the copy rotated ±15° found 7, a
50 % border, a brightening gamma, a 2× upscale or a finer pyramid 1–2 each (not kept). Of the
30 faces all these copies missed, a 25 % border of the image's mean colour found 9; an
auto-contrasted copy 5 (2 more than the mean border: not kept); a mirrored, greyed, sharpened,
blurred, rescaled (0.7–2×) copy or a 40 % border 0–2 each, all among those 9 or 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from PIL import Image, ImageOps, ImageStat

from glamor_zoo.data.detection.base import Face, FaceDetector

__all__ = [
    "DEFAULT_MEAN_PAD_MIN_FACE",
    "DEFAULT_RETRY_MEAN_PADS",
    "DEFAULT_RETRY_PADS",
    "DEFAULT_RETRY_ROTATIONS",
    "RetryingDetector",
]

#: The black borders of the retry copies, as fractions of the image's longer side (each side),
#: in the order they are tried.
DEFAULT_RETRY_PADS = (0.25, 0.10)
#: Angles (degrees, counter-clockwise) of the last retry copies: the first border's copy
#: rotated (a tilted head).
DEFAULT_RETRY_ROTATIONS = (15.0, -15.0)
#: Borders of the last retry copies, in the image's own mean colour (fractions as above).
DEFAULT_RETRY_MEAN_PADS = (0.25,)
#: The least width of a face found on a mean-colour copy, as a fraction of the image's shorter
#: side (the faces it found on SFEW were 0.66 to 2.1 of it; its false face on a scene, 0.22).
DEFAULT_MEAN_PAD_MIN_FACE = 0.5


def padded(image: Image.Image, pad: float, mean_fill: bool = False) -> tuple[Image.Image, int]:
    """``image`` inside a border of ``pad`` times its longer side, and the border's width; the
    border is black, or with ``mean_fill`` the image's mean colour."""
    border = max(1, round(pad * max(image.size)))
    fill = tuple(round(v) for v in ImageStat.Stat(image).mean[:3]) if mean_fill else (0, 0, 0)
    return ImageOps.expand(image, border=border, fill=fill), border


def equalized(image: Image.Image) -> Image.Image:
    """Each RGB channel histogram-equalised (a dark or low-contrast frame spread over 0–255)."""
    return Image.merge("RGB", [ImageOps.equalize(band) for band in image.split()])


def _mapped_back(face: Face, border: int, angle: float, size: tuple[int, int]) -> Face:
    """``face``, found on a copy padded by ``border`` and rotated by ``angle`` about its centre
    (``size``: the copy's), in the original image's pixels: landmarks rotated back exactly,
    the box as the bounding box of its rotated-back corners."""
    cx, cy = size[0] / 2, size[1] / 2
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))

    def back(x: float, y: float) -> tuple[float, float]:
        dx, dy = x - cx, y - cy
        return cx + dx * cos - dy * sin - border, cy + dx * sin + dy * cos - border

    x1, y1, x2, y2 = face.box
    corners = [back(x, y) for x, y in ((x1, y1), (x2, y1), (x1, y2), (x2, y2))]
    xs, ys = [x for x, _ in corners], [y for _, y in corners]
    landmarks = tuple(back(x, y) for x, y in face.landmarks) if face.landmarks is not None else None
    return Face((min(xs), min(ys), max(xs), max(ys)), face.score, landmarks)


class RetryingDetector(FaceDetector):
    """``detector``, and where it finds no face, a detector on padded copies of the image.

    Args:
        detector: The detector doing the work (its threshold applies to every pass).
        pads: Borders of the retry copies, fractions of the image's longer side (each in
            (0, 1]), tried in order.
        equalize: After each padded copy, also try it histogram-equalised.
        rotations: Then the first padded copy rotated by each of these angles (degrees,
            counter-clockwise): a tilted head.
        again: The detector of the retries (default: ``detector``); its faces are kept only at
            or above ``detector``'s threshold.
        mean_pads: Last, copies inside a border of the image's own mean colour (fractions as
            ``pads``).
        mean_pad_min_face: On those copies, only faces at least this wide (a fraction of the
            image's shorter side) count.
    """

    def __init__(
        self,
        detector: FaceDetector,
        pads: Sequence[float] = DEFAULT_RETRY_PADS,
        equalize: bool = True,
        again: FaceDetector | None = None,
        rotations: Sequence[float] = DEFAULT_RETRY_ROTATIONS,
        mean_pads: Sequence[float] = DEFAULT_RETRY_MEAN_PADS,
        mean_pad_min_face: float = DEFAULT_MEAN_PAD_MIN_FACE,
    ) -> None:
        for what, fractions in (("pads", pads), ("mean_pads", mean_pads)):
            if not all(0 < pad <= 1 for pad in fractions) or (what == "pads" and not pads):
                raise ValueError(
                    f"retry {what} must be fractions in (0, 1], got {list(fractions)!r}"
                )
        super().__init__(detector.threshold, detector.batch_size)
        self.detector = detector
        self.again = again if again is not None else detector
        self.name = detector.name
        self.thread_safe = detector.thread_safe
        self.workers = detector.workers
        self.pads = tuple(float(pad) for pad in pads)
        self.equalize = bool(equalize)
        self.rotations = tuple(float(angle) for angle in rotations)
        self.mean_pads = tuple(float(pad) for pad in mean_pads)
        if not 0 <= mean_pad_min_face <= 1:
            raise ValueError(f"mean_pad_min_face must be in [0, 1], got {mean_pad_min_face!r}")
        self.mean_pad_min_face = float(mean_pad_min_face)

    def settings(self) -> dict[str, Any]:
        retry: dict[str, Any] = {
            "retry_pads": list(self.pads),
            "retry_equalize": self.equalize,
            "retry_rotations": list(self.rotations),
            "retry_mean_pads": list(self.mean_pads),
            "retry_mean_pad_min_face": self.mean_pad_min_face,
        }
        if self.again is not self.detector:
            retry["retry_with"] = self.again.settings()
        return {**self.detector.settings(), **retry}

    def searching_faces_from(self, pixels: float) -> FaceDetector:
        first, again = (d.searching_faces_from(pixels) for d in (self.detector, self.again))
        if first is self.detector and again is self.again:
            return self
        return RetryingDetector(
            first,
            self.pads,
            self.equalize,
            again,
            self.rotations,
            self.mean_pads,
            self.mean_pad_min_face,
        )

    def _copies(self) -> list[tuple[float, bool, float, bool]]:
        """(border, equalised, angle, mean-colour border) of each retry copy, in order."""
        flips = (False, True) if self.equalize else (False,)
        padded_copies = [(pad, eq, 0.0, False) for pad in self.pads for eq in flips]
        rotated = [(self.pads[0], False, angle, False) for angle in self.rotations]
        return padded_copies + rotated + [(pad, False, 0.0, True) for pad in self.mean_pads]

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        # The wrapped detectors apply their own threads and batches.
        results = [self._kept(faces) for faces in self.detector.detect(images)]
        missing = [i for i, faces in enumerate(results) if not faces]
        for pad, eq, angle, mean_fill in self._copies():
            if not missing:
                break
            copies = []
            for index in missing:
                copy, border = padded(images[index], pad, mean_fill)
                copy = equalized(copy) if eq else copy
                copies.append((copy.rotate(angle, fillcolor=(0, 0, 0)) if angle else copy, border))
            found = self.again.detect([copy for copy, _ in copies])
            still = []
            for index, (copy, border), faces in zip(missing, copies, found, strict=True):
                kept = [_mapped_back(f, border, angle, copy.size) for f in self._kept(faces)]
                if mean_fill:
                    least = self.mean_pad_min_face * min(images[index].size)
                    kept = [f for f in kept if f.box[2] - f.box[0] >= least]
                if kept:
                    results[index] = kept
                else:
                    still.append(index)
            missing = still
        return results

    def _kept(self, faces: list[Face]) -> list[Face]:
        return [f for f in faces if f.score >= self.threshold]

    def detect(self, images: Sequence[Image.Image]) -> list[list[Face]]:
        images = [im if im.mode == "RGB" else im.convert("RGB") for im in images]
        # Not batched again here: the wrapped detectors batch (and thread) each pass.
        return [sorted(faces, key=lambda f: -f.score) for faces in self._detect_batch(images)]
