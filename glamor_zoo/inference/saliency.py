"""Occlusion saliency pictures for recognised faces (Deep-Emotion §IV-C, paper Fig. 11 style).

The map itself is :func:`glamor_zoo.saliency.occlusion_saliency`; this module prepares one
recognised face the way the recogniser does and renders the face beside the map over it.
"""

from __future__ import annotations

from typing import Any

from PIL import Image

from glamor_zoo.data.transforms import crop_face, to_uint8_tensor
from glamor_zoo.inference.results import FaceRecord

__all__ = ["face_saliency_picture"]


def face_saliency_picture(
    recognizer: Any,
    image: Image.Image,
    face: FaceRecord,
    window: int | None = None,
    stride: int | None = None,
    scale: int = 4,
) -> Image.Image:
    """The face crop and its occlusion saliency map over it, side by side.

    Args:
        recognizer: The :class:`~glamor_zoo.inference.EmotionRecognizer` that found ``face``
            (its model and preprocessing are used; a context model keeps the context fixed).
        image: The photo.
        face: One of its faces.
        window: Side of the occluding square in model pixels (default: face side / 6).
        stride: Step between squares (default: window / 2).
        scale: Upscaling of the picture (48×48 faces are tiny).
    """
    from glamor_zoo.saliency import occlusion_saliency, render_saliency

    pixels = to_uint8_tensor(image)
    transform = recognizer.transform
    side = min(transform.face_size)
    window = window or max(1, side // 6)
    stride = stride or max(1, window // 2)
    device = recognizer.device
    face_input = transform.face(pixels, face.box).to(device)
    context = transform.context(pixels, face.box).to(device) if recognizer.uses_context else None
    saliency = occlusion_saliency(
        recognizer.model, face_input, context, window=window, stride=stride
    )
    shown = crop_face(pixels, face.box, transform.face_size, transform.interpolation)
    shown = (shown * 255).round().clamp(0, 255).byte()
    return Image.fromarray(render_saliency(saliency.changed, shown, scale=scale))
