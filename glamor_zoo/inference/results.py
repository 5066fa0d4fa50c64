"""What recognition returns: one :class:`FaceRecord` per face, one :class:`ImageResult` per image."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["FaceRecord", "ImageResult"]


def _pixels(value: float) -> float:
    """Pixel coordinates to 1/100 px; model outputs are kept at full precision."""
    return round(float(value), 2)


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
        track: Videos with tracking: the id of the person's track (``None``: a low-score face
            that continues no track; see :mod:`glamor_zoo.inference.tracking`).
        smoothed_probabilities: Videos with tracking: the track's probabilities smoothed over
            time (:mod:`glamor_zoo.inference.smoothing`; a face with no track: its own);
            ``probabilities`` stay per frame.
        smoothed_label: The most probable class of ``smoothed_probabilities``.
        logits: The model's raw output per class (before the spec's temperature); ``None``
            where the record was not made by a model run (e.g. read back from JSON).
        uncertain: With a ``min_confidence`` rule: whether ``confidence`` is below it (the
            label is still the most probable class); ``None``: no rule was given.
    """

    box: tuple[float, float, float, float]
    score: float | None
    label: str
    confidence: float
    probabilities: dict[str, float]
    fusion_weights: dict[str, float] | None = None
    attention: np.ndarray | None = None
    landmarks: list[tuple[float, float]] | None = None
    track: int | None = None
    smoothed_probabilities: dict[str, float] | None = None
    smoothed_label: str | None = None
    logits: dict[str, float] | None = None
    uncertain: bool | None = None

    def to_dict(self, attention: bool = True) -> dict[str, Any]:
        """A JSON-ready dict; ``attention=False`` leaves the attention map out.

        Probabilities, confidence, score, fusion weights and attention keep their full float
        precision; boxes and landmarks are rounded to 1/100 px.
        """
        out: dict[str, Any] = {
            "box": [_pixels(v) for v in self.box],
            "score": None if self.score is None else float(self.score),
            "label": self.label,
            "confidence": float(self.confidence),
            "probabilities": {k: float(v) for k, v in self.probabilities.items()},
        }
        if self.uncertain is not None:
            out["uncertain"] = bool(self.uncertain)
        if self.fusion_weights is not None:
            out["fusion_weights"] = {k: float(v) for k, v in self.fusion_weights.items()}
        if attention and self.attention is not None:
            out["attention"] = self.attention.astype(float).tolist()
        if self.landmarks is not None:
            out["landmarks"] = [[_pixels(x), _pixels(y)] for x, y in self.landmarks]
        if self.smoothed_probabilities is not None:  # a video with tracking
            out["track"] = self.track
            out["smoothed_label"] = self.smoothed_label
            out["smoothed_probabilities"] = {
                k: float(v) for k, v in self.smoothed_probabilities.items()
            }
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
        """A JSON-ready dict (``input``, ``width``, ``height``, ``faces``, ``error``); each face
        carries its number ``face``, counted from 1 as in the pictures and the CSV."""
        return {
            "input": self.source,
            "width": self.width,
            "height": self.height,
            "faces": [
                {"face": number, **face.to_dict(attention=attention)}
                for number, face in enumerate(self.faces, start=1)
            ],
            "error": self.error,
        }
