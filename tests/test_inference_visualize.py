"""Pictures: labelled boxes, the attention overlay's geometry and masking, colours."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from glamor_zoo.data.transforms import PAPER_PREPROCESS_CFG
from glamor_zoo.inference.results import FaceRecord
from glamor_zoo.inference.visualize import (
    attention_overlay,
    attention_region,
    colormap,
    draw_faces,
    heatmap_overlay,
    label_color,
)


def face(box=(20.0, 30.0, 60.0, 80.0), label="Happy", attention=None) -> FaceRecord:
    return FaceRecord(box, 0.99, label, 0.8, {label: 0.8}, attention=attention)


def photo(width: int = 171, height: int = 128) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(80, 200, (height, width, 3), dtype=np.uint8))


def test_attention_region_is_the_official_centre_crop() -> None:
    # 128×171 resize, rows 8:120, cols 29:141 → in a 1280×853 photo:
    x1, y1, x2, y2 = attention_region(PAPER_PREPROCESS_CFG, 1280, 853)
    assert (x1, x2) == pytest.approx((29 / 171 * 1280, 141 / 171 * 1280))
    assert (y1, y2) == pytest.approx((8 / 128 * 853, 120 / 128 * 853))


def test_attention_overlay_masks_the_face_and_covers_the_crop() -> None:
    image = photo()
    record = face(attention=np.full((7, 7), 1 / 49))
    out = np.asarray(attention_overlay(image, record, PAPER_PREPROCESS_CFG, alpha=0.0))
    original = np.asarray(image).astype(np.float32)
    assert out.shape == original.shape
    assert out[32:78, 22:58].max() == 0  # the face box is zeroed (inside its outline)
    # alpha=0: the crop region (rows 8:120, cols 29:141 at this size) is the photo itself,
    # outside it the photo is dimmed.
    np.testing.assert_allclose(out[100:110, 100:130], original[100:110, 100:130], atol=1)
    np.testing.assert_allclose(out[0:5, 0:20], original[0:5, 0:20] * 0.35, atol=1)


def test_attention_overlay_shares_the_mask_in_shared_mode() -> None:
    image = photo()
    record = face(attention=np.full((7, 7), 1 / 49))
    other = (100.0, 40.0, 130.0, 90.0)
    out = np.asarray(
        attention_overlay(image, record, PAPER_PREPROCESS_CFG, [record.box, other], alpha=0.0)
    )
    assert out[42:88, 102:128].max() == 0


def test_attention_overlay_needs_attention() -> None:
    with pytest.raises(ValueError, match="no attention map"):
        attention_overlay(photo(), face(), PAPER_PREPROCESS_CFG)


def test_flat_attention_looks_flat_but_minmax_stretches() -> None:
    nearly_flat = np.full((7, 7), 1 / 49)
    nearly_flat[3, 3] += 1e-3
    overlay = np.asarray(
        attention_overlay(photo(), face(attention=nearly_flat), PAPER_PREPROCESS_CFG, alpha=1.0)
    )
    crop = overlay[85:115, 70:135].reshape(-1, 3)
    assert np.ptp(crop, axis=0).max() < 10  # peak-scaled: one colour
    stretched = np.asarray(heatmap_overlay(photo(), nearly_flat, alpha=1.0)).reshape(-1, 3)
    assert np.ptp(stretched, axis=0).max() > 100


def test_draw_faces_draws_boxes_and_labels_on_a_copy() -> None:
    image = photo()
    before = np.asarray(image).copy()
    drawn = np.asarray(draw_faces(image, [face()], line_width=2))
    np.testing.assert_array_equal(np.asarray(image), before)
    assert tuple(drawn[55, 20]) == label_color("Happy")  # left edge of the box
    assert (drawn[:30, 20:60] != before[:30, 20:60]).any()  # the label above the box


def test_colormap_runs_blue_to_red() -> None:
    colors = colormap(np.array([0.0, 0.5, 1.0]))
    assert tuple(colors[0]) == (0, 0, 128)
    assert tuple(colors[1]) == (128, 255, 128)
    assert tuple(colors[2]) == (128, 0, 0)
    assert label_color("Happy") != label_color("Sad")
