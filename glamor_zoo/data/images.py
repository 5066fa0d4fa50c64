"""Image loading that survives real-world files.

:func:`load_image` always returns an 8-bit RGB :class:`PIL.Image.Image` with its EXIF
orientation applied, or raises :class:`ImageLoadError` naming the file and the problem.
Conversions, by source mode:

- ``RGB``: unchanged.
- ``L``, ``1``, ``YCbCr``, ``LAB``, ``HSV``: converted to RGB by Pillow.
- ``CMYK``: converted to RGB by Pillow (Adobe's inverted JPEG CMYK is handled by Pillow's decoder).
- ``RGBA``, ``LA``, ``PA`` and palette images with transparency: composited over an opaque
  background (white by default, ``background=``), so transparent pixels never turn into
  arbitrary colours.
- ``P`` (palette) without transparency: expanded to RGB.
- 16-bit and 32-bit integer grey (``I;16``, ``I;16B``, ``I;16L``, ``I``): scaled from the
  0–65535 range to 0–255 (÷257), except ``I`` images whose values all fit in 0–255,
  which are kept as they are.
- 32-bit float grey (``F``): values in [0, 1] are scaled by 255; larger values are taken as
  0–255 and clipped.

Errors: missing paths, folders, zero-byte files, files that are not images, truncated or
corrupt pixel data, and images larger than ``max_pixels`` (decompression bombs, checked
before any pixel is decoded). :func:`iter_images` loads many files and reports each failure
as a value, so one bad file never stops a batch.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "ImageLoadError",
    "LoadResult",
    "decode_image",
    "is_image_file",
    "iter_images",
    "list_images",
    "load_image",
]

_logger = logging.getLogger(__name__)

# Pillow's own decompression-bomb threshold (about 89.5 megapixels, 1024·1024·1024 // 4 // 3).
DEFAULT_MAX_PIXELS = 89_478_485

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".tga", ".ppm", ".pgm"}
)


class ImageLoadError(ValueError):
    """An image file could not be turned into an RGB image.

    Attributes:
        path: The file that failed.
        reason: What was wrong with it, in words.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot load image {self.path!r}: {reason}")


@dataclass(frozen=True)
class LoadResult:
    """One item of :func:`iter_images`: the image, or the error that stopped it.

    Attributes:
        path: The file.
        image: The RGB image, or ``None`` when loading failed.
        error: The failure, or ``None`` on success.
    """

    path: str
    image: Image.Image | None
    error: ImageLoadError | None

    @property
    def ok(self) -> bool:
        return self.error is None


def is_image_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has one of :data:`IMAGE_EXTENSIONS` (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def list_images(root: str | os.PathLike[str], recursive: bool = True) -> list[Path]:
    """Image files under ``root`` (by extension, hidden files skipped), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"image folder {str(root)!r} does not exist or is not a folder")
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in root.glob(pattern)
        if p.is_file()
        and is_image_file(p)
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _to_rgb(image: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
        mode = image.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    if mode.startswith("I;16") or mode == "I":
        array = np.asarray(image, dtype=np.float64)
        if mode == "I" and array.size and array.min() >= 0 and array.max() <= 255:
            scaled = array
        else:
            scaled = array / 257.0
        grey = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "F":
        array = np.asarray(image, dtype=np.float64)
        finite = array[np.isfinite(array)]
        if finite.size and finite.min() >= 0 and finite.max() <= 1.0:
            array = array * 255.0
        grey = np.clip(np.rint(np.nan_to_num(array)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    return image.convert("RGB")


def load_image(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Load ``path`` as an 8-bit RGB image, EXIF orientation applied (see the module docs).

    Args:
        path: The image file.
        max_pixels: Refuse images with more pixels than this (decompression-bomb guard,
            checked from the header before decoding). ``None`` disables this check; Pillow's
            own hard limit (2 × ``PIL.Image.MAX_IMAGE_PIXELS``) still applies above it.
        background: RGB colour that transparent pixels are composited over.

    Raises:
        ImageLoadError: the file is missing, empty, not an image, truncated or corrupt, or
            too large. The message names the file and the problem.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ImageLoadError(path, "no such file") from None
    except OSError as exc:
        raise ImageLoadError(path, f"cannot access file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise ImageLoadError(path, "is a folder, not an image file")
    if size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)")
    return _decode(path, path, max_pixels, background)


def decode_image(
    data: bytes,
    name: str,
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """:func:`load_image` for an encoded image held in memory (a dataset's image cell).

    Args:
        data: The encoded file (JPEG, PNG…).
        name: What to call it in errors (e.g. ``"data[12]"``).
        max_pixels: See :func:`load_image`.
        background: See :func:`load_image`.

    Raises:
        ImageLoadError: empty, not an image, truncated or corrupt, or too large.
    """
    if not data:
        raise ImageLoadError(name, "empty image (0 bytes)")
    return _decode(io.BytesIO(data), name, max_pixels, background)


def _decode(
    source: Path | io.BytesIO,
    path: str | os.PathLike[str],
    max_pixels: int | None,
    background: tuple[int, int, int],
) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # NOTE: the size limit is ours (below); Pillow's global limit only warns/raises.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(source) as opened:
                width, height = opened.size
                if max_pixels is not None and width * height > max_pixels:
                    raise ImageLoadError(
                        path,
                        f"image is {width}×{height} = {width * height:,} pixels, over the "
                        f"limit of {max_pixels:,} (possible decompression bomb; pass a larger "
                        "max_pixels to load it)",
                    )
                opened.load()
                image = opened
                try:
                    image = ImageOps.exif_transpose(opened)
                except Exception as exc:  # broken EXIF must not lose the pixels
                    _logger.warning("ignoring unreadable EXIF orientation of %s: %s", path, exc)
                rgb = _to_rgb(image, background)
                return rgb.copy() if rgb is opened else rgb
    except ImageLoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageLoadError(path, f"decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise ImageLoadError(path, "not an image, or a format Pillow cannot read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageLoadError(path, f"truncated or corrupt image data ({exc})") from None


def iter_images(paths: Iterable[str | os.PathLike[str]], **kwargs: object) -> Iterator[LoadResult]:
    """Load each path with :func:`load_image`; failures are yielded, not raised.

    Args:
        paths: Image files.
        **kwargs: Passed to :func:`load_image`.
    """
    for path in paths:
        try:
            yield LoadResult(str(path), load_image(path, **kwargs), None)  # type: ignore[arg-type]
        except ImageLoadError as exc:
            _logger.warning("%s", exc)
            yield LoadResult(str(path), None, exc)
