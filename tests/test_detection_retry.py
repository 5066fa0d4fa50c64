"""The default detector looks again on padded copies where it finds no face: a face that fills
the frame (a selfie crop, an aligned-face dataset) is found; photos of scenes are untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glamor_zoo.data.detection import Face, FaceDetector, RetryingDetector, create_detector
from glamor_zoo.data.detection.retry import equalized, padded

SCENES = Path(__file__).resolve().parent / "data" / "scenes"


@pytest.fixture(scope="module")
def group() -> Image.Image:
    return Image.open(SCENES / "group.jpeg").convert("RGB")


@pytest.fixture(scope="module")
def plain() -> object:
    return create_detector("mtcnn", retry=False, workers=1)


@pytest.fixture(scope="module")
def retrying() -> object:
    return create_detector("mtcnn", workers=1)


def _tight_crops(image: Image.Image, detector: object) -> list[Image.Image]:
    """Each face of ``image`` cut out inside its detector box (15 % off each side) and enlarged
    to 160 pixels high: the face fills the frame, as in an aligned-face dataset (SFEW: 143×181)
    or a selfie crop."""
    crops = []
    for face in detector.detect_one(image):
        x1, y1, x2, y2 = face.box
        dx, dy = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
        crop = image.crop((round(x1 + dx), round(y1 + dy), round(x2 - dx), round(y2 - dy)))
        crops.append(crop.resize((round(160 * crop.width / crop.height), 160)))
    return crops


def test_mtcnn_retries_by_default_and_the_others_do_not() -> None:
    assert isinstance(create_detector("mtcnn"), RetryingDetector)
    assert not isinstance(create_detector("mtcnn", retry=False), RetryingDetector)
    assert not isinstance(create_detector("none"), RetryingDetector)
    settings = create_detector("mtcnn").settings()
    assert settings["name"] == "mtcnn" and settings["retry_pads"] == [0.25, 0.1]
    assert settings["retry_with"]["stage_thresholds"] == [0.4, 0.5, 0.7]
    assert settings["retry_rotations"] == [15.0, -15.0]
    assert settings["retry_mean_pads"] == [0.25] and settings["retry_mean_pad_min_face"] == 0.5
    with pytest.raises(ValueError, match="retry pad"):
        RetryingDetector(create_detector("none"), pads=[0])
    with pytest.raises(ValueError, match="retry mean_pads"):
        RetryingDetector(create_detector("none"), mean_pads=[1.5])


def test_generated_tight_crops_are_found(group: Image.Image, plain, retrying) -> None:
    crops = _tight_crops(group, plain)
    assert len(crops) >= 3
    found_plain = sum(bool(plain.detect_one(c)) for c in crops)
    found = retrying.detect(crops)
    assert all(found), "a face that fills the frame must be found"
    assert found_plain < len(crops), "the crops must be hard for MTCNN alone (else no test)"
    for crop, faces in zip(crops, found, strict=True):
        face = faces[0]
        assert face.score >= retrying.threshold
        # The box is in the crop's pixels: centred on it, about its size.
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        assert abs(cx - crop.width / 2) < 0.25 * crop.width
        assert abs(cy - crop.height / 2) < 0.3 * crop.height
        assert 0.6 * crop.width < face.width < 2.5 * crop.width
        assert face.landmarks is not None
        assert all(-crop.width < x < 2 * crop.width for x, _ in face.landmarks)


def test_scene_photos_keep_their_faces(group: Image.Image, plain, retrying) -> None:
    before, after = plain.detect_one(group), retrying.detect_one(group)
    assert [f.box for f in before] == [f.box for f in after]


def test_a_face_free_image_gives_no_face(retrying) -> None:
    rng = np.random.default_rng(0)
    noise = Image.fromarray(rng.integers(0, 256, (160, 140, 3), dtype=np.uint8))
    gradient = Image.fromarray(
        np.broadcast_to(
            np.linspace(0, 255, 140, dtype=np.uint8)[None, :, None], (160, 140, 3)
        ).copy()
    )
    assert retrying.detect([noise, gradient]) == [[], []]


def test_retry_copies() -> None:
    image = Image.new("RGB", (40, 20), (10, 20, 30))
    copy, border = padded(image, 0.25)
    assert border == 10 and copy.size == (60, 40)
    assert copy.getpixel((0, 0)) == (0, 0, 0) and copy.getpixel((10, 10)) == (10, 20, 30)
    rng = np.random.default_rng(0)
    dark = Image.fromarray(rng.integers(0, 40, (64, 64, 3), dtype=np.uint8))
    spread = np.asarray(equalized(dark))
    assert spread.max() > 200 and spread.min() < 10


def test_a_face_found_on_a_rotated_copy_comes_back_in_the_original_pixels() -> None:
    from glamor_zoo.data.detection import Face
    from glamor_zoo.data.detection.retry import _mapped_back

    image = Image.new("L", (200, 120), 0)
    image.putpixel((150, 30), 255)
    copy, border = padded(image.convert("RGB"), 0.1)
    rotated = copy.rotate(15, fillcolor=(0, 0, 0))
    y, x = np.unravel_index(np.argmax(np.asarray(rotated.convert("L"))), rotated.size[::-1])
    face = Face((x - 1.0, y - 1.0, x + 1.0, y + 1.0), 0.99, ((float(x), float(y)),) * 5)
    back = _mapped_back(face, border, 15, rotated.size)
    assert back.landmarks[0] == pytest.approx((150, 30), abs=1.0)
    assert back.box[0] < 150 < back.box[2] and back.box[1] < 30 < back.box[3]


class _SeesFacesOnGreyBorders(FaceDetector):
    """Finds one face (the image's centre half) only where the top-left pixel is mid-grey:
    stands in for a detector that needs the mean-colour border."""

    name = "grey-border"

    def __init__(self) -> None:
        super().__init__(threshold=0.9)
        self.seen: list[tuple[int, int, int]] = []

    def _detect_batch(self, images: list[Image.Image]) -> list[list[Face]]:
        out = []
        for image in images:
            corner = image.getpixel((0, 0))
            self.seen.append(corner)
            w, h = image.size
            box = (w / 4, h / 4, 3 * w / 4, 3 * h / 4)
            out.append([Face(box, 0.95)] if 100 <= corner[0] <= 140 else [])
        return out


def test_the_mean_colour_border_is_tried_last_and_mapped_back() -> None:
    image = Image.new("RGB", (80, 100), (120, 120, 120))
    copy, border = padded(image, 0.25, mean_fill=True)
    assert border == 25 and copy.getpixel((0, 0)) == (120, 120, 120)
    stand_in = _SeesFacesOnGreyBorders()
    detector = RetryingDetector(stand_in)
    [faces] = detector.detect([image])
    assert faces[0].box == (20, 25, 60, 75)  # found at once: no retry
    stand_in.seen.clear()
    dark = Image.new("RGB", (80, 100), (120, 120, 120))
    dark.paste((0, 0, 0), (0, 0, 10, 10))  # a black corner: every black-bordered copy fails
    [faces] = detector.detect([dark])
    assert stand_in.seen[-1] != (0, 0, 0) and stand_in.seen[:-1] == [(0, 0, 0)] * 7
    # The centre half of the 130×150 copy, in the original's pixels.
    assert faces[0].box == pytest.approx((7.5, 12.5, 72.5, 87.5))
    assert RetryingDetector(stand_in, mean_pads=()).detect([dark]) == [[]]
    # Only a face that fills the frame counts there: the face is 65 px wide, 0.9 × 80 is 72.
    assert RetryingDetector(stand_in, mean_pad_min_face=0.9).detect([dark]) == [[]]
    assert RetryingDetector(stand_in, mean_pad_min_face=0.9).detect([image]) != [[]]
