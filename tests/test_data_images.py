"""Image loading: every real-world oddity converts as documented or fails with a clear error."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glamor_zoo.data.images import ImageLoadError, iter_images, list_images, load_image


def _save(image: Image.Image, path: Path, **kwargs: object) -> Path:
    image.save(path, **kwargs)
    return path


def test_rgb_passes_through(tmp_path: Path) -> None:
    array = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = _save(Image.fromarray(array), tmp_path / "x.png")
    out = load_image(path)
    assert out.mode == "RGB" and np.array_equal(np.asarray(out), array)


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (0, 0, 10, 20))  # blue stripe on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = _save(image, tmp_path / "rot.jpg", exif=exif, quality=95)
    out = load_image(path)
    assert out.size == (20, 40)
    top = np.asarray(out)[2, 10]
    assert top[2] > 200 and top[0] < 60  # the blue stripe is now at the top


def test_grayscale_becomes_rgb(tmp_path: Path) -> None:
    path = _save(Image.new("L", (4, 3), 77), tmp_path / "g.png")
    out = np.asarray(load_image(path))
    assert out.shape == (3, 4, 3) and (out == 77).all()


def test_rgba_composited_over_background(tmp_path: Path) -> None:
    image = Image.new("RGBA", (2, 1), (0, 0, 0, 0))
    image.putpixel((1, 0), (10, 20, 30, 255))
    path = _save(image, tmp_path / "a.png")
    out = np.asarray(load_image(path))
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 1].tolist() == [10, 20, 30]
    black = np.asarray(load_image(path, background=(0, 0, 0)))
    assert black[0, 0].tolist() == [0, 0, 0]


def test_palette_with_and_without_transparency(tmp_path: Path) -> None:
    palette = Image.new("P", (2, 1))
    palette.putpalette([200, 0, 0, 0, 200, 0] + [0] * 762)
    palette.putpixel((1, 0), 1)
    plain = np.asarray(load_image(_save(palette, tmp_path / "p.png")))
    assert plain[0, 0].tolist() == [200, 0, 0] and plain[0, 1].tolist() == [0, 200, 0]
    transparent = np.asarray(load_image(_save(palette, tmp_path / "pt.png", transparency=0)))
    assert transparent[0, 0].tolist() == [255, 255, 255]
    assert transparent[0, 1].tolist() == [0, 200, 0]


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = _save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), tmp_path / "c.jpg", quality=100)
    assert Image.open(path).mode == "CMYK"
    r, g, b = np.asarray(load_image(path))[4, 4].tolist()
    assert r > 200 and g < 60 and b < 60  # CMYK (0, 255, 255, 0) is red


def test_16bit_grey_is_scaled(tmp_path: Path) -> None:
    array = np.array([[0, 257 * 100, 65535]], dtype=np.uint16)
    path = _save(Image.fromarray(array), tmp_path / "d.png")
    assert Image.open(path).mode.startswith("I")
    out = np.asarray(load_image(path))
    assert out[0, :, 0].tolist() == [0, 100, 255]


def test_float_image_in_unit_range(tmp_path: Path) -> None:
    path = _save(
        Image.fromarray(np.array([[0.0, 0.5, 1.0]], dtype=np.float32)), tmp_path / "f.tiff"
    )
    assert load_image(path).getpixel((1, 0)) == (128, 128, 128)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("hello, I am text"), "not an image"),
        (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "not an image"),
    ],
    ids=["zero-byte", "text", "bad-png"],
)
def test_bad_files_raise_clear_errors(tmp_path: Path, make, reason: str) -> None:
    path = tmp_path / "bad.jpg"
    make(path)
    with pytest.raises(ImageLoadError, match=reason) as info:
        load_image(path)
    assert str(path) in str(info.value) and isinstance(info.value, ValueError)


def test_truncated_jpeg(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    noise = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    Image.fromarray(noise).save(buffer, format="JPEG")
    path = tmp_path / "t.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(ImageLoadError, match="truncated or corrupt"):
        load_image(path)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(ImageLoadError, match="no such file"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00"))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_png_header_only(100_000, 100_000))  # 10 gigapixels claimed in 60 bytes
    with pytest.raises(ImageLoadError, match="decompression bomb"):
        load_image(path)
    small = _save(Image.new("RGB", (20, 20)), tmp_path / "s.png")
    with pytest.raises(ImageLoadError, match="over the limit of 100"):
        load_image(small, max_pixels=100)
    assert load_image(small, max_pixels=None).size == (20, 20)


def test_batch_survives_bad_files(tmp_path: Path) -> None:
    good = _save(Image.new("RGB", (3, 3)), tmp_path / "a.png")
    bad = tmp_path / "b.png"
    bad.write_bytes(b"")
    results = list(iter_images([good, bad, good]))
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].image is None and "empty file" in str(results[1].error)


def test_list_images_skips_hidden_and_non_images(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("sub/a.PNG", "b.jpg", ".hidden/c.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.relative_to(tmp_path).as_posix() for p in list_images(tmp_path)] == [
        "b.jpg",
        "sub/a.PNG",
    ]
