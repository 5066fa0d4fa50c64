"""Occlusion saliency of a face in a photo (Deep-Emotion §IV-C), the one implementation that
``glamor-zoo saliency`` and ``glamor-zoo predict --saliency`` both run.

The map itself is :func:`glamor_zoo.saliency.occlusion_saliency`; :func:`face_saliency`
prepares one face of a photo as the model's spec says (a context model keeps its context
fixed) and :func:`face_saliency_picture` renders the face beside the map over it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from PIL import Image
from torch import nn

from glamor_zoo.data.transforms import GlamorTransform, crop_face, to_uint8_tensor
from glamor_zoo.saliency import OcclusionSaliency, occlusion_saliency, render_saliency
from glamor_zoo.spec import ModelSpec

if TYPE_CHECKING:
    from glamor_zoo.inference.recognizer import EmotionRecognizer
    from glamor_zoo.inference.results import FaceRecord

__all__ = ["FaceSaliency", "face_saliency", "face_saliency_picture"]


@dataclass(frozen=True)
class FaceSaliency:
    """The saliency of one face and the face it is drawn over.

    Attributes:
        saliency: The maps, the tracked class and the probabilities.
        face: (3, H, W) uint8, the face crop at the model's input size, before normalisation.
    """

    saliency: OcclusionSaliency
    face: torch.Tensor


def face_saliency(
    model: nn.Module,
    spec: ModelSpec,
    image: Image.Image | torch.Tensor,
    box: Sequence[float] | None = None,
    *,
    window: int | None = None,
    stride: int | None = None,
    target: int | None = None,
) -> FaceSaliency:
    """Occlusion saliency of the face in ``box`` of ``image``.

    Args:
        model: The classifier (its parameters' device is used).
        spec: Its spec (``load_model(...).spec``): the face (and, for a context model, the
            context, which stays fixed) are prepared as it says.
        image: The photo: a PIL image or a (3, H, W) uint8 tensor.
        box: The face (x1, y1, x2, y2) in the photo's pixels; ``None``: the whole image is the
            face (a face crop), which a context model refuses.
        window: Side of the occluding square in model pixels (default: face side / 6).
        stride: Step between squares (default: window / 2).
        target: Class to track (default: the predicted one).

    Raises:
        ValueError: A context model given no box (a face crop has no scene around it), or a
            box that is not finite or has x2 <= x1 or y2 <= y1.
    """
    pixels = to_uint8_tensor(image)
    if box is None:
        if spec.uses_context:
            raise ValueError(
                "this model reads the face and its context: give the face's box in the photo"
            )
        box = (0.0, 0.0, float(pixels.shape[2]), float(pixels.shape[1]))
    x1, y1, x2, y2 = (float(v) for v in box)
    if not all(math.isfinite(v) for v in (x1, y1, x2, y2)) or x2 <= x1 or y2 <= y1:
        raise ValueError(f"a face box is x1,y1,x2,y2 with x2 > x1 and y2 > y1, got {tuple(box)}")
    transform = GlamorTransform(spec, train=False)
    window = window or max(1, min(transform.face_size) // 6)
    stride = stride or max(1, window // 2)
    device = next(model.parameters()).device
    inputs = transform(pixels, box)
    context = inputs.get("context")
    saliency = occlusion_saliency(
        model,
        inputs["face"].to(device),
        None if context is None else context.to(device),
        window=window,
        stride=stride,
        target=target,
    )
    shown = crop_face(pixels, box, transform.face_size, transform.interpolation)
    return FaceSaliency(saliency, (shown * 255).round().clamp(0, 255).to(torch.uint8))


def face_saliency_picture(
    recognizer: EmotionRecognizer,
    image: Image.Image,
    face: FaceRecord,
    window: int | None = None,
    stride: int | None = None,
    scale: int = 4,
) -> Image.Image:
    """The face crop and its occlusion saliency map over it, side by side.

    Args:
        recognizer: The recogniser that found ``face`` (its model and spec are used).
        image: The photo.
        face: One of its faces.
        window: Side of the occluding square in model pixels (default: face side / 6).
        stride: Step between squares (default: window / 2).
        scale: Upscaling of the picture (48×48 faces are tiny).
    """
    result = face_saliency(
        recognizer.model, recognizer.spec, image, face.box, window=window, stride=stride
    )
    return Image.fromarray(render_saliency(result.saliency.changed, result.face, scale=scale))
