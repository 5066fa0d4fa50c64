"""The MTCNN detector gives facenet-pytorch's own results; its cheaper copies for large faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from glamor_zoo.data.detection import create_detector
from glamor_zoo.data.images import load_image

SCENES = Path(__file__).parent / "data" / "scenes"


@pytest.fixture(scope="module")
def facenet_mtcnn():
    from facenet_pytorch.models.mtcnn import MTCNN

    return MTCNN(keep_all=True, post_process=False, thresholds=[0.6, 0.7, 0.7])


@pytest.mark.parametrize("name", ["group.jpeg", "glamor_sample_3.jpg", "apollo11_crew.jpg"])
def test_detector_gives_facenet_pytorchs_boxes_scores_and_landmarks(name, facenet_mtcnn) -> None:
    image = load_image(SCENES / name)
    boxes, probs, points = facenet_mtcnn.detect(image, landmarks=True)
    faces = create_detector("mtcnn", threshold=0.0).detect([image])[0]
    assert len(faces) == len(boxes) > 0
    order = np.argsort(-probs.astype(float), kind="stable")  # detect() lists the best first
    boxes, probs, points = boxes[order], probs[order], points[order]
    np.testing.assert_allclose([f.box for f in faces], boxes.astype(float), atol=1e-3)
    np.testing.assert_allclose([f.score for f in faces], probs.astype(float), atol=1e-5)
    np.testing.assert_allclose([f.landmarks for f in faces], points.astype(float), atol=1e-3)


def test_a_detector_for_large_faces_keeps_the_coarser_scales_of_the_pyramid() -> None:
    detector = create_detector("mtcnn", retry=False)  # MTCNN's own pyramid
    assert detector.searching_faces_from(10) is detector
    assert detector.searching_faces_from(28) is detector  # the next scale needs 20 / 0.709
    cheaper = detector.searching_faces_from(300)
    steps = np.log(cheaper.min_face_size / 20) / np.log(1 / 0.709)
    assert steps == pytest.approx(round(steps)) and round(steps) == 7  # 20 / 0.709**7 = 222 px
    assert cheaper.min_face_size <= 300 < cheaper.min_face_size / 0.709
    assert detector.min_face_size == 20 and "min_face_size" in cheaper.settings()


def test_the_cheaper_detector_finds_a_large_face_as_the_full_pyramid_does() -> None:
    image = load_image(SCENES / "surprised.jpeg")  # one face of about 160 px
    detector = create_detector("mtcnn")
    (full,) = detector.detect_one(image)
    faces = detector.searching_faces_from(full.width / 2).detect_one(image)
    assert len(faces) == 1
    x1, y1, x2, y2 = full.box
    a1, b1, a2, b2 = faces[0].box
    inter = max(0, min(x2, a2) - max(x1, a1)) * max(0, min(y2, b2) - max(y1, b1))
    union = full.width * full.height + faces[0].width * faces[0].height - inter
    assert inter / union >= 0.9


def test_detecting_in_threads_finds_the_faces_one_thread_finds() -> None:
    # group.jpeg (1280×853) on a 640-px copy: four images at once, then each face's refinement
    # crop at full resolution, in two threads; the same faces as one batch in one thread.
    images = [load_image(SCENES / name) for name in ("group.jpeg", "apollo11_crew.jpg")] * 2
    one = create_detector("mtcnn", max_side=640, workers=1)
    threaded = create_detector("mtcnn", max_side=640)
    assert threaded.workers == 2  # the default
    expected, found = one.detect(images), threaded.detect(images)
    assert [len(f) for f in found] == [len(f) for f in expected] and len(found[0]) >= 4
    for faces, reference in zip(found, expected, strict=True):
        np.testing.assert_allclose([f.box for f in faces], [f.box for f in reference], atol=1e-2)


@pytest.mark.parametrize("size", [(19, 300), (300, 12), (4, 4)])
def test_an_image_smaller_than_the_smallest_face_holds_no_face(size: tuple[int, int]) -> None:
    # facenet-pytorch's detect_face fails on such an image (no pyramid level: an empty cat).
    from PIL import Image

    image = load_image(SCENES / "group.jpeg").resize(size)
    detector = create_detector("mtcnn")
    assert detector.detect([image, image]) == [[], []]
    # At the smallest face's size the pyramid has one level and runs.
    assert isinstance(detector.detect_one(Image.new("RGB", (20, 20)).convert("RGB")), list)
