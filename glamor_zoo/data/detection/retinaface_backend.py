"""RetinaFace (Deng et al. 2020), ResNet-50, from the ``retinaface-pytorch`` package.

An optional extra (``pip install 'glamor-zoo[retinaface]'``; its dependencies are large). The
weights come from the package's release URL on first use (cached by torch hub), or from a
local file named by ``weights=`` (the release ``.zip`` or the ``.pth`` inside it).
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from glamor_zoo.data.detection.base import Face, FaceDetector, import_backend, rgb_array

__all__ = ["RetinaFaceDetector"]

MODEL_NAME = "resnet50_2020-07-20"


def _load_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a ``.pth`` or the release ``.zip`` holding one (no pickle code runs)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as first:
        if not zipfile.is_zipfile(path):
            raise ValueError(f"cannot read RetinaFace weights {str(path)!r}: {first}") from first
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise ValueError(
                    f"cannot read RetinaFace weights {str(path)!r}: {first}"
                ) from first
            data = archive.read(members[0])
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


class RetinaFaceDetector(FaceDetector):
    """RetinaFace-ResNet50 face detector with five landmarks.

    Args:
        weights: Local weights file; ``None`` downloads the release file on first use
            (needs the network once; cached by torch hub afterwards).
        threshold: Minimum face probability.
        nms_threshold: IoU above which overlapping boxes are merged.
        max_size: Longest image side the network sees (images are resized to it).
        device: Torch device.
    """

    name = "retinaface"

    def __init__(
        self,
        weights: str | os.PathLike[str] | None = None,
        threshold: float = 0.7,
        nms_threshold: float = 0.4,
        max_size: int = 1024,
        device: str = "cpu",
        batch_size: int = 8,
    ) -> None:
        super().__init__(threshold, batch_size)
        pre_trained_models = import_backend(
            "retinaface.pre_trained_models",
            "the retinaface detector needs retinaface-pytorch: pip install 'glamor-zoo[retinaface]'",
        )
        self.nms_threshold = float(nms_threshold)
        self.max_size = int(max_size)
        self.device = str(device)
        spec = pre_trained_models.models[MODEL_NAME]
        if weights is None:
            try:
                state_dict = torch.hub.load_state_dict_from_url(
                    spec.url, progress=False, map_location="cpu", weights_only=True
                )
            except OSError as exc:  # URLError is an OSError
                raise RuntimeError(
                    f"could not download the RetinaFace weights from {spec.url} ({exc}); "
                    "offline, download that file elsewhere and pass weights='PATH' "
                    "(CLI: --detector-arg weights=PATH)"
                ) from exc
            self.weights = spec.url
        else:
            path = Path(weights).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"RetinaFace weights file {str(path)!r} does not exist")
            state_dict = _load_state_dict(path)
            self.weights = str(path.resolve())
        self._model = spec.model(max_size=self.max_size, device=self.device)
        self._model.load_state_dict(state_dict)
        self._model.eval()

    def settings(self) -> dict[str, Any]:
        return {
            **super().settings(),
            "nms_threshold": self.nms_threshold,
            "max_size": self.max_size,
            "weights": Path(self.weights).name,
        }

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        results = []
        for image in images:
            # The library's own cut-off is kept below ours so that ours decides.
            annotations = self._model.predict_jsons(
                rgb_array(image),
                confidence_threshold=min(self.threshold, 0.5),
                nms_threshold=self.nms_threshold,
            )
            faces = [
                Face(
                    box=tuple(float(v) for v in a["bbox"]),  # type: ignore[arg-type]
                    score=float(a["score"]),
                    landmarks=tuple((float(x), float(y)) for x, y in a["landmarks"]) or None,
                )
                for a in annotations
                if len(a["bbox"]) == 4
            ]
            results.append(faces)
        return results
