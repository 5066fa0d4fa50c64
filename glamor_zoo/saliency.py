"""Occlusion saliency: which parts of the face the prediction depends on (Deep-Emotion §IV-C).

The paper's method (after Zeiler & Fergus): slide a zeroed square of side ``window`` over the
face with step ``stride``, classify every occluded copy, and mark the regions whose occlusion
changes the prediction. :func:`occlusion_saliency` returns, for every pixel, the fraction of the
squares covering it whose occlusion changed the predicted class (``changed``, the paper's map)
and the mean drop of the target class's probability (``prob_drop``, a finer-grained map).

It works for any face-only model (``model(face)``: Deep-Emotion, ``glamor_face_only``, a timm
classifier) and for two-input GLAMOR models, whose face input is occluded while the context
stays fixed. :func:`save_saliency_png` writes the map over the face as a PNG.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from glamor_zoo.spec import get_model_spec

__all__ = [
    "MAX_SALIENCY_PIXELS",
    "OcclusionSaliency",
    "black_fill",
    "check_render_size",
    "occlusion_saliency",
    "render_saliency",
    "saliency_file_names",
    "save_saliency_png",
]


@dataclass
class OcclusionSaliency:
    """The result of :func:`occlusion_saliency` for one face.

    Attributes:
        changed: (H, W) in [0, 1], the fraction of occluding squares over each pixel that
            changed the predicted class (the paper's saliency).
        prob_drop: (H, W), the mean drop of the target class's probability when a square over
            the pixel is zeroed (negative: occlusion made the class more likely).
        target: The class whose prediction is tracked.
        probs: (num_classes,) the model's probabilities on the unoccluded face.
        window: Side of the occluding square, in input pixels.
        stride: Step between squares, in input pixels.
    """

    changed: torch.Tensor
    prob_drop: torch.Tensor
    target: int
    probs: torch.Tensor
    window: int
    stride: int


def black_fill(model: nn.Module, in_chans: int) -> list[float]:
    """The value a black pixel (0) has after the model's normalisation, per channel.

    "Zeroing" a square means black pixels; for normalised inputs that is ``-mean / std``, with
    the ``face_mean`` / ``face_std`` of the model's spec (:func:`glamor_zoo.get_model_spec`).
    """
    spec = get_model_spec(model)
    mean, std = list(spec.face_mean), list(spec.face_std)
    if len(mean) != in_chans:
        mean, std = [mean[0]] * in_chans, [std[0]] * in_chans
    return [-m / s for m, s in zip(mean, std, strict=True)]


def _positions(size: int, window: int, stride: int) -> list[int]:
    last = max(0, size - window)
    starts = list(range(0, last + 1, stride))
    if starts[-1] != last:
        starts.append(last)  # cover the far edge too
    return starts


@torch.no_grad()
def occlusion_saliency(
    model: nn.Module,
    face: torch.Tensor,
    context: torch.Tensor | None = None,
    *,
    window: int = 8,
    stride: int = 4,
    target: int | None = None,
    fill: float | Sequence[float] | None = None,
    batch_size: int = 64,
) -> OcclusionSaliency:
    """Occlusion saliency of one face (paper §IV-C).

    Args:
        model: A classifier called as ``model(face)``, or ``model(face, context)`` when
            ``context`` is given (GLAMOR models). It is put in eval mode.
        face: The preprocessed face, (C, H, W) or (1, C, H, W).
        context: The preprocessed context of a two-input model, (C, H, W) or (1, C, H, W); it
            is not occluded.
        window: Side of the zeroed square, in input pixels.
        stride: Step between square positions, in input pixels.
        target: Class to track; default: the model's prediction on the unoccluded face.
        fill: Value of the occluded pixels (a number or one per channel); default: black after
            the model's normalisation (:func:`black_fill`).
        batch_size: Occluded copies classified per forward pass.

    Returns:
        An :class:`OcclusionSaliency` with (H, W) maps.

    Raises:
        ValueError: ``face``/``context`` is not one image, or ``window``/``stride`` do not fit.
    """
    face = _single(face, "face")
    context = _single(context, "context") if context is not None else None
    _, c, h, w = face.shape
    if not 1 <= window <= min(h, w):
        raise ValueError(f"window must be between 1 and the face side {min(h, w)}, got {window}")
    if stride < 1:
        raise ValueError(f"stride must be a positive number of pixels, got {stride}")
    if fill is None:
        fill = black_fill(model, c)
    fill_t = torch.as_tensor(fill, dtype=face.dtype, device=face.device).reshape(-1, 1, 1)
    if fill_t.shape[0] not in (1, c):
        raise ValueError(f"fill has {fill_t.shape[0]} values for a face with {c} channels")

    model.eval()

    def predict(faces: torch.Tensor) -> torch.Tensor:
        if context is None:
            logits = model(faces)
        else:
            logits = model(faces, context.expand(faces.shape[0], -1, -1, -1))
        return torch.softmax(logits.float(), dim=1)

    probs = predict(face)[0]
    if target is None:
        target = int(probs.argmax())
    elif not 0 <= target < probs.numel():
        raise ValueError(
            f"target {target} is not a class index of this {probs.numel()}-class model"
        )

    boxes = [(y, x) for y in _positions(h, window, stride) for x in _positions(w, window, stride)]
    changed = torch.zeros(h, w)
    drop = torch.zeros(h, w)
    cover = torch.zeros(h, w)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        faces = face.repeat(len(chunk), 1, 1, 1)
        for i, (y, x) in enumerate(chunk):
            faces[i, :, y : y + window, x : x + window] = fill_t
        out = predict(faces).cpu()
        flipped = (out.argmax(1) != target).float()
        lost = probs[target].cpu() - out[:, target]
        for i, (y, x) in enumerate(chunk):
            changed[y : y + window, x : x + window] += flipped[i]
            drop[y : y + window, x : x + window] += lost[i]
            cover[y : y + window, x : x + window] += 1
    cover.clamp_(min=1)
    return OcclusionSaliency(
        changed=changed / cover,
        prob_drop=drop / cover,
        target=target,
        probs=probs.cpu(),
        window=window,
        stride=stride,
    )


def _single(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim == 3:
        x = x.unsqueeze(0)
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(
            f"{name} must be one image (C, H, W) or (1, C, H, W), got shape {tuple(x.shape)}"
        )
    return x


# Anchor colours of the heat map, dark to bright (a perceptually ordered "inferno"-like ramp).
_RAMP = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float32
)


def _colormap(values: np.ndarray) -> np.ndarray:
    pos = np.clip(values, 0.0, 1.0) * (len(_RAMP) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_RAMP) - 2)
    frac = (pos - lo)[..., None]
    return _RAMP[lo] * (1 - frac) + _RAMP[lo + 1] * frac


# The largest PNG a saliency map is drawn as (both panels): 4096 x 4096.
MAX_SALIENCY_PIXELS = 4096 * 4096


def check_render_size(
    height: int, width: int, scale: int, side_by_side: bool = True, max_pixels: int | None = None
) -> None:
    """Refuse a ``scale`` that is not a whole number >= 1, or that would draw an image of more
    than ``max_pixels`` (default :data:`MAX_SALIENCY_PIXELS`).

    Raises:
        ValueError: naming the scale, the size it would draw, and the largest scale allowed.
    """
    limit = MAX_SALIENCY_PIXELS if max_pixels is None else max_pixels
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be a whole number >= 1, got {scale!r}")
    panels = 2 if side_by_side else 1
    pixels = height * scale * width * scale * panels
    if pixels > limit:
        largest = max(1, int((limit / (height * width * panels)) ** 0.5))
        raise ValueError(
            f"scale {scale} would draw {width * scale * panels} x {height * scale} pixels, over "
            f"the {limit:,} allowed: use a scale of at most {largest}"
        )


def render_saliency(
    saliency: torch.Tensor,
    face: np.ndarray | torch.Tensor | None = None,
    *,
    alpha: float = 0.5,
    scale: int = 4,
    side_by_side: bool = True,
) -> np.ndarray:
    """Draw a saliency map as an RGB uint8 image.

    Args:
        saliency: (H, W) map; negative values are shown as 0, the map is scaled to its maximum.
        face: The face, uint8 (H', W'), (H', W', 3) or (3, H', W'); resized to the map's size.
            With it, the map is blended over the face.
        alpha: Opacity of the heat map over the face.
        scale: Integer upscaling of the output (48×48 maps are tiny).
        side_by_side: Put the plain face left of the overlay.

    Returns:
        (H·scale, W·scale[·2], 3) uint8.

    Raises:
        ValueError: ``scale`` is not a whole number >= 1, or draws more than
            :data:`MAX_SALIENCY_PIXELS` (:func:`check_render_size`).
    """
    from PIL import Image

    sal = (
        saliency.detach().float().cpu().numpy()
        if isinstance(saliency, torch.Tensor)
        else np.asarray(saliency, np.float32)
    )
    sal = np.clip(sal, 0.0, None)
    peak = sal.max()
    heat = _colormap(sal / peak if peak > 0 else sal)
    h, w = sal.shape
    check_render_size(h, w, scale, side_by_side and face is not None)
    panels = []
    if face is not None:
        pixels = face.detach().cpu().numpy() if isinstance(face, torch.Tensor) else np.asarray(face)
        if pixels.ndim == 3 and pixels.shape[0] in (1, 3) and pixels.shape[-1] not in (1, 3):
            pixels = pixels.transpose(1, 2, 0)
        if pixels.ndim == 3 and pixels.shape[-1] == 1:
            pixels = pixels[..., 0]
        image = (
            Image.fromarray(pixels.astype(np.uint8)).convert("RGB").resize((w, h), Image.BILINEAR)
        )
        base = np.asarray(image, dtype=np.float32)
        if side_by_side:
            panels.append(base)
        heat = base * (1 - alpha) + heat * alpha
    panels.append(heat)
    out = np.concatenate(panels, axis=1).round().clip(0, 255).astype(np.uint8)
    if scale > 1:
        out = np.asarray(
            Image.fromarray(out).resize((out.shape[1] * scale, out.shape[0] * scale), Image.NEAREST)
        )
    return out


def saliency_file_names(images: Sequence[str | os.PathLike[str]]) -> list[str]:
    """One PNG name per image, in order, never two alike: ``<stem>_saliency.png``, and for
    later images of a stem already taken ``<stem>-2_saliency.png``, ``<stem>-3_saliency.png``…"""
    taken: set[str] = set()
    names = []
    for image in images:
        stem = os.path.splitext(os.path.basename(os.fspath(image)))[0]
        name, number = f"{stem}_saliency.png", 1
        while name in taken:
            number += 1
            name = f"{stem}-{number}_saliency.png"
        taken.add(name)
        names.append(name)
    return names


def save_saliency_png(
    path: str,
    saliency: torch.Tensor,
    face: np.ndarray | torch.Tensor | None = None,
    **kwargs: object,
) -> None:
    """Write :func:`render_saliency`'s image to ``path`` as a PNG, atomically."""
    from PIL import Image

    from glamor_zoo.serialization import atomic_write_bytes

    buffer = io.BytesIO()
    Image.fromarray(render_saliency(saliency, face, **kwargs)).save(buffer, format="PNG")
    atomic_write_bytes(path, buffer.getvalue())
