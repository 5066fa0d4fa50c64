"""The paper's preprocessing: face crop, masked context, resize, crop, augmentation.

Exactly as the authors' ``data_utils.py`` / ``predict.py`` (see ARCHITECTURE.md):

- Face: the detector's box, rounded to whole pixels and clipped to the image, is cut from the
  RGB image and resized to ``face_size`` (bilinear), /255. No box → an all-zero face.
- Context: the face box is set to zero in the whole image, /255, resized to
  ``context_resize`` (128×171 for a 112×112 context), then cropped to ``context_size``:
  a uniformly random crop for training, the fixed centre crop (rows 8:120, cols 29:141) for
  evaluation.
- Training augmentation, face only: horizontal flip (p=0.5), rotation by an angle uniform in
  ±20° with edge pixels repeated into the corners (Keras ``random_rotation``'s
  ``fill_mode="nearest"``). Configurations may add a random zoom and shift (Deep-Emotion's
  ``face_augment``: ±10°, zoom 0.9–1.1, shift ±10 %), applied in the same single resampling,
  and random erasing (``erase``: a rectangle of the normalised face replaced by noise).
- Finally each image is normalised with the model's mean/std (zeros/ones for the paper's
  encoder, the backbone's own values for timm backbones).

Every step works on whole tensors (C, H, W). Randomness comes only from the
:class:`torch.Generator` passed in, so a sample is reproducible from its generator's seed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from glamor_zoo.spec import ModelSpec

__all__ = [
    "PAPER_PREPROCESS_CFG",
    "Box",
    "GlamorTransform",
    "affine",
    "augment_face",
    "center_crop_context",
    "clip_box",
    "crop_face",
    "face_augment_params",
    "face_region",
    "mask_context",
    "normalize",
    "random_crop_context",
    "random_erase",
    "resize",
    "resize_context",
    "rotate",
    "to_grayscale",
    "to_uint8_tensor",
]

Box = tuple[float, float, float, float]

_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")

# What ``glamor_original``'s spec gives: the paper's pipeline and encoder inputs.
PAPER_PREPROCESS_CFG: dict[str, Any] = {
    "inputs": "both",
    "in_chans": 3,
    "face_size": [96, 96],
    "context_size": [112, 112],
    "context_resize": [128, 171],
    "context_crop_offset": [8, 29],
    "face_mean": [0.0, 0.0, 0.0],
    "face_std": [1.0, 1.0, 1.0],
    "context_mean": [0.0, 0.0, 0.0],
    "context_std": [1.0, 1.0, 1.0],
    "interpolation": "bilinear",
    "mask_face_in_context": True,
    "face_augment": {"hflip": 0.5, "rotate_degrees": 20.0},
}


def to_uint8_tensor(image: Image.Image | torch.Tensor | np.ndarray) -> torch.Tensor:
    """A (3, H, W) uint8 tensor from a PIL image, an (H, W, 3) array, or a (C|-, H, W) tensor.

    Grey inputs ((H, W), (1, H, W)) are repeated to three channels; PIL images of any mode are
    converted to RGB (use :func:`glamor_zoo.data.images.load_image` for files).
    """
    if isinstance(image, Image.Image):
        image = torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)
    elif isinstance(image, np.ndarray):
        array = torch.from_numpy(np.ascontiguousarray(image))
        image = array.permute(2, 0, 1) if array.ndim == 3 else array
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"expected a PIL image, numpy array or tensor, got {type(image).__name__}")
    if image.dtype != torch.uint8:
        raise TypeError(f"expected a uint8 image tensor, got dtype {image.dtype}")
    if image.ndim == 2:
        image = image.unsqueeze(0)
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        raise ValueError(
            f"expected an image of shape (3, H, W) or (1, H, W), got {tuple(image.shape)}"
        )
    if image.shape[0] == 1:
        image = image.expand(3, -1, -1)
    return image


def clip_box(
    box: Sequence[float] | None, width: int, height: int
) -> tuple[int, int, int, int] | None:
    """Round ``box`` (x1, y1, x2, y2) to whole pixels and clip it to a width×height image.

    Returns ``None`` for no face: ``None``, the official ``0,0,0,0``, or a box with no area
    inside the image.
    """
    if box is None:
        return None
    if len(box) != 4:
        raise ValueError(f"a face box is (x1, y1, x2, y2), got {tuple(box)!r}")
    # NOTE: the official crop files hold integers; detector boxes are rounded to the nearest pixel.
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    x1, x2 = min(max(x1, 0), width), min(max(x2, 0), width)
    y1, y2 = min(max(y1, 0), height), min(max(y2, 0), height)
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def _as_float(image: torch.Tensor) -> torch.Tensor:
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image.float()


def resize(
    image: torch.Tensor, size: Sequence[int], interpolation: str = "bilinear"
) -> torch.Tensor:
    """Resize a (C, H, W) image to ``size`` (H, W); uint8 input becomes float in [0, 1].

    Bilinear with half-pixel centres and no antialiasing, as TF2's ``tf.image.resize``.
    """
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {_INTERPOLATIONS}, got {interpolation!r}")
    x = _as_float(image)
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    kwargs: dict[str, Any] = {} if interpolation == "nearest" else {"align_corners": False}
    out = F.interpolate(x.unsqueeze(0), size=tuple(size), mode=interpolation, **kwargs).squeeze(0)
    return out.clamp_(0.0, 1.0) if interpolation == "bicubic" else out


def face_region(
    box: Sequence[float], margin: float = 0.0, square: bool = False
) -> tuple[float, float, float, float]:
    """The region a face crop cuts around a detector's ``box`` (x1, y1, x2, y2): made square
    around its centre by its longer side (``square``), then grown by ``margin`` times its size
    on every side (0: the box itself)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    width, height = x2 - x1, y2 - y1
    if square:
        width = height = max(width, height)
    width, height = width * (1 + 2 * margin), height * (1 + 2 * margin)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def crop_face(
    image: torch.Tensor,
    box: Sequence[float] | None,
    size: Sequence[int] = (96, 96),
    interpolation: str = "bilinear",
    margin: float = 0.0,
    square: bool = False,
) -> torch.Tensor:
    """The face crop: ``box`` cut from ``image`` (C, H, W) and resized; zeros when no box.

    With the default ``margin=0, square=False`` the box is clipped to the image (the paper's
    crop). Otherwise the crop is :func:`face_region` of the box, and the part of it outside the
    image is black (a square stays square at the image's border).

    Returns:
        Float tensor (C, size[0], size[1]) in [0, 1].
    """
    channels, height, width = image.shape
    if box is not None and (margin or square) and clip_box(box, width, height) is not None:
        x1, y1, x2, y2 = (round(v) for v in face_region(box, margin, square))
        canvas = torch.zeros(channels, y2 - y1, x2 - x1, dtype=image.dtype)
        ix1, iy1, ix2, iy2 = max(x1, 0), max(y1, 0), min(x2, width), min(y2, height)
        canvas[:, iy1 - y1 : iy2 - y1, ix1 - x1 : ix2 - x1] = image[:, iy1:iy2, ix1:ix2]
        return resize(canvas, size, interpolation)
    clipped = clip_box(box, width, height)
    if clipped is None:
        return torch.zeros(channels, *size)
    x1, y1, x2, y2 = clipped
    return resize(image[:, y1:y2, x1:x2], size, interpolation)


def mask_context(image: torch.Tensor, box: Sequence[float] | None) -> torch.Tensor:
    """A copy of ``image`` (C, H, W) with the (clipped) face box set to zero."""
    out = image.clone()
    clipped = clip_box(box, image.shape[-1], image.shape[-2])
    if clipped is not None:
        x1, y1, x2, y2 = clipped
        out[:, y1:y2, x1:x2] = 0
    return out


def resize_context(
    image: torch.Tensor, size: Sequence[int] = (128, 171), interpolation: str = "bilinear"
) -> torch.Tensor:
    """Resize the (masked) context to ``size`` (the official 128 rows × 171 columns)."""
    return resize(image, size, interpolation)


def center_crop_context(
    image: torch.Tensor, size: Sequence[int] = (112, 112), offset: Sequence[int] = (8, 29)
) -> torch.Tensor:
    """The evaluation crop: rows ``offset[0]:offset[0]+size[0]``, cols ``offset[1]:…`` (8:120, 29:141)."""
    top, left = offset
    out = image[..., top : top + size[0], left : left + size[1]]
    if tuple(out.shape[-2:]) != tuple(size):
        raise ValueError(
            f"cannot crop {tuple(size)} at {tuple(offset)} from an image of size {tuple(image.shape[-2:])}"
        )
    return out


def random_crop_context(
    image: torch.Tensor, size: Sequence[int] = (112, 112), generator: torch.Generator | None = None
) -> torch.Tensor:
    """The training crop: ``size`` at a uniformly random position (``tf.image.random_crop``)."""
    height, width = image.shape[-2:]
    if height < size[0] or width < size[1]:
        raise ValueError(f"cannot crop {tuple(size)} from an image of size {(height, width)}")
    top = int(torch.randint(0, height - size[0] + 1, (1,), generator=generator))
    left = int(torch.randint(0, width - size[1] + 1, (1,), generator=generator))
    return image[..., top : top + size[0], left : left + size[1]]


def affine(
    image: torch.Tensor,
    degrees: float = 0.0,
    zoom: float = 1.0,
    shift: Sequence[float] = (0.0, 0.0),
) -> torch.Tensor:
    """Rotate, zoom and shift a float (C, H, W) image about its centre in one resampling.

    Args:
        image: The image.
        degrees: Rotation angle.
        zoom: Magnification (> 1 enlarges the content, < 1 shrinks it).
        shift: (dx, dy): the content moves right by ``dx``·W and down by ``dy``·H.

    Pixels from outside the image take the nearest edge pixel.
    """
    if degrees == 0 and zoom == 1 and not any(shift):
        return image
    height, width = image.shape[-2:]
    theta = math.radians(degrees)
    cos, sin = math.cos(theta) / zoom, math.sin(theta) / zoom
    # Normalised coordinates differ per axis on non-square images: rescale the off-diagonal terms.
    matrix = torch.tensor(
        [
            [cos, -sin * height / width, -2.0 * shift[0]],
            [sin * width / height, cos, -2.0 * shift[1]],
        ],
        dtype=image.dtype,
    )
    grid = F.affine_grid(matrix.unsqueeze(0), [1, *image.shape], align_corners=False)
    return F.grid_sample(
        image.unsqueeze(0), grid, mode="bilinear", padding_mode="border", align_corners=False
    ).squeeze(0)


def rotate(image: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate a float (C, H, W) image about its centre; corners take the nearest edge pixel."""
    return affine(image, degrees)


def face_augment_params(augment: Mapping[str, Any] | None) -> dict[str, Any]:
    """A ``face_augment`` setting checked and completed: ``hflip`` (probability, 0–1),
    ``rotate_degrees`` (>= 0), ``scale`` ((low, high) zoom range, 0 < low <= high) and
    ``translate`` (largest shift as a fraction of the side, 0–1) and ``erase`` (probability of
    :func:`random_erase`, 0–1). ``None``: no augmentation.

    Raises:
        ValueError: an unknown key or a bad value, named.
    """
    out: dict[str, Any] = {
        "hflip": 0.0,
        "rotate_degrees": 0.0,
        "scale": (1.0, 1.0),
        "translate": 0.0,
        "erase": 0.0,
    }
    if augment is None:
        return out
    if not isinstance(augment, Mapping):
        raise ValueError(f"face_augment must be a mapping or null, got {augment!r}")
    unknown = sorted(set(augment) - set(out))
    if unknown:
        raise ValueError(f"unknown face_augment key(s) {unknown}; valid: {sorted(out)}")

    def number(key: str, value: Any, low: float, high: float) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise ValueError(
                f"face_augment[{key!r}] must be a number in [{low}, {high}], got {value!r}"
            )
        return float(value)

    if "hflip" in augment:
        out["hflip"] = number("hflip", augment["hflip"], 0.0, 1.0)
    if "rotate_degrees" in augment:
        out["rotate_degrees"] = number("rotate_degrees", augment["rotate_degrees"], 0.0, 180.0)
    if "translate" in augment:
        out["translate"] = number("translate", augment["translate"], 0.0, 1.0)
    if "erase" in augment:
        out["erase"] = number("erase", augment["erase"], 0.0, 1.0)
    if "scale" in augment:
        scale = augment["scale"]
        if not isinstance(scale, Sequence) or isinstance(scale, str) or len(scale) != 2:
            raise ValueError(f"face_augment['scale'] must be [low, high], got {scale!r}")
        low, high = (number("scale", v, 1e-3, 1e3) for v in scale)
        if low > high:
            raise ValueError(
                f"face_augment['scale'] must be [low, high] with low <= high, got {scale!r}"
            )
        out["scale"] = (low, high)
    return out


def augment_face(
    face: torch.Tensor,
    hflip: float = 0.5,
    rotate_degrees: float = 20.0,
    generator: torch.Generator | None = None,
    scale: Sequence[float] = (1.0, 1.0),
    translate: float = 0.0,
) -> torch.Tensor:
    """Training augmentation of the face: random horizontal flip, then one random affine warp
    (:func:`affine`): rotation uniform in ±``rotate_degrees``, zoom uniform in ``scale``, shift
    uniform in ±``translate`` of each side.

    The flip and the angle are always drawn first, so the generator advances the same way
    whatever the outcome; the zoom and the two shifts are drawn after them only when ``scale``
    or ``translate`` ask for them (a flip-and-rotation setting keeps its stream).
    """
    flip_draw, angle_draw = torch.rand(2, generator=generator).tolist()
    if flip_draw < hflip:
        face = face.flip(-1)
    degrees = (2.0 * angle_draw - 1.0) * rotate_degrees
    if tuple(scale) == (1.0, 1.0) and not translate:
        return affine(face, degrees)
    zoom_draw, dx_draw, dy_draw = torch.rand(3, generator=generator).tolist()
    zoom = scale[0] + (scale[1] - scale[0]) * zoom_draw
    shift = ((2.0 * dx_draw - 1.0) * translate, (2.0 * dy_draw - 1.0) * translate)
    return affine(face, degrees, zoom, shift)


def random_erase(
    image: torch.Tensor,
    probability: float,
    generator: torch.Generator | None = None,
    area: Sequence[float] = (0.02, 1 / 3),
    aspect: Sequence[float] = (0.3, 3.3),
    attempts: int = 10,
) -> torch.Tensor:
    """Random erasing (Zhong et al. 2020; timm's ``RandomErasing`` in ``pixel`` mode): with
    ``probability``, a rectangle of ``area`` (fraction of the image) and ``aspect`` ratio
    (log-uniform) is replaced by standard-normal noise; meant for normalised images.
    """
    if float(torch.rand(1, generator=generator)) >= probability:
        return image
    height, width = image.shape[-2:]
    log_aspect = (math.log(aspect[0]), math.log(aspect[1]))
    for _ in range(attempts):
        area_draw, aspect_draw = torch.rand(2, generator=generator).tolist()
        target = (area[0] + (area[1] - area[0]) * area_draw) * height * width
        ratio = math.exp(log_aspect[0] + (log_aspect[1] - log_aspect[0]) * aspect_draw)
        h, w = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < h < height and 0 < w < width:
            top = int(torch.randint(0, height - h + 1, (1,), generator=generator))
            left = int(torch.randint(0, width - w + 1, (1,), generator=generator))
            noise = torch.randn((image.shape[0], h, w), generator=generator, dtype=image.dtype)
            image = image.clone()
            image[:, top : top + h, left : left + w] = noise
            return image
    return image


def to_grayscale(image: torch.Tensor) -> torch.Tensor:
    """(3, H, W) → (1, H, W) with ITU-R 601-2 luma weights (as Pillow's ``convert("L")``)."""
    if image.shape[0] == 1:
        return image
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=image.dtype).view(3, 1, 1)
    return (image * weights).sum(dim=0, keepdim=True)


def normalize(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(image - mean) / std per channel; single values broadcast to every channel.

    A 3-value mean/std on a 1-channel image is averaged to one value.
    """
    channels = image.shape[0]
    mean_t = torch.as_tensor(list(mean), dtype=image.dtype)
    std_t = torch.as_tensor(list(std), dtype=image.dtype)
    if channels == 1 and mean_t.numel() == 3:
        # NOTE: a grey image with an RGB backbone's statistics uses their average.
        mean_t, std_t = mean_t.mean(0, keepdim=True), std_t.mean(0, keepdim=True)
    if mean_t.numel() not in (1, channels) or std_t.numel() not in (1, channels):
        raise ValueError(
            f"mean/std have {mean_t.numel()}/{std_t.numel()} values for an image of {channels} channels"
        )
    if torch.any(std_t == 0):
        raise ValueError(f"std must be non-zero, got {list(std)}")
    return (image - mean_t.view(-1, 1, 1)) / std_t.view(-1, 1, 1)


def _pair(value: Any, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, Sequence) and len(value) == 2:
        return int(value[0]), int(value[1])
    raise ValueError(f"preprocess_cfg[{name!r}] must be an int or (H, W), got {value!r}")


class GlamorTransform:
    """The paper's preprocessing of one image and its face box, configured by a model.

    Args:
        preprocess_cfg: The model's :class:`~glamor_zoo.spec.ModelSpec`
            (``glamor_zoo.get_model_spec(model)``), or its ``preprocess_cfg()`` dict:
            ``face_size``, ``context_size``, ``context_resize``, ``context_crop_offset``,
            ``face_mean``/``face_std``, ``context_mean``/``context_std``, ``interpolation``,
            ``mask_face_in_context``, ``face_augment`` (``hflip``, ``rotate_degrees``, ``scale``,
            ``translate``: :func:`face_augment_params`), ``context_jpeg`` (``True``: the masked
            context goes through TensorFlow's JPEG round trip as in the authors' code,
            :func:`glamor_zoo.data.jpeg.tf_jpeg_round_trip`; default ``False``),
            ``inputs`` (``"face"`` → no context is produced) and ``in_chans`` (1 → grey).
            ``None`` or missing keys take the paper's values (:data:`PAPER_PREPROCESS_CFG`).
        train: Random context crop and face augmentation (``True``) or the fixed evaluation
            crop and no augmentation (``False``).

    Calling it with ``(image, box, generator)`` returns ``{"face": (C, Hf, Wf),
    "context": (C, Hc, Wc)}`` float tensors, normalised; ``"context"`` is absent for
    face-only configs. ``image`` is a PIL image or a uint8 (3, H, W) tensor; ``box`` is
    (x1, y1, x2, y2) in its pixels or ``None`` (no face: zero face, unmasked context).
    """

    def __init__(
        self, preprocess_cfg: ModelSpec | Mapping[str, Any] | None = None, train: bool = False
    ) -> None:
        if isinstance(preprocess_cfg, ModelSpec):
            preprocess_cfg = preprocess_cfg.preprocess_cfg()
        user = dict(preprocess_cfg or {})
        cfg = {**PAPER_PREPROCESS_CFG, **user}
        for derived in ("context_resize", "context_crop_offset"):
            if derived not in user:
                del cfg[derived]  # derived from context_size below
        self.train = train
        self.inputs = cfg.get("inputs", "both")
        if self.inputs not in ("both", "face", "context"):
            raise ValueError(
                f"preprocess_cfg['inputs'] must be both/face/context, got {self.inputs!r}"
            )
        self.in_chans = int(cfg.get("in_chans", 3))
        if self.in_chans not in (1, 3):
            raise ValueError(f"preprocess_cfg['in_chans'] must be 1 or 3, got {self.in_chans}")
        self.face_size = _pair(cfg.get("face_size", (96, 96)), "face_size")
        self.face_margin = float(cfg.get("face_margin", 0.0))
        self.face_square = bool(cfg.get("face_square", False))
        if not 0 <= self.face_margin <= 1:
            raise ValueError(
                f"preprocess_cfg['face_margin'] must be a fraction in [0, 1], got {self.face_margin}"
            )
        self.context_size = _pair(cfg.get("context_size", (112, 112)), "context_size")
        ch, cw = self.context_size
        default_resize = (round(ch * 128 / 112), round(cw * 171 / 112))
        self.context_resize = _pair(cfg.get("context_resize", default_resize), "context_resize")
        rh, rw = self.context_resize
        if rh < ch or rw < cw:
            raise ValueError(
                f"context_resize {self.context_resize} is smaller than context_size {self.context_size}"
            )
        default_offset = ((rh - ch) // 2, (rw - cw) // 2)
        self.context_crop_offset = _pair(
            cfg.get("context_crop_offset", default_offset), "context_crop_offset"
        )
        self.face_mean = tuple(cfg.get("face_mean", (0.0,)))
        self.face_std = tuple(cfg.get("face_std", (1.0,)))
        self.context_mean = tuple(cfg.get("context_mean", self.face_mean))
        self.context_std = tuple(cfg.get("context_std", self.face_std))
        self.interpolation = cfg.get("interpolation", "bilinear")
        if self.interpolation not in _INTERPOLATIONS:
            raise ValueError(f"preprocess_cfg['interpolation'] must be one of {_INTERPOLATIONS}")
        self.mask_face = bool(cfg.get("mask_face_in_context", True))
        self.context_jpeg = bool(cfg.get("context_jpeg", False))
        try:
            augment = face_augment_params(cfg["face_augment"])
        except ValueError as exc:
            raise ValueError(f"preprocess_cfg: {exc}") from exc
        self.hflip = augment["hflip"]
        self.rotate_degrees = augment["rotate_degrees"]
        self.scale = augment["scale"]
        self.translate = augment["translate"]
        self.erase = augment["erase"]

    @property
    def uses_context(self) -> bool:
        return self.inputs != "face"

    def _channels(self, image: torch.Tensor) -> torch.Tensor:
        return to_grayscale(image) if self.in_chans == 1 else image

    def face(
        self,
        image: torch.Tensor,
        box: Sequence[float] | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The normalised face input from a uint8 (3, H, W) image."""
        face = crop_face(
            image, box, self.face_size, self.interpolation, self.face_margin, self.face_square
        )
        if self.train and (
            self.hflip or self.rotate_degrees or self.scale != (1.0, 1.0) or self.translate
        ):
            face = augment_face(
                face, self.hflip, self.rotate_degrees, generator, self.scale, self.translate
            )
        face = normalize(self._channels(face), self.face_mean, self.face_std)
        if self.train and self.erase:
            face = random_erase(face, self.erase, generator)
        return face

    def context(
        self,
        image: torch.Tensor,
        box: Sequence[float] | None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """The normalised context input from a uint8 (3, H, W) image."""
        # NOTE: the official code re-encodes the masked image as JPEG here, an accident of its
        # TF plumbing (ARCHITECTURE.md); the zoo keeps the exact pixels unless context_jpeg.
        masked = mask_context(image, box) if self.mask_face else image
        if self.context_jpeg:
            from glamor_zoo.data.jpeg import tf_jpeg_round_trip

            masked = tf_jpeg_round_trip(masked)
        context = resize_context(masked, self.context_resize, self.interpolation)
        if self.train:
            context = random_crop_context(context, self.context_size, generator)
        else:
            context = center_crop_context(context, self.context_size, self.context_crop_offset)
        return normalize(self._channels(context), self.context_mean, self.context_std)

    def __call__(
        self,
        image: Image.Image | torch.Tensor,
        box: Sequence[float] | None = None,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        pixels = to_uint8_tensor(image)
        # NOTE: the context crop is drawn before the face augmentation, one fixed order.
        context = self.context(pixels, box, generator) if self.uses_context else None
        out = {"face": self.face(pixels, box, generator)}
        if context is not None:
            out["context"] = context
        return out

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(train={self.train}, inputs={self.inputs!r}, in_chans={self.in_chans}, "
            f"face_size={self.face_size}, context_size={self.context_size}, "
            f"context_resize={self.context_resize}, context_crop_offset={self.context_crop_offset})"
        )
