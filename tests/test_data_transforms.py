"""The paper's preprocessing, checked against the official pipeline's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from glamor_zoo.data.transforms import (
    PAPER_PREPROCESS_CFG,
    GlamorTransform,
    affine,
    augment_face,
    center_crop_context,
    clip_box,
    crop_face,
    face_augment_params,
    mask_context,
    random_crop_context,
    resize_context,
    rotate,
)
from glamor_zoo.spec import get_model_spec


def _tf_resize_bilinear(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """TF2 ``tf.image.resize(bilinear)``: half-pixel centres, no antialiasing, (H, W, C) float."""
    in_h, in_w = image.shape[:2]
    out_h, out_w = size

    def axis(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        src = np.clip(src, 0, n_in - 1)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, src - lo

    y0, y1, wy = axis(out_h, in_h)
    x0, x1, wx = axis(out_w, in_w)
    top = image[y0][:, x0] * (1 - wx)[None, :, None] + image[y0][:, x1] * wx[None, :, None]
    bottom = image[y1][:, x0] * (1 - wx)[None, :, None] + image[y1][:, x1] * wx[None, :, None]
    return top * (1 - wy)[:, None, None] + bottom * wy[:, None, None]


@pytest.fixture
def photo() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (150, 200, 3), dtype=np.uint8)


def test_eval_pipeline_matches_official_arithmetic(photo: np.ndarray) -> None:
    box = (-5.2, 30.4, 60.6, 90.0)  # dlib boxes may start outside the image
    out = GlamorTransform(PAPER_PREPROCESS_CFG, train=False)(Image.fromarray(photo), box)

    x1, y1, x2, y2 = 0, 30, 61, 90  # rounded, clipped
    face_ref = _tf_resize_bilinear(photo[y1:y2, x1:x2].astype(np.float64), (96, 96)) / 255
    masked = photo.copy()
    masked[y1:y2, x1:x2] = 0
    context_ref = _tf_resize_bilinear(masked.astype(np.float64) / 255, (128, 171))[8:120, 29:141]

    assert out["face"].shape == (3, 96, 96) and out["context"].shape == (3, 112, 112)
    np.testing.assert_allclose(out["face"].permute(1, 2, 0).numpy(), face_ref, atol=3e-5)
    np.testing.assert_allclose(out["context"].permute(1, 2, 0).numpy(), context_ref, atol=3e-5)


@pytest.mark.parametrize("box", [None, (0, 0, 0, 0), (500, 500, 600, 600), (50, 50, 50, 80)])
def test_no_face_gives_zero_face_and_unmasked_context(photo: np.ndarray, box) -> None:
    tensor = torch.from_numpy(photo).permute(2, 0, 1)
    assert clip_box(box, 200, 150) is None
    face = crop_face(tensor, box)
    assert face.shape == (3, 96, 96) and not face.any()
    assert torch.equal(mask_context(tensor, box), tensor)


def test_mask_zeroes_exactly_the_box() -> None:
    image = torch.full((3, 10, 12), 9, dtype=torch.uint8)
    masked = mask_context(image, (2, 3, 5, 7))
    assert int((masked == 0).sum()) == 3 * 3 * 4
    assert not masked[:, 3:7, 2:5].any() and image.all()  # the input is left untouched


def test_context_crops() -> None:
    resized = resize_context(torch.rand(3, 50, 60), (128, 171))
    assert resized.shape == (3, 128, 171)
    assert torch.equal(center_crop_context(resized), resized[:, 8:120, 29:141])
    offsets = set()
    for seed in range(20):
        crop = random_crop_context(resized, (112, 112), torch.Generator().manual_seed(seed))
        # Locate the crop by its first pixel, then check the whole window.
        hits = (resized[0, :17, :60] == crop[0, 0, 0]).nonzero().tolist()
        top, left = next(
            (t, le) for t, le in hits if torch.equal(resized[:, t : t + 112, le : le + 112], crop)
        )
        offsets.add((top, left))
    assert len(offsets) > 10, "crop positions vary with the generator"


def test_rotation_is_exact_for_right_angles_and_fills_from_edges() -> None:
    image = torch.rand(3, 8, 8)
    assert torch.allclose(
        rotate(image, 90), torch.rot90(image, 1, dims=(1, 2)), atol=1e-5
    ) or torch.allclose(rotate(image, 90), torch.rot90(image, -1, dims=(1, 2)), atol=1e-5)
    constant = torch.full((1, 16, 16), 0.7)
    assert torch.allclose(rotate(constant, 17.0), constant, atol=1e-6)  # corners: nearest edge


def test_face_augmentation_flips_and_rotates_within_20_degrees() -> None:
    face = torch.rand(3, 32, 32)
    flipped = augment_face(face, hflip=1.0, rotate_degrees=0.0)
    assert torch.equal(flipped, face.flip(-1))
    angles = set()
    for seed in range(30):
        g = torch.Generator().manual_seed(seed)
        flip_draw, angle_draw = torch.rand(
            2, generator=torch.Generator().manual_seed(seed)
        ).tolist()
        angles.add(round((2 * angle_draw - 1) * 20))
        out = augment_face(face, 0.5, 20.0, g)
        expected = face.flip(-1) if flip_draw < 0.5 else face
        assert torch.allclose(out, rotate(expected, (2 * angle_draw - 1) * 20), atol=1e-6)
    assert min(angles) >= -20 and max(angles) <= 20 and len(angles) > 10


def test_affine_zooms_and_shifts_by_the_given_amounts() -> None:
    ramp = torch.arange(32, dtype=torch.float32).expand(1, 32, 32).clone()  # value = column
    zoomed = affine(ramp, zoom=2.0)
    torch.testing.assert_close(zoomed[0, 16, 9:23].diff(), torch.full((13,), 0.5))  # 2× larger
    shifted = affine(ramp, shift=(0.25, 0.0))  # right by a quarter of the width: 8 pixels
    torch.testing.assert_close(shifted[0, :, 8:], ramp[0, :, :24], atol=1e-4, rtol=0)
    assert torch.equal(shifted[0, :, :8], torch.zeros(32, 8))  # the edge pixel repeated
    assert affine(ramp) is ramp and torch.equal(affine(ramp, 30.0), rotate(ramp, 30.0))


def test_face_augmentation_with_zoom_and_shift() -> None:
    face = torch.rand(1, 48, 48)
    zooms, shifts = set(), set()
    for seed in range(20):
        draws = torch.Generator().manual_seed(seed)
        flip, angle = torch.rand(2, generator=draws).tolist()
        zoom, dx, dy = torch.rand(3, generator=draws).tolist()
        g = torch.Generator().manual_seed(seed)
        out = augment_face(face, 0.5, 10.0, g, scale=(0.9, 1.1), translate=0.1)
        expected = affine(
            face.flip(-1) if flip < 0.5 else face,
            (2 * angle - 1) * 10.0,
            0.9 + 0.2 * zoom,
            ((2 * dx - 1) * 0.1, (2 * dy - 1) * 0.1),
        )
        assert torch.equal(out, expected)
        zooms.add(round(0.9 + 0.2 * zoom, 2))
        shifts.add(round((2 * dx - 1) * 0.1, 2))
    assert min(zooms) >= 0.9 and max(zooms) <= 1.1 and len(zooms) > 8
    assert min(shifts) >= -0.1 and max(shifts) <= 0.1 and len(shifts) > 8
    # Without zoom or shift, the flip-and-rotation stream is the one it always was.
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    assert torch.equal(
        augment_face(face, 0.5, 20.0, g1, scale=(1.0, 1.0), translate=0.0),
        augment_face(face, 0.5, 20.0, g2),
    )


def test_deep_emotion_training_transform_uses_its_zoom_and_shift() -> None:
    import glamor_zoo

    cfg = get_model_spec(glamor_zoo.create_model("deep_emotion")).preprocess_cfg()
    assert cfg["face_augment"]["scale"] == [0.9, 1.1] and cfg["face_augment"]["translate"] == 0.1
    image = torch.randint(0, 256, (3, 48, 48), dtype=torch.uint8)
    box = (0, 0, 48, 48)
    full = GlamorTransform(cfg, train=True)(image, box, torch.Generator().manual_seed(0))
    flip_rotate = {**cfg, "face_augment": {"hflip": 0.5, "rotate_degrees": 10.0}}
    partial = GlamorTransform(flip_rotate, train=True)(image, box, torch.Generator().manual_seed(0))
    assert full["face"].shape == (1, 48, 48) and not torch.equal(full["face"], partial["face"])
    evaluation = GlamorTransform(cfg, train=False)
    assert torch.equal(evaluation(image, box)["face"], evaluation(image, box)["face"])


@pytest.mark.parametrize(
    ("augment", "message"),
    [
        ({"hflip": 1.5}, r"'hflip'.*\[0\.0, 1\.0\]"),
        ({"rotate_degrees": -3}, "'rotate_degrees'"),
        ({"scale": [1.1, 0.9]}, "low <= high"),
        ({"scale": 1.1}, r"'scale'\] must be \[low, high\]"),
        ({"translate": "0.1"}, "'translate'"),
        ({"zoom": 1.2}, r"unknown face_augment key.*zoom"),
    ],
)
def test_bad_face_augment_names_the_key(augment: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        face_augment_params(augment)
    with pytest.raises(ValueError, match=message):
        GlamorTransform({**PAPER_PREPROCESS_CFG, "face_augment": augment}, train=True)
    assert face_augment_params(None)["scale"] == (1.0, 1.0)


def test_training_is_deterministic_given_the_generator(photo: np.ndarray) -> None:
    transform = GlamorTransform(PAPER_PREPROCESS_CFG, train=True)
    image, box = torch.from_numpy(photo).permute(2, 0, 1), (40, 20, 120, 110)
    a = transform(image, box, torch.Generator().manual_seed(3))
    b = transform(image, box, torch.Generator().manual_seed(3))
    c = transform(image, box, torch.Generator().manual_seed(4))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    evaluation = GlamorTransform(PAPER_PREPROCESS_CFG, train=False)
    assert torch.equal(evaluation(image, box)["context"], evaluation(image, box)["context"])


def test_timm_backbone_normalisation_comes_from_the_model() -> None:
    import glamor_zoo

    cfg = get_model_spec(
        glamor_zoo.create_model("glamor_test", backbone="resnet18")
    ).preprocess_cfg()
    assert cfg["face_mean"] != [0.0, 0.0, 0.0]
    image = torch.full((3, 40, 40), 255, dtype=torch.uint8)
    out = GlamorTransform(cfg)(image, (0, 0, 40, 40))
    expected = (1 - torch.tensor(cfg["face_mean"])) / torch.tensor(cfg["face_std"])
    assert torch.allclose(out["face"][:, 5, 5], expected, atol=1e-5)
    assert out["face"].shape[1:] == tuple(cfg["face_size"])
    assert out["context"].shape[1:] == tuple(cfg["context_size"])


def test_face_only_grayscale_config() -> None:
    cfg = {
        "inputs": "face",
        "in_chans": 1,
        "face_size": [48, 48],
        "face_mean": [0.5],
        "face_std": [0.5],
    }
    image = torch.zeros(3, 48, 48, dtype=torch.uint8)
    image[0] = 255  # pure red → luma 0.299
    out = GlamorTransform(cfg, train=False)(image, (0, 0, 48, 48))
    assert set(out) == {"face"} and out["face"].shape == (1, 48, 48)
    assert torch.allclose(out["face"], torch.full((1, 48, 48), (0.299 - 0.5) / 0.5), atol=1e-5)


def test_visible_face_context_and_custom_sizes() -> None:
    cfg = {"mask_face_in_context": False, "context_size": [56, 56], "face_size": [32, 32]}
    transform = GlamorTransform(cfg)
    assert transform.context_resize == (64, 86) and transform.context_crop_offset == (4, 15)
    image = torch.full((3, 30, 30), 255, dtype=torch.uint8)
    out = transform(image, (0, 0, 30, 30))
    assert out["context"].min() == 1.0 and out["face"].shape == (3, 32, 32)


def test_bad_config_and_inputs_are_reported() -> None:
    with pytest.raises(ValueError, match="inputs"):
        GlamorTransform({"inputs": "faces"})
    with pytest.raises(ValueError, match="in_chans"):
        GlamorTransform({"in_chans": 4})
    with pytest.raises(TypeError, match="uint8"):
        GlamorTransform()(torch.rand(3, 10, 10))
    with pytest.raises(ValueError, match="x1, y1, x2, y2"):
        GlamorTransform()(torch.zeros(3, 10, 10, dtype=torch.uint8), (1, 2, 3))
