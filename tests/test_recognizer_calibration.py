"""The recogniser applies the spec's temperature and crop rule, keeps the raw logits, and marks
faces below a confidence threshold as uncertain without changing their label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import glamor_zoo
from glamor_zoo.data.transforms import GlamorTransform, to_uint8_tensor
from glamor_zoo.inference import EmotionRecognizer
from glamor_zoo.inference.recognizer import _face_from_region
from glamor_zoo.inference.tables import records_to_csv, summarize_record
from glamor_zoo.spec import get_model_spec, set_model_spec

SCENES = Path(__file__).resolve().parent / "data" / "scenes"


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    model = glamor_zoo.create_model("face_resnet26.fer2013", pretrained=True)
    return model.eval()


def _softmax(values: list[float], temperature: float) -> np.ndarray:
    x = np.asarray(values) / temperature
    e = np.exp(x - x.max())
    return e / e.sum()


def test_temperature_divides_the_logits_and_keeps_the_label(model: torch.nn.Module) -> None:
    image = Image.open(SCENES / "surprised.jpeg").convert("RGB")
    plain = EmotionRecognizer(model, detector="none", fast=False)(image).faces[0]
    hot = EmotionRecognizer(model, detector="none", fast=False, temperature=2.5)(image).faces[0]
    assert hot.logits == pytest.approx(plain.logits)
    assert hot.label == plain.label
    expected = _softmax(list(hot.logits.values()), 2.5)
    assert list(hot.probabilities.values()) == pytest.approx(expected.tolist(), abs=1e-6)
    assert hot.confidence < plain.confidence
    # The spec's temperature is the default.
    set_model_spec(model, {"temperature": 2.5})
    try:
        from_spec = EmotionRecognizer(model, detector="none", fast=False)
        assert from_spec.temperature == 2.5
        assert from_spec(image).faces[0].probabilities == pytest.approx(hot.probabilities)
    finally:
        set_model_spec(model, {"temperature": 1.0})


def test_faces_below_min_confidence_are_uncertain(model: torch.nn.Module) -> None:
    image = Image.open(SCENES / "group.jpeg").convert("RGB")
    strict = EmotionRecognizer(model, fast=False, min_confidence=0.999)(image)
    assert strict.faces and all(face.uncertain for face in strict.faces)
    relaxed = EmotionRecognizer(model, fast=False, min_confidence=0.0)(image)
    assert [f.label for f in relaxed.faces] == [f.label for f in strict.faces]
    assert not any(face.uncertain for face in relaxed.faces)
    record = {
        "input": "g.jpg",
        "width": 1,
        "height": 1,
        "faces": [f.to_dict() for f in strict.faces],
    }
    assert record["faces"][0]["uncertain"] is True
    assert "uncertain" in summarize_record(record)
    header, row = records_to_csv(
        [record], EmotionRecognizer(model, fast=False).labels
    ).splitlines()[:2]
    assert header.split(",")[-2] == "uncertain" and row.split(",")[-2] == "1"
    plain = EmotionRecognizer(model, fast=False)(image).faces[0].to_dict()
    assert "uncertain" not in plain
    with pytest.raises(ValueError, match="min_confidence"):
        EmotionRecognizer(model, fast=False, min_confidence=1.5)


@pytest.mark.parametrize(
    "rule", [{}, {"face_square": True}, {"face_square": True, "face_margin": 0.2}]
)
def test_the_region_cut_equals_the_crop_on_the_whole_image(rule: dict) -> None:
    spec = get_model_spec(glamor_zoo.create_model("face_resnet26")).replace(**rule)
    transform = GlamorTransform(spec)
    image = Image.open(SCENES / "group.jpeg").convert("RGB")
    pixels = to_uint8_tensor(image)
    for box in [
        (100.4, 50.6, 180.2, 160.9),
        (-20.3, 10.0, 40.7, 90.2),
        (600.0, 380.5, 700.0, 440.0),
    ]:
        assert torch.allclose(_face_from_region(transform, image, box), transform.face(pixels, box))
