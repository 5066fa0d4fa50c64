"""Pictures people look at (paper Figs. 1, 9, 11): boxes and labels, attention, saliency.

- :func:`draw_faces`: every face's box with its label and confidence, on the photo.
- :func:`attention_overlay`: the context the model saw (the face zeroed) with the face's
  attention map upsampled over the part of the photo the context crop covers.
- :func:`heatmap_overlay`: any [0, 1] map (occlusion saliency of a face-only model) over an image.

Everything takes and returns PIL images; nothing here runs a model.
"""

from __future__ import annotations

import colorsys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from glamor_zoo.inference.results import FaceRecord
from glamor_zoo.labels import PAPER_LABELS
from glamor_zoo.spec import ModelSpec

__all__ = [
    "attention_overlay",
    "attention_region",
    "colormap",
    "draw_faces",
    "heatmap_overlay",
    "label_color",
]


def label_color(label: str) -> tuple[int, int, int]:
    """A fixed, distinct colour per emotion (paper labels first, others by hashing the name)."""
    if label in PAPER_LABELS:
        hue = PAPER_LABELS.index(label) / len(PAPER_LABELS)
    else:
        hue = (sum(ord(c) * 31**i for i, c in enumerate(label)) % 997) / 997
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(r * 255), int(g * 255), int(b * 255)


def default_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    """Pillow's default font at ``size`` pixels (its one bitmap size on Pillow < 10.1)."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size only
        return ImageFont.load_default()


def draw_labelled_box(
    draw: ImageDraw.ImageDraw,
    box: Sequence[float],
    text: str,
    color: tuple[int, int, int],
    line_width: int,
    text_font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    image_width: int,
) -> None:
    """Draw ``box`` (x1, y1, x2, y2) outlined in ``color`` with ``text`` on a ``color`` tab above
    it (below its bottom edge where there is no room above), kept inside ``image_width``."""
    x1, y1, x2, y2 = box
    draw.rectangle([x1, y1, x2, y2], outline=color, width=line_width)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=text_font)
    tw, th = right - left, bottom - top
    pad = max(2, th // 5)
    ty = y1 - th - 2 * pad if y1 - th - 2 * pad >= 0 else y2
    tx = min(max(0.0, x1), max(0.0, image_width - tw - 2 * pad))
    draw.rectangle([tx, ty, tx + tw + 2 * pad, ty + th + 2 * pad], fill=color)
    draw.text((tx + pad - left, ty + pad - top), text, fill=(0, 0, 0), font=text_font)


def draw_faces(
    image: Image.Image,
    faces: Sequence[FaceRecord],
    line_width: int | None = None,
    font_size: int | None = None,
) -> Image.Image:
    """A copy of ``image`` with each face's box and ``"Label 0.87"`` above it (paper Fig. 1).

    Args:
        image: The photo the boxes refer to.
        faces: The records of its faces.
        line_width: Box line width in pixels (default: from the image size).
        font_size: Label text height in pixels (default: from the image size).
    """
    out = image.convert("RGB").copy()
    draw = ImageDraw.Draw(out)
    side = max(out.width, out.height)
    width = line_width or max(2, side // 300)
    font = default_font(font_size or max(12, side // 45))
    for face in faces:
        text = f"{face.label}{'?' if face.uncertain else ''} {face.confidence:.2f}"
        draw_labelled_box(draw, face.box, text, label_color(face.label), width, font, out.width)
    return out


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] to RGB uint8 with the "jet" ramp (blue → cyan → yellow → red)."""
    x = np.clip(np.asarray(values, dtype=np.float32), 0.0, 1.0)[..., None]
    centres = np.array([0.75, 0.5, 0.25], dtype=np.float32)  # red, green, blue peaks
    rgb = np.clip(1.5 - np.abs(4.0 * (x - centres)), 0.0, 1.0)
    return (rgb * 255).round().astype(np.uint8)


def attention_region(
    spec: ModelSpec | Mapping[str, Any], width: int, height: int
) -> tuple[float, float, float, float]:
    """The part of a ``width``×``height`` photo that the model's context crop covers.

    ``spec`` is the model's :class:`~glamor_zoo.spec.ModelSpec` (or a ``preprocess_cfg`` dict).

    The context is the whole photo resized to ``context_resize`` and cropped to
    ``context_size`` at ``context_crop_offset`` (the official 128×171 → rows 8:120,
    cols 29:141); the attention map's cells tile exactly this region.

    Returns:
        (x1, y1, x2, y2) in the photo's pixels.
    """
    preprocess_cfg = spec.preprocess_cfg() if isinstance(spec, ModelSpec) else spec
    rh, rw = preprocess_cfg.get("context_resize", (128, 171))
    ch, cw = preprocess_cfg.get("context_size", (112, 112))
    top, left = preprocess_cfg.get("context_crop_offset", ((rh - ch) // 2, (rw - cw) // 2))
    sx, sy = width / rw, height / rh
    return left * sx, top * sy, (left + cw) * sx, (top + ch) * sy


def _upsample(grid: np.ndarray, size: tuple[int, int], scale: str) -> np.ndarray:
    """Bilinear upsampling of a (h, w) map to ``size`` (H, W), scaled to [0, 1].

    ``scale="max"`` divides by the peak (ratios kept: a flat map stays flat and hot);
    ``"minmax"`` stretches the range (contrast, at the price of magnitude).
    """
    tensor = torch.as_tensor(np.asarray(grid, dtype=np.float32))[None, None]
    up = F.interpolate(tensor, size=size, mode="bilinear", align_corners=False)[0, 0].numpy()
    low, high = (0.0 if scale == "max" else float(up.min())), float(up.max())
    return (up - low) / (high - low) if high > low else np.zeros_like(up)


def heatmap_overlay(
    image: Image.Image,
    heatmap: np.ndarray,
    region: tuple[float, float, float, float] | None = None,
    alpha: float = 0.5,
    scale: str = "minmax",
) -> Image.Image:
    """``heatmap`` (any (h, w) map) blended over ``image``.

    Args:
        image: The picture under the map.
        heatmap: The map; it is upsampled (bilinear) to the region it covers.
        region: (x1, y1, x2, y2) the map covers (default: the whole image); outside it the
            picture is shown dimmed.
        alpha: Weight of the colours (0 = only the picture).
        scale: ``"minmax"`` (stretch the map's range over the colours) or ``"max"`` (divide
            by its peak, so that a nearly flat map looks flat).
    """
    if scale not in ("minmax", "max"):
        raise ValueError(f"scale must be 'minmax' or 'max', got {scale!r}")
    base = np.asarray(image.convert("RGB"), dtype=np.float32)
    x1, y1, x2, y2 = region or (0.0, 0.0, float(image.width), float(image.height))
    left, top = max(0, round(x1)), max(0, round(y1))
    right, bottom = min(image.width, round(x2)), min(image.height, round(y2))
    out = base * 0.35
    if right > left and bottom > top:
        colors = colormap(_upsample(heatmap, (bottom - top, right - left), scale))
        colors = colors.astype(np.float32)
        inside = base[top:bottom, left:right]
        out[top:bottom, left:right] = (1 - alpha) * inside + alpha * colors
    return Image.fromarray(out.round().clip(0, 255).astype(np.uint8))


def attention_overlay(
    image: Image.Image,
    face: FaceRecord,
    spec: ModelSpec | Mapping[str, Any],
    masked_boxes: Sequence[Sequence[float]] | None = None,
    alpha: float = 0.5,
) -> Image.Image:
    """What the context branch saw for ``face`` and where it looked (paper Fig. 9).

    The photo with the face zeroed (``masked_boxes``: every box zeroed, for the shared
    mode), the face's attention map upsampled over the region the context crop covers, and
    the face's box outlined.

    Raises:
        ValueError: ``face`` has no attention map (a face-only model).
    """
    if face.attention is None:
        raise ValueError("this face has no attention map: the model does not use the context")
    masked = np.asarray(image.convert("RGB")).copy()
    for box in masked_boxes if masked_boxes is not None else [face.box]:
        x1, y1, x2, y2 = (round(float(v)) for v in box)
        masked[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)] = 0
    region = attention_region(spec, image.width, image.height)
    # NOTE: scaled by the peak, not stretched: attention near uniform (1/49 per cell) must
    # not look focused.
    out = heatmap_overlay(Image.fromarray(masked), face.attention, region, alpha, scale="max")
    draw = ImageDraw.Draw(out)
    draw.rectangle(
        list(face.box), outline=label_color(face.label), width=max(2, image.width // 300)
    )
    return out
