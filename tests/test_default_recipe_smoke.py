"""The default's recipe runs end to end (one step, tiny stand-in data): every step of its own
training — FER-2013 main data with its stratified hold-out, SFEW as a second source with a
film-disjoint hold-out, distillation from the released teacher on FER-2013 only, the square
crop — with the recipe as released, only the data roots and the run's length overridden."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from glamor_zoo.train.config import load_config
from glamor_zoo.train.trainer import train

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "face_resnet26_fer2013_sfew.yaml"
FER = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")
SFEW = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


def _images(
    folder: Path, names: list[str], size: tuple[int, int], rng: np.random.Generator
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        pixels = rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / name)


def test_the_default_recipe_trains_one_step_on_stand_in_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    fer, sfew = tmp_path / "fer2013", tmp_path / "sfew"
    for cls in FER:
        _images(fer / "train" / cls, [f"Training_{i}.jpg" for i in range(10)], (48, 48), rng)
        _images(fer / "validation" / cls, [f"PublicTest_{i}.jpg" for i in range(2)], (48, 48), rng)
    for cls in SFEW:
        names = [f"Film{f}_{f:09d}_{k:08d}.png" for f in range(4) for k in range(2)]
        _images(sfew / "Train" / cls, names, (72, 90), rng)
    config = load_config(
        RECIPE,
        [
            f"data.root={fer}",
            f"data.sources=[{{name: sfew, kind: folder, root: '{sfew}', train_split: Train, "
            "weight: 4.0, holdout: 0.25, holdout_seed: 0, "
            "holdout_group: '^(.+?)[_-]+\\d+[_-]+\\d+\\.\\w+$', "
            "args: {progress: false, detector: none, cache: false}}]",
            f"run.output_dir={tmp_path / 'run'}",
            "run.max_steps=1",
            "run.epochs=1",
            "run.batch_size=16",
            "run.eval_batch_size=64",
            "run.compile=false",
            # bf16 would stay in accelerate's process-wide state for the tests that follow.
            "run.mixed_precision=no",
            "run.log_with=[]",
            "run.progress=false",
            "run.time_budget_min=0",
            "data.num_workers=0",
            "data.args={}",
        ],
    )
    # As released: the teacher and the start are the previous default, the crop is square.
    assert config.optim.distill_from == "face_resnet26.fer2013"
    assert config.optim.distill_sources == ["fer2013"]
    assert config.data.preprocess["face_square"] is True
    result = train(config)
    final = result.metrics["final"]
    assert final["val"]["num_samples"] == 7 and final["val_sfew"]["num_samples"] == 14
    assert final["test"]["num_samples"] == 14
    (record,) = result.metrics["stages"]["main"]["history"]
    assert {"val_fer2013_acc", "val_sfew_acc"} <= set(record)
