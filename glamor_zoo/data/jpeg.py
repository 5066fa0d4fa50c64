"""The JPEG round trip of the authors' pipeline: ``tf.image.encode_jpeg`` then ``decode_jpeg``.

The authors' ``predict.py`` and ``data_utils.py`` encode the masked context as a JPEG and decode
it again before resizing it (an accident of their TensorFlow plumbing), with TensorFlow's
defaults: quality 95, 4:2:0 chroma subsampling, baseline, the accurate integer DCT when
encoding; the *fast* integer DCT and fancy upsampling when decoding. Weights trained with their
code saw contexts that went through it, so ``official`` preprocessing repeats it.

Encoding: Pillow with those settings writes the same coefficients as TensorFlow (both are
libjpeg(-turbo) with ``jpeg_set_quality(95, force_baseline=TRUE)`` and the accurate DCT).
Decoding: Pillow always decodes with the accurate DCT, so the fast one comes from simplejpeg
(libjpeg-turbo's TurboJPEG, ``fastdct=True``): ``pip install 'glamor-zoo[official]'``.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
from PIL import Image

__all__ = ["TF_JPEG_QUALITY", "tf_jpeg_round_trip"]

TF_JPEG_QUALITY = 95  # tf.image.encode_jpeg's default


def _simplejpeg() -> Any:
    try:
        import simplejpeg
    except ImportError as exc:
        raise ImportError(
            "official preprocessing decodes the context JPEG with the fast integer DCT as "
            "TensorFlow does, which needs simplejpeg: pip install 'glamor-zoo[official]'"
        ) from exc
    return simplejpeg


def tf_jpeg_round_trip(image: torch.Tensor) -> torch.Tensor:
    """A (3, H, W) uint8 image after TensorFlow's default ``encode_jpeg`` + ``decode_jpeg``."""
    if image.dtype != torch.uint8 or image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(
            f"expected a (3, H, W) uint8 image, got {image.dtype} {tuple(image.shape)}"
        )
    decoder = _simplejpeg()
    buffer = io.BytesIO()
    pixels = np.ascontiguousarray(image.permute(1, 2, 0).numpy())
    Image.fromarray(pixels).save(
        buffer, format="JPEG", quality=TF_JPEG_QUALITY, subsampling="4:2:0", optimize=False
    )
    decoded = decoder.decode_jpeg(
        buffer.getvalue(), colorspace="RGB", fastdct=True, fastupsample=False
    )  # type: ignore[attr-defined]
    return torch.from_numpy(np.ascontiguousarray(decoded)).permute(2, 0, 1)
