"""MTCNN (Zhang et al. 2016) from facenet-pytorch: pure torch, weights inside the wheel, offline."""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector, run_grouped

__all__ = ["MTCNNDetector"]

# NOTE: chosen on the photos in shared/data/scenes: the weakest real face (surprised.jpeg)
# scores 0.935, the only false positive (a hand in glamor_sample_2.jpg) 0.884.
DEFAULT_THRESHOLD = 0.9


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
        try:
            from facenet_pytorch.models.mtcnn import MTCNN
        except ImportError as exc:
            raise ImportError(
                "the mtcnn detector needs facenet-pytorch: pip install facenet-pytorch==2.5.3 "
                f"(and its dependency requests) ({exc})"
            ) from exc
        self.min_face_size = int(min_face_size)
        self.stage_thresholds = tuple(float(t) for t in stage_thresholds)
        self.factor = float(factor)
        self.device = str(device)
        self._mtcnn = MTCNN(
            min_face_size=self.min_face_size,
            thresholds=list(self.stage_thresholds),
            factor=self.factor,
            keep_all=True,
            post_process=False,
            device=self.device,
        )

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "min_face_size": self.min_face_size,
            "stage_thresholds": list(self.stage_thresholds),
            "factor": self.factor,
        }

    def _same_size(self, images: list[Image.Image]) -> list[list[Face]]:
        batch = images if len(images) > 1 else images[0]
        boxes, probs, points = self._mtcnn.detect(batch, landmarks=True)
        if len(images) == 1:
            boxes, probs, points = [boxes], [probs], [points]
        results: list[list[Face]] = []
        for image_boxes, image_probs, image_points in zip(boxes, probs, points, strict=True):
            faces: list[Face] = []
            if image_boxes is not None:
                for box, prob, landmarks in zip(
                    image_boxes, image_probs, image_points, strict=True
                ):
                    faces.append(
                        Face(
                            box=tuple(float(v) for v in box),  # type: ignore[arg-type]
                            score=float(prob),
                            landmarks=tuple((float(x), float(y)) for x, y in np.asarray(landmarks)),
                        )
                    )
            results.append(faces)
        return results

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        return run_grouped(images, self._same_size)
