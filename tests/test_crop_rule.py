"""The crop the model sees around a detector's box (margin, square) is part of its spec, applies
to detector boxes only (not to datasets whose images already are faces), and defaults to the
paper's box crop, so existing models keep their outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from glamor_zoo.data.datasets import build_dataset
from glamor_zoo.data.transforms import GlamorTransform, crop_face, face_region
from glamor_zoo.spec import ModelSpec, SpecError


def test_face_region_squares_then_grows() -> None:
    assert face_region((10, 20, 30, 60)) == (10, 20, 30, 60)
    assert face_region((10, 20, 30, 60), square=True) == (0, 20, 40, 60)
    assert face_region((10, 20, 30, 60), margin=0.25) == (5, 10, 35, 70)
    assert face_region((10, 20, 30, 60), margin=0.25, square=True) == (-10, 10, 50, 70)


def test_default_crop_is_the_box_and_a_square_at_the_border_is_padded_black() -> None:
    image = torch.full((3, 40, 60), 200, dtype=torch.uint8)
    box = (0, 0, 20, 40)
    plain = crop_face(image, box, (8, 8))
    assert torch.allclose(plain, torch.full_like(plain, 200 / 255))
    square = crop_face(image, box, (8, 8), square=True)
    # The square is 40 wide, centred on x = 10: its left quarter lies outside the image.
    assert square[:, :, :2].max() == 0 and square[:, :, 3:].min() > 0.7
    assert torch.equal(crop_face(image, None, (8, 8), square=True), torch.zeros(3, 8, 8))


def test_the_spec_carries_the_crop_rule_and_temperature() -> None:
    spec = ModelSpec.build(inputs="face", face_size=(48, 48))
    assert (spec.face_margin, spec.face_square, spec.temperature) == (0.0, False, 1.0)
    tuned = spec.replace(face_margin=0.1, face_square=True, temperature=1.7)
    again = ModelSpec.from_dict(tuned.to_dict())
    assert (again.face_margin, again.face_square, again.temperature) == (0.1, True, 1.7)
    transform = GlamorTransform(again)
    assert (transform.face_margin, transform.face_square) == (0.1, True)
    with pytest.raises(SpecError, match="face_margin"):
        spec.replace(face_margin=2)
    with pytest.raises(SpecError, match="temperature"):
        spec.replace(temperature=0)


def test_datasets_of_face_images_ignore_the_crop_rule(tmp_path: Path) -> None:
    for name in ("angry", "happy"):
        (tmp_path / "train" / name).mkdir(parents=True)
        Image.new("L", (48, 48), 180).save(tmp_path / "train" / name / "Training_1.jpg")
    cfg = ModelSpec.build(
        inputs="face", face_size=(48, 48), face_square=True, face_margin=0.3
    ).preprocess_cfg()
    dataset = build_dataset("fer2013", str(tmp_path), split="train", preprocess_cfg=cfg)
    face = dataset[0]["face"]
    # No black border: the whole image is the face.
    assert face.min() > 0.3
