"""MTCNN's cascade with its slow kernels replaced gives facenet-pytorch's pixels and faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from glamor_zoo.data.detection.mtcnn_cascade import (
    ExactMaxPool2d,
    area_resample,
    detect_faces,
    integral_image,
    resample_whole,
    with_exact_pools,
)
from glamor_zoo.data.images import load_image

SCENES = Path(__file__).parent / "data" / "scenes"


@pytest.mark.parametrize("size", [(24, 24), (48, 48), (12, 17), (60, 90), (37, 53), (5, 3)])
def test_whole_image_resampling_is_interpolate_area_exactly(size) -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 37, 53), dtype=torch.uint8)
    expected = F.interpolate(images.float(), size=size, mode="area")
    assert torch.equal(resample_whole(integral_image(images), size), expected)


def test_crops_are_resampled_as_interpolate_area_resamples_each_crop() -> None:
    torch.manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 60, 70), dtype=torch.uint8)
    # (image, top, bottom, left, right): larger and smaller than 24 px, at the borders
    crops = [(1, 5, 30, 7, 19), (0, 0, 60, 0, 70), (1, 40, 52, 60, 70), (0, 3, 4, 9, 11)]
    image, top, bottom, left, right = (torch.tensor(v) for v in zip(*crops, strict=True))
    got = area_resample(integral_image(images), image, top, bottom, left, right, (24, 24))
    for row, (i, t, b, le, r) in enumerate(crops):
        expected = F.interpolate(images[i : i + 1, :, t:b, le:r].float(), (24, 24), mode="area")
        assert torch.equal(got[row : row + 1], expected), crops[row]


@pytest.mark.parametrize("kernel, stride", [(2, 2), (3, 2)])
@pytest.mark.parametrize("shape", [(2, 5, 11, 13), (1, 3, 10, 10), (1, 2, 4, 7), (3, 4, 23, 22)])
def test_exact_max_pool_is_ceil_mode_max_pool(kernel, stride, shape) -> None:
    x = torch.randn(shape)
    expected = torch.nn.MaxPool2d(kernel, stride, ceil_mode=True)(x)
    assert torch.equal(ExactMaxPool2d(kernel, stride)(x), expected)


def test_nets_with_exact_pools_share_the_weights_and_leave_the_original_alone() -> None:
    from facenet_pytorch.models.mtcnn import RNet

    net = RNet(pretrained=False).eval()
    fast = with_exact_pools(net)
    assert isinstance(fast.pool1, ExactMaxPool2d) and isinstance(net.pool1, torch.nn.MaxPool2d)
    assert fast.conv1.weight is net.conv1.weight
    x = torch.randn(4, 3, 24, 24)
    with torch.no_grad():
        for a, b in zip(fast(x), net(x), strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["group.jpeg", "apollo11_crew.jpg", "surprised.jpeg"])
def test_the_cascade_finds_facenet_pytorchs_faces(name) -> None:
    from facenet_pytorch.models.mtcnn import MTCNN
    from facenet_pytorch.models.utils.detect_face import detect_face

    nets = MTCNN().eval()
    image = load_image(SCENES / name)
    with torch.no_grad():
        boxes, points = detect_face(
            [image], 20, nets.pnet, nets.rnet, nets.onet, [0.6, 0.7, 0.7], 0.709, "cpu"
        )
        got_boxes, got_points = detect_faces(
            [image],
            20,
            *(with_exact_pools(n) for n in (nets.pnet, nets.rnet, nets.onet)),
            [0.6, 0.7, 0.7],
            0.709,
        )
    assert len(got_boxes[0]) == len(boxes[0]) > 0
    np.testing.assert_allclose(got_boxes[0], np.asarray(boxes[0], dtype=np.float32), atol=1e-3)
    np.testing.assert_allclose(got_points[0], np.asarray(points[0], dtype=np.float32), atol=1e-3)


def test_the_detector_runs_the_cascade_on_images_up_to_its_limit(monkeypatch) -> None:
    import glamor_zoo.data.detection.mtcnn as mtcnn_module
    from glamor_zoo.data.detection import create_detector

    calls = []

    def spy(images, *args):
        calls.append(images[0].size)
        return detect_faces(images, *args)

    monkeypatch.setattr(mtcnn_module, "detect_faces", spy)
    image = load_image(SCENES / "surprised.jpeg")
    detector = create_detector("mtcnn")
    found = detector.detect([image])[0]
    assert calls == [image.size] and len(found) == 1
    monkeypatch.setattr(mtcnn_module, "CASCADE_MAX_PIXELS", image.width * image.height - 1)
    again = detector.detect([image])[0]  # facenet-pytorch's own kernels: the same face
    assert len(calls) == 1 and len(again) == 1
    np.testing.assert_allclose(again[0].box, found[0].box, atol=1e-3)
