"""Run a detector on a prepared copy of each image; boxes come back in the original's pixels.

Two preparations, each optional:

- ``max_side``: the copy is at most this many pixels on its longer side. MTCNN on a 64 MP photo
  builds a float image pyramid of several GB; on a 1,600-pixel copy it needs a few MB, and the
  faces of such a photo are large anyway. Boxes and landmarks are scaled back per axis, then
  (``refine``, the default) each face is detected again on a full-resolution crop around it,
  so that the boxes are those a full-resolution pass gives and a face the small copy made up
  is dropped: on the benchmark photos (``benchmarks/bench_predict.py --versus``), MTCNN on a
  1,280-pixel copy alone finds a fifth "face" in a 12 MP group photo and moves boxes by up to
  IoU 0.78 against the full-resolution pass; refined, it finds the same 19 faces with IoU
  >= 0.9 (0.907 at worst), and the 12 MP photo takes 1.2 s instead of 3.9 s: only the crops
  are seen at full size, and in each only faces of at least half the face's size are searched
  for (MTCNN's pyramid without its finest scales).
- ``channel_order="bgr"``: the copy's red and blue channels are swapped. The authors'
  ``predict.py`` and ``extract_faces`` ran dlib's MMOD on the array ``cv2.imread`` returns, in
  BGR order; MMOD is not colour-blind (its boxes on RGB and BGR differ, IoU 0.66–0.70 on three
  of five faces of their sample photos), so the authors' boxes need the swap.
"""

from __future__ import annotations

import math
from concurrent.futures import Future, as_completed
from typing import Any, Literal

import numpy as np
from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector, box_iou, detection_threads

__all__ = ["DEFAULT_MAX_SIDE", "DEFAULT_WORKERS", "AdaptedDetector", "ChannelOrder", "bounded_size"]

ChannelOrder = Literal["rgb", "bgr"]

# NOTE: predict's default (max_side="auto"), chosen by measurement on ../shared/data/scenes plus
# group.jpeg upscaled to 4032×3024 (benchmarks/bench_predict.py --versus): refined, a
# 1,280-pixel copy finds MTCNN's full-resolution faces (same count, IoU >= 0.9); 1,024 and
# 800 pixels move some boxes below IoU 0.9 even refined (photos of 1,280 pixels lose detail).
DEFAULT_MAX_SIDE = 1280
# A face is looked for again in a crop this many times its size, centred on it.
_REFINE_CONTEXT = 2.0
# ...and only faces at least this fraction of its size are searched for there (a detector with
# an image pyramid skips its finest scales: the refinement of a large face costs little).
_REFINE_SMALLEST = 0.5
# The full-resolution face that overlaps the copy's face less than this is another face.
_SAME_FACE_IOU = 0.3
# NOTE: chosen by measurement (benchmarks/README.md, "Detection in threads"): MTCNN's many
# small tensor operations leave torch's intra-op threads idle much of the time, so two images
# (or two refinement crops) detected at once in two Python threads — torch releases the GIL
# inside its operations — took the 12 benchmark photos from 4.29 to 3.63 s on 2 cores (AVX2
# EPYC; end to end 2.66 → 3.20 images/s); a third thread gained nothing more there.
DEFAULT_WORKERS = 2


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
        refine: For an image the copy shrank, detect each face found on the copy again on a
            crop of the original around it (twice the face's size, full resolution) and keep
            the face found there that overlaps it most; a face not found again is dropped.
            There only faces of at least half that face's size are searched for
            (:meth:`FaceDetector.searching_faces_from`: MTCNN skips its finest scales).
            Faces smaller on the original than the detector's smallest face times the
            shrink factor are not searched for (that is the price of the copy).
        workers: Threads that detect (and refine) at once, for a detector whose
            :attr:`~FaceDetector.thread_safe` is set (MTCNN; others run in the calling thread):
            each image of a call (its copy made and detected), then each face's refinement
            crop, is one task; the images start largest first and a face's refinement is
            queued as soon as its own image's copy is done, so no thread waits while work
            remains (1: the images of a call are detected together in one batch, in the
            calling thread). The faces found are the same either way, up to float rounding
            (a batch and single images round differently, ~1e-4 px).
    """

    def __init__(
        self,
        detector: FaceDetector,
        max_side: int | None = None,
        channel_order: ChannelOrder = "rgb",
        refine: bool = True,
        workers: int = DEFAULT_WORKERS,
    ) -> None:
        if max_side is not None and max_side < 1:
            raise ValueError(f"max_side must be at least 1, got {max_side}")
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be 'rgb' or 'bgr', got {channel_order!r}")
        super().__init__(detector.threshold, detector.batch_size)
        self.detector = detector
        self.name = detector.name
        self.max_side = max_side
        self.channel_order: ChannelOrder = channel_order
        self.refine = bool(refine)
        self.workers = int(workers)

    def settings(self) -> dict[str, Any]:
        return {
            **self.detector.settings(),
            "max_side": self.max_side,
            "channel_order": self.channel_order,
            **(
                {"refine": True, "refine_smallest_face": _REFINE_SMALLEST}
                if self.refine and self.max_side is not None
                else {}
            ),
        }

    def _prepare(self, image: Image.Image) -> Image.Image:
        if self.max_side is not None:
            size = bounded_size(image.width, image.height, self.max_side)
            if size != image.size:
                image = image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        return self._prepare_colours(image)

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        if self.workers > 1 and self.detector.thread_safe:
            return self._detect_in_threads(images)
        copies = [self._prepare(image) for image in images]
        found = self.detector.detect(copies)
        results: list[list[Face]] = []
        to_refine: list[tuple[int, Face]] = []  # (index of the image, its face in its pixels)
        for index, (image, copy, faces) in enumerate(zip(images, copies, found, strict=True)):
            faces, shrunk = _mapped_back(image, copy, faces)
            if self.refine and shrunk:
                to_refine.extend((index, face) for face in faces)
                faces = []
            results.append(faces)
        again = [(index, self._found_again(images[index], face)) for index, face in to_refine]
        return _with_found_again(results, again)

    def _detect_in_threads(self, images: list[Image.Image]) -> list[list[Face]]:
        """:meth:`_detect_batch` in :attr:`workers` threads, one task per image (its copy made
        and detected) and per face to refine, with no thread left waiting while work remains:
        the images start largest first (the largest photo started last would finish alone),
        and a face's refinement is queued as soon as its image's copy is done."""
        results: list[list[Face]] = [[] for _ in images]
        refinements: list[tuple[int, Future[Face | None]]] = []
        order = sorted(range(len(images)), key=lambda i: -images[i].width * images[i].height)
        with detection_threads(self.workers) as pool:
            copies = {pool.submit(self._detect_copy, images[i]): i for i in order}
            for done in as_completed(copies):
                index = copies[done]
                faces, shrunk = done.result()
                if self.refine and shrunk:
                    refinements.extend(
                        (index, pool.submit(self._found_again, images[index], face))
                        for face in faces
                    )
                else:
                    results[index] = faces
            again = [(index, future.result()) for index, future in refinements]
        return _with_found_again(results, again)

    def _detect_copy(self, image: Image.Image) -> tuple[list[Face], bool]:
        """The faces the detector finds on ``image``'s prepared copy, in ``image``'s pixels, and
        whether the copy was smaller."""
        copy = self._prepare(image)
        return _mapped_back(image, copy, self.detector.detect_one(copy))

    def _found_again(self, image: Image.Image, face: Face) -> Face | None:
        """``face`` (found on a smaller copy, in ``image``'s pixels) as the detector finds it
        on a full-resolution crop of ``image`` around it, or ``None`` where it is not found."""
        region = _context_region(face.box, image.size)
        crop = self._prepare_colours(image.crop(region))
        smallest = _REFINE_SMALLEST * max(face.width, face.height)
        again = self.detector.searching_faces_from(smallest).detect_one(crop)
        moved = [_shifted(f, region[0], region[1]) for f in again]
        best = max(moved, key=lambda f: box_iou(f.box, face.box), default=None)
        if best is None or box_iou(best.box, face.box) < _SAME_FACE_IOU:
            return None
        return best

    def _prepare_colours(self, image: Image.Image) -> Image.Image:
        if self.channel_order == "bgr":
            return Image.fromarray(np.ascontiguousarray(np.asarray(image)[:, :, ::-1]))
        return image


def _mapped_back(
    image: Image.Image, copy: Image.Image, faces: list[Face]
) -> tuple[list[Face], bool]:
    """``faces`` found on ``copy`` in ``image``'s pixels, and whether ``copy`` is smaller."""
    sx, sy = image.width / copy.width, image.height / copy.height
    if sx == sy == 1:
        return faces, False
    return [_scaled(face, sx, sy) for face in faces], True


def _with_found_again(
    results: list[list[Face]], again: list[tuple[int, Face | None]]
) -> list[list[Face]]:
    """``results`` with each face found again at full resolution (image index, face or
    ``None``) added to its image, in order, unless it repeats one kept already."""
    for index, face in again:
        if face is not None and all(box_iou(face.box, kept.box) < 0.5 for kept in results[index]):
            results[index].append(face)
    return results


def _context_region(
    box: tuple[float, float, float, float], size: tuple[int, int]
) -> tuple[int, int, int, int]:
    """The crop around a face where it is looked for again: ``_REFINE_CONTEXT`` times its
    longer side, centred on it, inside the image."""
    x1, y1, x2, y2 = box
    half = _REFINE_CONTEXT * max(x2 - x1, y2 - y1) / 2
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    width, height = size
    return (
        max(0, int(cx - half)),
        max(0, int(cy - half)),
        min(width, math.ceil(cx + half)),
        min(height, math.ceil(cy + half)),
    )


def _shifted(face: Face, dx: float, dy: float) -> Face:
    x1, y1, x2, y2 = face.box
    landmarks = (
        tuple((x + dx, y + dy) for x, y in face.landmarks) if face.landmarks is not None else None
    )
    return Face((x1 + dx, y1 + dy, x2 + dx, y2 + dy), face.score, landmarks)


def _scaled(face: Face, sx: float, sy: float) -> Face:
    x1, y1, x2, y2 = face.box
    landmarks = (
        tuple((x * sx, y * sy) for x, y in face.landmarks) if face.landmarks is not None else None
    )
    return Face((x1 * sx, y1 * sy, x2 * sx, y2 * sy), face.score, landmarks)
