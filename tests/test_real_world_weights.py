"""The released default trained beyond FER-2013 (face_resnet26.fer2013_sfew_hardfer): its figure on a
fixed subset of the SFEW 2.0 movie-disjoint hold-out is recomputed through the default pipeline
(the default detector, the model's crop rule; a missed face counts as wrong) and must equal the
one recorded with the weights, within one image. SFEW is research-only data: the test reads it
from ../shared/data and skips without it; a missing weights file is a failure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tool_modules import tool_module

import glamor_zoo
from glamor_zoo.inference.loading import DEFAULT_MODEL
from glamor_zoo.models._released import PACKAGE_WEIGHTS, released_ledger

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "face_resnet26_fer2013_sfew_hardfer.yaml"
TAG = "face_resnet26.fer2013_sfew_hardfer"
SFEW = REPO.parent / "shared" / "data" / "sfew" / "Train"


def test_the_default_is_the_real_world_model_and_its_file_is_there() -> None:
    assert DEFAULT_MODEL == TAG
    entry = released_ledger()[TAG]
    assert (PACKAGE_WEIGHTS / entry["file"]).is_file(), "the default's weights file is missing"
    spec = glamor_zoo.get_model_spec(glamor_zoo.create_model(TAG, pretrained=True))
    assert spec.face_square and spec.face_margin == 0.0  # the crop it was trained on


@pytest.mark.skipif(not SFEW.is_dir(), reason="SFEW 2.0 (research-only) is not in ../shared/data")
def test_the_recorded_sfew_figure_is_recomputed() -> None:
    config = json.loads((PACKAGE_WEIGHTS / "face_resnet26_fer2013_sfew_hardfer.json").read_text())
    recorded = config["cross_dataset"]["sfew_holdout"]["reference_subset"]
    tool = tool_module("real_world_metrics")
    paths = tool.holdout_subset(RECIPE, recorded["size"], recorded["seed"], root=SFEW)
    one_image = 100.0 / recorded["size"]
    assert tool.subset_top1(TAG, paths) == pytest.approx(recorded["top1"], abs=one_image + 1e-9)
