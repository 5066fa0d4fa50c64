"""MTCNN (Zhang et al. 2016) from facenet-pytorch: pure torch, weights inside the wheel, offline."""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector, import_backend, run_grouped
from glamor_zoo.data.detection.mtcnn_cascade import detect_faces, with_exact_pools

__all__ = ["MTCNNDetector"]

# NOTE: chosen on the photos in shared/data/scenes: the weakest real face (surprised.jpeg)
# scores 0.935, the only false positive (a hand in glamor_sample_2.jpg) 0.884.
DEFAULT_THRESHOLD = 0.9


# NOTE: the summed-area table's cost grows faster than the pixels (2 torch threads, AVX2 EPYC:
# 36 ms at 1.2 MP, 1.2 s at 12 MP, where ATen resamples the first pyramid level in 0.42 s):
# larger images keep facenet-pytorch's kernels.
CASCADE_MAX_PIXELS = 2_500_000


class MTCNNDetector(FaceDetector):
    """MTCNN face detector (facenet-pytorch 2.5.3), batched over equally sized images.

    Args:
        threshold: Minimum face probability (default 0.9, see the module's NOTE).
        min_face_size: Smallest face searched for, in pixels.
        stage_thresholds: The three cascade stages' thresholds (P-, R-, O-Net).
        factor: Image-pyramid scale step.
        device: Torch device (``"cpu"``, ``"cuda"``…).
        batch_size: Images per call.
    """

    name = "mtcnn"
    thread_safe = True  # three torch modules in eval mode, no state kept between calls

    def __init__(
        self,
        threshold: float = DEFAULT_THRESHOLD,
        min_face_size: int = 20,
        stage_thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        device: str = "cpu",
        batch_size: int = 8,
    ) -> None:
        super().__init__(threshold, batch_size)
        facenet_mtcnn = import_backend(
            "facenet_pytorch.models.mtcnn",
            "the mtcnn detector needs facenet-pytorch: pip install facenet-pytorch==2.5.3 "
            "(and its dependency requests)",
        )
        self.min_face_size: float = int(min_face_size)
        self.stage_thresholds = tuple(float(t) for t in stage_thresholds)
        self.factor = float(factor)
        self.device = str(device)
        self._mtcnn = facenet_mtcnn.MTCNN(
            min_face_size=self.min_face_size,
            thresholds=list(self.stage_thresholds),
            factor=self.factor,
            keep_all=True,
            post_process=False,
            device=self.device,
        )
        # The nets with their max-pools as exact shifted maxima (same parameters).
        self._cpu_nets = tuple(
            with_exact_pools(net) for net in (self._mtcnn.pnet, self._mtcnn.rnet, self._mtcnn.onet)
        )

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "min_face_size": self.min_face_size,
            "stage_thresholds": list(self.stage_thresholds),
            "factor": self.factor,
        }

    def searching_faces_from(self, pixels: float) -> MTCNNDetector:
        """A copy whose image pyramid starts at the largest of this one's scales at which a
        ``pixels``-sized face is still at least P-Net's 12 pixels: the same scales as this
        detector's pyramid, without the finer ones, where only smaller faces could be found."""
        steps = math.floor(
            math.log(max(pixels, self.min_face_size) / self.min_face_size)
            / math.log(1 / self.factor)
        )
        if steps <= 0:
            return self
        cheaper = copy.copy(self)
        cheaper.min_face_size = self.min_face_size / self.factor**steps
        return cheaper

    def _same_size(self, images: list[Image.Image]) -> list[list[Face]]:
        # What MTCNN.detect runs (facenet-pytorch's detect_face), with this detector's smallest
        # face (searching_faces_from); on the CPU, for images up to CASCADE_MAX_PIXELS, with its
        # slow kernels replaced (glamor_zoo.data.detection.mtcnn_cascade: the same faces).
        width, height = images[0].size
        if min(width, height) < self.min_face_size:
            # NOTE: no pyramid level fits (facenet-pytorch's detect_face would fail on an empty
            # torch.cat): an image smaller than the smallest face holds none.
            return [[] for _ in images]
        with torch.no_grad():
            if self.device == "cpu" and width * height <= CASCADE_MAX_PIXELS:
                batch_boxes, batch_points = detect_faces(
                    images,
                    self.min_face_size,
                    *self._cpu_nets,
                    list(self.stage_thresholds),
                    self.factor,
                )
            else:
                from facenet_pytorch.models.utils.detect_face import detect_face

                batch_boxes, batch_points = detect_face(
                    images,
                    self.min_face_size,
                    self._mtcnn.pnet,
                    self._mtcnn.rnet,
                    self._mtcnn.onet,
                    list(self.stage_thresholds),
                    self.factor,
                    self.device,
                )
        results: list[list[Face]] = []
        for boxes, points in zip(batch_boxes, batch_points, strict=True):
            results.append(
                [
                    Face(
                        box=tuple(float(v) for v in box[:4]),  # type: ignore[arg-type]
                        score=float(box[4]),
                        landmarks=tuple((float(x), float(y)) for x, y in landmarks),
                    )
                    for box, landmarks in zip(boxes, points, strict=True)
                ]
            )
        return results

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        return run_grouped(images, self._same_size)
