"""The default's recipe runs end to end (one step, tiny stand-in data): every step of its own
training — FER-2013 main data with its stratified hold-out, SFEW as a second source with a
film-disjoint hold-out, distillation from the released teacher on FER-2013 only, the square
crop — with the recipe as released, only the data roots and the run's length overridden."""

from __future__ import annotations

from pathlib import Path

from standin_data import ONE_STEP, fer2013_standin, sfew_standin

from glamor_zoo.train.config import load_config
from glamor_zoo.train.trainer import train

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "face_resnet26_fer2013_sfew.yaml"


def test_the_default_recipe_trains_one_step_on_stand_in_data(tmp_path: Path) -> None:
    fer = fer2013_standin(tmp_path / "fer2013")
    sfew = sfew_standin(tmp_path / "sfew")
    config = load_config(
        RECIPE,
        [
            f"data.root={fer}",
            f"data.sources=[{{name: sfew, kind: folder, root: '{sfew}', train_split: Train, "
            "weight: 4.0, holdout: 0.25, holdout_seed: 0, "
            "holdout_group: '^(.+?)[_-]+\\d+[_-]+\\d+\\.\\w+$', "
            "args: {progress: false, detector: none, cache: false}}]",
            f"run.output_dir={tmp_path / 'run'}",
            *ONE_STEP,
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
