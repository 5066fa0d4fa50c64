"""``preprocessing="official"`` reproduces the authors' own predict.py pipeline exactly.

``tests/fixtures/tf_official_tiny/pipeline.json`` was written by the authors' code (their
``predict_preprocess``, their MMOD call on OpenCV's BGR array, their ``GLAMORNet`` loaded with
the fixture's checkpoint) with ``make_pipeline_reference.py`` beside it, in a TensorFlow venv.
The zoo, given the same checkpoint converted by ``convert_checkpoint``, the same detector file and
``preprocessing="official"``, must find the same boxes exactly and the same probabilities
within 1e-5. Needs dlib and the MMOD model file (../shared/data/detectors).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dlib", reason="MMOD needs dlib (the 'dlib' extra)")
pytest.importorskip("simplejpeg", reason="official preprocessing needs simplejpeg")

from glamor_zoo.convert import convert_checkpoint
from glamor_zoo.inference import EmotionRecognizer

ROOT = Path(__file__).resolve().parent
FIXTURE = ROOT / "fixtures" / "tf_official_tiny"
MMOD = ROOT.parent.parent / "shared" / "data" / "detectors" / "mmod_human_face_detector.dat"
REFERENCE = json.loads((FIXTURE / "pipeline.json").read_text())


@pytest.mark.slow
@pytest.mark.skipif(not MMOD.is_file(), reason=f"no MMOD model file at {MMOD}")
def test_official_preprocessing_reproduces_the_authors_predict_py() -> None:
    model = convert_checkpoint(FIXTURE / "Model")
    recognizer = EmotionRecognizer(
        model,
        detector="dlib-mmod",
        device="cpu",
        fast=False,
        detector_args={"model_path": str(MMOD)},
        preprocessing="official",
    )
    photos = [ROOT / "data" / "scenes" / photo["image"] for photo in REFERENCE["photos"]]
    results = recognizer([str(p) for p in photos])
    worst = 0.0
    for photo, result in zip(REFERENCE["photos"], results, strict=True):
        theirs = sorted(photo["faces"], key=lambda f: f["box"])
        ours = sorted(result.faces, key=lambda f: f.box)
        assert [list(f.box) for f in ours] == [f["box"] for f in theirs], photo["image"]
        for mine, their in zip(ours, theirs, strict=True):
            diff = np.abs(np.array(list(mine.probabilities.values())) - their["probabilities"])
            worst = max(worst, float(diff.max()))
    assert worst < 1e-5, worst
