"""What recognition returns: one :class:`FaceRecord` per face, one :class:`ImageResult` per image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FaceRecord", "ImageResult"]


def _round(value: float, digits: int = 6) -> float:
    return round(float(value), digits)


@dataclass
class FaceRecord:
    """One detected face and what the model says about it.

    Attributes:
        box: (x1, y1, x2, y2) in the original image's pixels.
        score: The detector's confidence (``None`` when no detector ran).
        label: The most probable class.
        confidence: Its probability.
        probabilities: Probability of every class, in the model's class order.
        fusion_weights: ``{"face": w_f, "context": w_c}`` of adaptive fusion (context models
            with adaptive fusion only).
        attention: (Hc, Wc) attention over the context cells, summing to 1 (context models
            only). The cells tile :func:`glamor_zoo.inference.visualize.attention_region`.
        landmarks: Five (x, y) facial landmarks when the detector gives them.
    """

    box: tuple[float, float, float, float]
    score: float | None
    label: str
    confidence: float
    probabilities: dict[str, float]
    fusion_weights: dict[str, float] | None = None
    attention: np.ndarray | None = None
    landmarks: list[tuple[float, float]] | None = None

    def to_dict(self, attention: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``attention=False`` leaves the attention map out."""
        out: dict[str, Any] = {
            "box": [_round(v, 2) for v in self.box],
            "score": None if self.score is None else _round(self.score),
            "label": self.label,
            "confidence": _round(self.confidence),
            "probabilities": {k: _round(v) for k, v in self.probabilities.items()},
        }
        if self.fusion_weights is not None:
            out["fusion_weights"] = {k: _round(v) for k, v in self.fusion_weights.items()}
        if attention and self.attention is not None:
            out["attention"] = [[_round(v) for v in row] for row in self.attention.tolist()]
        if self.landmarks is not None:
            out["landmarks"] = [[_round(x, 2), _round(y, 2)] for x, y in self.landmarks]
        return out


@dataclass
class ImageResult:
    """The faces of one image, or the error that stopped it.

    Attributes:
        source: The file path, or a description (``"<PIL.Image 0>"``) for in-memory images.
        width: Image width in pixels (0 when it could not be read).
        height: Image height in pixels.
        faces: One record per detected face, in the detector's order.
        error: ``None``, or what went wrong (``"ImageLoadError: cannot load image …"``).
    """

    source: str
    width: int = 0
    height: int = 0
    faces: list[FaceRecord] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self, attention: bool = True) -> dict[str, Any]:
        """A JSON-ready dict (``input``, ``width``, ``height``, ``faces``, ``error``)."""
        return {
            "input": self.source,
            "width": self.width,
            "height": self.height,
            "faces": [face.to_dict(attention=attention) for face in self.faces],
            "error": self.error,
        }
