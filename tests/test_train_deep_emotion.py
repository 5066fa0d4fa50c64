"""Deep-Emotion's two recipes (recipes/deep_emotion_*.yaml) with the zoo trainer; the generic
trainer features they use (L2 term, cosine schedule, time budget, k-fold) are tested in
test_train.py."""

from __future__ import annotations

from pathlib import Path

import pytest

import glamor_zoo
from glamor_zoo.train.config import load_config
from glamor_zoo.train.folds import fold_config, fold_indices
from glamor_zoo.train.regularization import L2Penalty

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SHARED = REPO.parent / "shared" / "data"
FER_RECIPE = REPO / "recipes" / "deep_emotion_fer2013.yaml"
CK_RECIPE = REPO / "recipes" / "deep_emotion_ckplus.yaml"
CLOCK = {"now": 0.0}


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))


# ---------------------------------------------------------------------------- the recipes


def test_recipes_load_with_the_papers_hyper_parameters() -> None:
    for path in (FER_RECIPE, CK_RECIPE):
        config = load_config(path)
        o = config.optim
        assert config.model.name == "deep_emotion" and o.name == "adam" and o.lr == 0.005
        assert o.weight_decay == 1e-4 and o.l2_weight == 1e-3
        assert o.l2_modules == ["head.fc1", "head.fc"]
        assert (o.schedule, o.warmup_epochs, o.min_lr) == ("cosine", 1, 1e-5)
        assert config.data.preprocess["face_augment"] == {
            "hflip": 0.5,
            "rotate_degrees": 10.0,
            "scale": [0.9, 1.1],
            "translate": 0.1,
        }
        assert "8b6f0b4" in path.read_text()  # provenance of the measured numbers
    fer = load_config(FER_RECIPE)
    assert (fer.run.epochs, fer.run.batch_size, fer.run.time_budget_min) == (20, 128, 45)
    assert (fer.data.kind, fer.data.val_split, fer.data.folds) == ("fer2013", "validation", None)
    ck = load_config(CK_RECIPE, ["run.epochs=3"])
    assert (ck.run.epochs, ck.run.batch_size, ck.data.folds) == (3, 32, "all")
    assert (ck.data.kind, ck.data.args["num_folds"], ck.data.val_split) == ("ckplus", 10, None)


def _build(config, split: str, fold: int | None = None):
    from glamor_zoo.train.data import build_split, preprocess_for

    if fold is not None:
        config = fold_config(config, fold)
    model = glamor_zoo.create_model(config.model.name, **config.model.args)
    return model, build_split(config.data, split, preprocess_for(model, config.data), True, 0)


@pytest.mark.skipif(
    not (SHARED / "ckplus48").is_dir(),
    reason=f"CK+48 is research-only and not in the repository; {SHARED / 'ckplus48'} is absent",
)
def test_ckplus_recipe_builds_model_and_subject_disjoint_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(REPO)  # data.root is relative to the repository root
    config = load_config(CK_RECIPE)
    model, train = _build(config, "train", fold=0)
    assert L2Penalty(model, config.optim.l2_modules, config.optim.l2_weight).parameters
    sample = train[0]
    assert sample["face"].shape == (1, 48, 48) and len(train.classes) == 7
    seen: set[str] = set()
    total = 0
    for k in fold_indices(config.data):
        _, test = _build(config, "test", fold=k)
        assert not set(test.subjects) & seen  # no subject in two test folds
        seen |= set(test.subjects)
        total += len(test)
    assert total == 981 and len(seen) == 118  # every image, every subject tested once


@pytest.mark.skipif(
    not (SHARED / "fer2013").is_dir(),
    reason=f"FER-2013 is research-only and not in the repository; {SHARED / 'fer2013'} is absent",
)
def test_fer2013_recipe_builds_model_and_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    config = load_config(FER_RECIPE)
    model, train = _build(config, config.data.train_split)
    _, val = _build(config, config.data.val_split)
    assert (len(train), len(val)) == (28709, 3589)
    assert train.classes == list(model.pretrained_cfg["label_names"])  # FER-2013's 7, in order
    assert train[0]["face"].shape == (1, 48, 48)
