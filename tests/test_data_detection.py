"""Face detectors on real photos: every face a person sees, and no phantom faces."""

from __future__ import annotations

import io
import os
import sys
import types
import urllib.error
import zipfile
from pathlib import Path

import pytest
import torch

import glamor_zoo
from glamor_zoo.data.detection import (
    DETECTORS,
    Face,
    best_face,
    create_detector,
    list_detectors,
)
from glamor_zoo.data.detection.mtcnn import DEFAULT_THRESHOLD
from glamor_zoo.data.images import load_image
from glamor_zoo.registry import UnknownComponentError

SCENES = Path(__file__).parent / "data" / "scenes"
MMOD_MODEL = Path(__file__).parents[1].parent / "shared/data/detectors/mmod_human_face_detector.dat"

# The faces a person sees (x1, y1, x2, y2 in the test copies' pixels), checked by eye.
FACES: dict[str, list[tuple[int, int, int, int]]] = {
    "group.jpeg": [
        (80, 122, 146, 210),
        (159, 10, 213, 79),
        (308, 42, 368, 116),
        (473, 143, 542, 233),
    ],
    "apollo11_crew.jpg": [(126, 164, 173, 228), (267, 79, 312, 139), (411, 170, 459, 236)],
    "glamor_sample_2.jpg": [(211, 127, 274, 215), (427, 70, 503, 177)],
    "glamor_sample_3.jpg": [(264, 53, 355, 183), (-9, -5, 62, 120)],  # main face, edge profile
    "surprised.jpeg": [(333, 150, 497, 356)],
}
# The fifth person in group.jpeg shows only a chin at the top edge, around here:
GROUP_CUT_OFF_FACE = (480, 0, 570, 35)


def _inside(face: Face, box: tuple[float, float, float, float]) -> bool:
    cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
    return box[0] <= cx <= box[2] and box[1] <= cy <= box[3]


def match(faces: list[Face], truth: list[tuple[int, int, int, int]]) -> tuple[set[int], list[Face]]:
    """Indices of the true faces found, and the detections that match no true face (phantoms)."""
    found: set[int] = set()
    phantoms = []
    for face in faces:
        hits = [i for i, box in enumerate(truth) if _inside(face, box)]
        if hits:
            found.update(hits)
        else:
            phantoms.append(face)
    return found, phantoms


@pytest.fixture(scope="module")
def scenes() -> dict[str, object]:
    return {name: load_image(SCENES / name) for name in FACES}


@pytest.fixture(scope="module")
def mtcnn_low(scenes) -> dict[str, list[Face]]:
    """MTCNN at a low threshold, one batched call over all scenes (two share a size)."""
    detector = create_detector("mtcnn", threshold=0.5)
    return dict(zip(scenes, detector.detect(list(scenes.values())), strict=True))


def test_registry() -> None:
    assert {"mtcnn", "retinaface", "dlib-hog", "dlib-mmod"} <= set(list_detectors())
    assert glamor_zoo.list_components("detector") == list_detectors()
    assert DETECTORS.entry_point_group == "glamor_zoo.detector"
    with pytest.raises(UnknownComponentError, match="dlib-mmod"):
        create_detector("haar")


# Backend options that let each built-in detector run here (dlib-mmod needs its model file).
_OPTIONS = {"dlib-mmod": {"model_path": str(MMOD_MODEL)}}


@pytest.mark.parametrize("name", list_detectors())
def test_every_registered_detector_builds_and_detects(name: str, scenes) -> None:
    # NOTE: a backend whose optional extra is not installed must say which one to install.
    image = scenes["surprised.jpeg"]
    if name == "dlib-mmod" and not MMOD_MODEL.is_file():
        pytest.skip(f"dlib-mmod's model file is read from {MMOD_MODEL}, absent here")
    try:
        (faces,) = create_detector(name, **_OPTIONS.get(name, {})).detect([image])
    except ImportError as exc:
        assert "pip install" in str(exc)
        return
    assert faces and all(isinstance(f, Face) for f in faces)
    for face in faces:
        x1, y1, x2, y2 = face.box
        assert 0 <= x1 < x2 <= image.width and 0 <= y1 < y2 <= image.height


def test_face_type() -> None:
    faces = [Face((0, 0, 10, 10), 0.5), Face((1, 2, 5, 8), 0.9, ((1.0, 2.0),) * 5)]
    assert best_face(faces) is faces[1] and best_face([]) is None
    assert faces[1].width == 4 and faces[1].height == 6
    assert faces[1].to_dict()["landmarks"][0] == [1.0, 2.0]


@pytest.mark.parametrize("name", list(FACES))
def test_mtcnn_finds_every_face_and_no_phantom(name: str, mtcnn_low) -> None:
    faces = [f for f in mtcnn_low[name] if f.score >= DEFAULT_THRESHOLD]
    found, phantoms = match(faces, FACES[name])
    assert found == set(range(len(FACES[name]))), f"missed faces in {name}: {faces}"
    assert not phantoms, f"phantom faces in {name}: {phantoms}"
    assert all(f.landmarks is not None and len(f.landmarks) == 5 for f in faces)
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_mtcnn_threshold_is_chosen_on_evidence(mtcnn_low) -> None:
    every = [f for faces in mtcnn_low.values() for f in faces]
    real = [f for name, faces in mtcnn_low.items() for f in faces if match([f], FACES[name])[0]]
    phantoms = [f for name, faces in mtcnn_low.items() for f in match(faces, FACES[name])[1]]
    assert phantoms, "the known false positive (glamor_sample_2.jpg, ~0.88) is seen at 0.5"
    assert max(f.score for f in phantoms) < DEFAULT_THRESHOLD <= min(f.score for f in real)
    assert len(every) == len(real) + len(phantoms)
    assert not match(mtcnn_low["group.jpeg"], [GROUP_CUT_OFF_FACE])[0]  # chin only: not found


def test_mtcnn_batches_equal_individual_calls(scenes, mtcnn_low) -> None:
    detector = create_detector("mtcnn", threshold=0.5)
    single = detector.detect_one(scenes["glamor_sample_3.jpg"])
    batched = mtcnn_low["glamor_sample_3.jpg"]
    assert len(single) == len(batched)
    for a, b in zip(single, batched, strict=True):
        assert a.box == pytest.approx(b.box, abs=0.5) and a.score == pytest.approx(
            b.score, abs=1e-4
        )


# NOTE: HOG is a frontal-face detector: it misses the lowered head in group.jpeg (score -0.47)
# and the edge profile in glamor_sample_3.jpg; measured, not a bug of the adapter. The face in
# surprised.jpeg scores 0.06, at the threshold's edge: it may go either way with another JPEG
# decoder, so it is not required.
HOG_MISSES = {"group.jpeg": {2}, "glamor_sample_3.jpg": {1}}
HOG_BORDERLINE = {"surprised.jpeg": {0}}


@pytest.mark.parametrize("name", list(FACES))
def test_dlib_hog(name: str, scenes) -> None:
    pytest.importorskip("dlib", reason="dlib-hog needs the dlib extra")
    faces = create_detector("dlib-hog").detect([scenes[name]])[0]
    found, phantoms = match(faces, FACES[name])
    expected = set(range(len(FACES[name]))) - HOG_MISSES.get(name, set())
    assert expected - HOG_BORDERLINE.get(name, set()) <= found <= expected, faces
    assert not phantoms, faces
    assert all(f.landmarks is None for f in faces)


def test_dlib_mmod_one_photo(scenes) -> None:
    pytest.importorskip("dlib", reason="dlib-mmod needs the dlib extra")
    if not MMOD_MODEL.is_file():
        pytest.skip(f"MMOD model file not found at {MMOD_MODEL}")
    # upsample=0 keeps this test at a few seconds; both faces here are large enough.
    detector = create_detector("dlib-mmod", model_path=MMOD_MODEL, upsample=0)
    faces = detector.detect([scenes["glamor_sample_2.jpg"]])[0]
    found, phantoms = match(faces, FACES["glamor_sample_2.jpg"])
    assert found == {0, 1} and not phantoms, faces
    assert detector.settings()["model"] == MMOD_MODEL.name


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("GLAMOR_ZOO_TEST_MMOD_SWEEP"),
    reason="MMOD takes 30-100 s per photo on a CPU; set GLAMOR_ZOO_TEST_MMOD_SWEEP=1 to run",
)
def test_dlib_mmod_sweep(scenes) -> None:
    pytest.importorskip("dlib")
    detector = create_detector("dlib-mmod", model_path=MMOD_MODEL, threshold=0.0)
    for name, image in scenes.items():
        found, phantoms = match(detector.detect([image])[0], FACES[name])
        assert found == set(range(len(FACES[name]))) and not phantoms, name


def test_dlib_mmod_needs_a_model_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pytest.importorskip("dlib")
    monkeypatch.delenv("GLAMOR_ZOO_MMOD_MODEL", raising=False)
    with pytest.raises(FileNotFoundError, match="model_path"):
        create_detector("dlib-mmod")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_detector("dlib-mmod", model_path=tmp_path / "missing.dat")
    bad = tmp_path / "bad.dat"
    bad.write_text("not a model")
    with pytest.raises(ValueError, match="not a dlib MMOD model"):
        create_detector("dlib-mmod", model_path=bad)


def test_retinaface_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "retinaface", None)
    with pytest.raises(ImportError, match=r"glamor-zoo\[retinaface\]"):
        create_detector("retinaface")


class _FakeRetinaModel:
    """Stands in for retinaface-pytorch's Model: same constructor and predict_jsons contract."""

    def __init__(self, max_size: int, device: str) -> None:
        self.state: dict[str, torch.Tensor] = {}

    def load_state_dict(self, state_dict: dict[str, torch.Tensor]) -> None:
        self.state = state_dict

    def eval(self) -> None:
        pass

    def predict_jsons(self, image, confidence_threshold: float, nms_threshold: float):
        return [
            {"bbox": [10, 20, 50, 70], "score": 0.99, "landmarks": [[1, 2]] * 5},
            {"bbox": [5, 5, 9, 9], "score": 0.6, "landmarks": [[3, 4]] * 5},
        ]


@pytest.fixture
def fake_retinaface(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = types.SimpleNamespace(
        url="https://example.invalid/retinaface.zip", model=_FakeRetinaModel
    )
    package = types.ModuleType("retinaface")
    module = types.ModuleType("retinaface.pre_trained_models")
    module.models = {"resnet50_2020-07-20": spec}
    package.pre_trained_models = module
    monkeypatch.setitem(sys.modules, "retinaface", package)
    monkeypatch.setitem(sys.modules, "retinaface.pre_trained_models", module)


def test_retinaface_offline_error_and_local_weights(
    fake_retinaface, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, scenes
) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="weights='PATH'"):
        create_detector("retinaface")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        create_detector("retinaface", weights=tmp_path / "nope.pth")

    state = {"w": torch.arange(3.0)}
    pth = tmp_path / "retinaface.pth"
    torch.save(state, pth)
    archive = tmp_path / "retinaface_release.zip"  # the release file: a zip holding the .pth
    with zipfile.ZipFile(archive, "w") as handle:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        handle.writestr("retinaface.pth", buffer.getvalue())
    for weights in (pth, archive):
        detector = create_detector("retinaface", weights=weights, threshold=0.7)
        assert torch.equal(detector._model.state["w"], state["w"])
        faces = detector.detect_one(scenes["surprised.jpeg"])
        assert [f.box for f in faces] == [(10.0, 20.0, 50.0, 70.0)]  # 0.6 < threshold
        assert faces[0].landmarks == ((1.0, 2.0),) * 5
