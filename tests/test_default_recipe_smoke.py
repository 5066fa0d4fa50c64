"""The default's recipes run end to end (one step, tiny stand-in data): every step of their
training — FER-2013 main data with its stratified hold-out, SFEW as a second source with a
film-disjoint hold-out, the square crop; for the first, distillation from the released teacher
on FER-2013 only; for the second, which fine-tunes the first's released tag, hard labels on
FER-2013 and smoothed ones on SFEW — with the recipes as released, only the data roots and the
run's length overridden."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from standin_data import ONE_STEP, fer2013_standin, sfew_standin

from glamor_zoo.train.config import load_config
from glamor_zoo.train.trainer import train

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"


def _standin_source(recipe: str, root: Path) -> str:
    """The recipe's SFEW source as written, read from the stand-in folder (faces taken whole)."""
    (source,) = yaml.safe_load((RECIPES / recipe).read_text())["data"]["sources"]
    source.update(root=str(root), args={"progress": False, "detector": "none", "cache": False})
    return yaml.safe_dump([source], default_flow_style=True, width=10_000).strip()


@pytest.mark.parametrize(
    ("recipe", "starts_from", "teacher", "smoothing"),
    [
        (
            "face_resnet26_fer2013_sfew.yaml",
            "face_resnet26.fer2013",
            "face_resnet26.fer2013",
            (0.1, None),
        ),
        ("face_resnet26_fer2013_sfew_hardfer.yaml", "face_resnet26.fer2013_sfew", "", (0.0, 0.1)),
    ],
)
def test_the_default_recipes_train_one_step_on_stand_in_data(
    tmp_path: Path,
    recipe: str,
    starts_from: str,
    teacher: str,
    smoothing: tuple[float, float | None],
) -> None:
    fer = fer2013_standin(tmp_path / "fer2013")
    sfew = sfew_standin(tmp_path / "sfew")
    config = load_config(
        RECIPES / recipe,
        [
            f"data.root={fer}",
            f"data.sources={_standin_source(recipe, sfew)}",
            f"run.output_dir={tmp_path / 'run'}",
            *ONE_STEP,
        ],
    )
    # As released: what each starts from and is taught by, its label smoothing (FER-2013's,
    # SFEW's own); the crop is square.
    assert list(config.model.init_from) == [starts_from]
    assert config.optim.distill_from == teacher
    assert config.optim.distill_sources == (["fer2013"] if teacher else [])
    assert (config.optim.label_smoothing, config.data.sources[0].label_smoothing) == smoothing
    assert config.data.preprocess["face_square"] is True
    result = train(config)
    final = result.metrics["final"]
    assert final["val"]["num_samples"] == 7 and final["val_sfew"]["num_samples"] == 14
    assert final["test"]["num_samples"] == 14
    (record,) = result.metrics["stages"]["main"]["history"]
    assert {"val_fer2013_acc", "val_sfew_acc"} <= set(record)
