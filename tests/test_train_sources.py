"""Several data sources in one recipe: sampling weights, film-disjoint hold-outs, per-source
hold-out scores that select the epoch together, distillation on chosen sources only, label
smoothing per source."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from torch import nn

from glamor_zoo.train.config import ConfigError, load_config
from glamor_zoo.train.data import group_holdout, group_of
from glamor_zoo.train.sampler import WeightedEpochSampler
from glamor_zoo.train.trainer import train

SFEW_GROUP = r"^(.+?)[_-]+\d+[_-]+\d+\.\w+$"


def test_the_film_is_the_name_before_the_last_two_numbers() -> None:
    import re

    pattern = re.compile(SFEW_GROUP)
    assert group_of("50_50_001805320_00000009.png", pattern) == "50_50"
    assert group_of("IAmSam_013827920__00000055.png", pattern) == "IAmSam"
    assert group_of("a/b/OceansTwelve-001817760_00000010.png", pattern) == "OceansTwelve"
    with pytest.raises(ConfigError, match=r"does not match the file name 'x\.png'"):
        group_of("x.png", pattern)


def test_a_group_holdout_keeps_whole_films_and_is_fixed_by_its_seed() -> None:
    films = [f"film{i}" for i in range(10)]
    paths = [f"{film}_{k:06d}_{k:08d}.png" for film in films for k in range(1, 4)]
    held = group_holdout(paths, SFEW_GROUP, 0.25, seed=0)
    held_films = {paths[i].split("_")[0] for i in held}
    assert len(held_films) == 3  # ceil(0.25 · 10)
    assert all(paths[i].split("_")[0] in held_films for i in held)
    assert len(held) == 9
    assert np.array_equal(held, group_holdout(paths, SFEW_GROUP, 0.25, seed=0))
    assert not np.array_equal(held, group_holdout(paths, SFEW_GROUP, 0.25, seed=1))


def test_weighted_sampler_draws_each_part_by_its_weight() -> None:
    sampler = WeightedEpochSampler([10, 4], [0.5, 2.5], seed=3)
    assert len(sampler) == 15
    first = list(sampler)
    assert sorted(first) == sorted(set(first) & set(range(10))) + sorted(
        i for i in first if i >= 10
    )
    small = [i for i in first if i >= 10]
    assert len(small) == 10 and all(small.count(i) >= 2 for i in range(10, 14))
    assert len([i for i in first if i < 10]) == 5
    assert list(sampler) == first  # same epoch, same draw
    sampler.set_epoch(1)
    assert list(sampler) != first
    with pytest.raises(ValueError):
        WeightedEpochSampler([3], [0.0])


def _folder(root: Path, films: list[str], per_class: int, size: int = 24) -> None:
    """Class folders of solid-colour images (the class is the brightest channel), named as SFEW
    names its frames."""
    rng = np.random.default_rng(len(films))
    for label, name in enumerate(("Angry", "Happy", "Sad")):
        folder = root / name
        folder.mkdir(parents=True)
        for film in films:
            for k in range(per_class):
                pixels = rng.integers(0, 90, (size, size, 3), dtype=np.uint8)
                pixels[:, :, label] += 150
                Image.fromarray(pixels).save(folder / f"{film}_{k + 1:06d}_{k + 7:08d}.png")


def _recipe(tmp_path: Path, **optim: object) -> Path:
    _folder(tmp_path / "main", ["main"], per_class=8)
    _folder(tmp_path / "films", ["Alpha", "Beta", "Gamma", "Delta"], per_class=2)
    recipe = {
        "name": "tiny_sources",
        "model": {"name": "deep_emotion", "args": {"in_chans": 3, "img_size": 32}},
        "data": {
            "kind": "folder",
            "name": "main",
            "root": str(tmp_path / "main"),
            "train_split": "all",
            "holdout": 0.25,
            "val_split": "holdout",
            "test_split": None,
            "args": {"detector": "none", "cache": False, "progress": False},
            "preprocess": {"face_size": [32, 32], "inputs": "face"},
            "weight": 0.5,
            "sources": [
                {
                    "name": "films",
                    "kind": "folder",
                    "root": str(tmp_path / "films"),
                    "train_split": None,
                    "weight": 2.0,
                    "holdout": 0.25,
                    "holdout_group": SFEW_GROUP,
                    "args": {"detector": "none", "cache": False, "progress": False},
                }
            ],
        },
        "optim": {"name": "sgd", "lr": 0.05, "momentum": 0.0, "milestones": [], **optim},
        "run": {
            "output_dir": str(tmp_path / "run"),
            "epochs": 2,
            "batch_size": 8,
            "log_with": [],
            "progress": False,
            "seed": 1,
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def test_training_on_two_sources_scores_each_holdout(tmp_path: Path) -> None:
    config = load_config(_recipe(tmp_path))
    result = train(config)
    history = result.metrics["stages"]["main"]["history"]
    for record in history:
        # The main hold-out: 25 % of 24 images; the films': 1 of 4 films, 6 images.
        assert record["val_acc"] == pytest.approx(
            (record["val_main_acc"] + record["val_films_acc"]) / 2
        )
        # An epoch draws half the main training images and the films' twice.
        assert record["train_samples"] == round(0.5 * 18) + 2 * 18
    final = result.metrics["final"]
    assert final["val"]["num_samples"] == 6 and final["val"]["dataset"] == "main"
    assert final["val_films"]["num_samples"] == 6 and final["val_films"]["dataset"] == "films"
    written = json.loads((result.run_dir / "eval" / "holdout_films" / "metrics.json").read_text())
    assert written["num_samples"] == 6


def test_distillation_of_chosen_sources_only(tmp_path: Path) -> None:
    from glamor_zoo.serialization import save_pretrained
    from glamor_zoo.train.distill import Distillation

    teacher_dir = tmp_path / "teacher"
    config = load_config(_recipe(tmp_path))
    import glamor_zoo

    model = glamor_zoo.create_model("deep_emotion", num_classes=3, in_chans=3, img_size=32)
    save_pretrained(model, teacher_dir, label_names=["Anger", "Happy", "Sad"])
    distill = Distillation(
        f"local-dir:{teacher_dir}", ["Anger", "Happy", "Sad"], "cpu", sources=[1]
    )
    batch = {
        "face": torch.rand(4, 3, 32, 32),
        "source": torch.tensor([0, 1, 0, 1]),
        "label": torch.zeros(4, dtype=torch.long),
    }
    assert distill.selected(batch).tolist() == [False, True, False, True]
    student = torch.randn(4, 3)
    loss = distill.loss(batch, student, 2.0)
    assert loss is not None and float(loss) > 0
    none = {**batch, "source": torch.tensor([0, 0, 0, 0])}
    assert distill.loss(none, student, 2.0) is None
    assert config.data.sources[0].name == "films"


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.sources=[{name: main, root: x}]", "unique, non-empty name"),
        ("data.sources=[{name: b, root: ''}]", "root is empty"),
        ("data.sources=[{name: b, root: x, weight: 0}]", "weight must be a number"),
        ("data.sources=[{name: b, root: x, holdout: 1.5}]", "holdout must be a fraction"),
        ("data.sources=[{name: b, root: x, holdout_group: 'no group'}]", "needs a group"),
        ("data.sources=[{name: b, root: x, holdout_group: '('}]", "not a regular expression"),
        ("optim.distill_sources=[nope]", "not datasets of this recipe"),
        ("data.sources=[{name: b, root: x, label_smoothing: 1.0}]", "label_smoothing must be"),
        (
            "data.sources=[{name: b, root: x, label_smoothing: 0.1}] ; optim.mixup_alpha=0.2",
            "mixup/cutmix cannot keep",
        ),
    ],
)
def test_bad_sources_are_named(tmp_path: Path, override: str, message: str) -> None:
    recipe = _recipe(tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_config(recipe, override.split(" ; "))


def test_per_image_label_smoothing_is_torchs_for_each_image() -> None:
    from glamor_zoo.train.regularization import smoothed_cross_entropy

    logits, target = torch.randn(6, 4), torch.tensor([0, 1, 2, 3, 0, 1])
    smoothing = torch.tensor([0.0, 0.0, 0.1, 0.1, 0.3, 0.3])
    per_image = [
        nn.functional.cross_entropy(logits[i : i + 1], target[i : i + 1], label_smoothing=float(e))
        for i, e in enumerate(smoothing)
    ]
    expected = torch.stack(per_image).mean()
    torch.testing.assert_close(smoothed_cross_entropy(logits, target, smoothing), expected)


def test_a_source_trains_with_its_own_label_smoothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import glamor_zoo.train.trainer as trainer_module

    seen: list[list[float]] = []

    def spy(logits: torch.Tensor, target: torch.Tensor, smoothing: torch.Tensor) -> torch.Tensor:
        seen.append(smoothing.tolist())
        return real(logits, target, smoothing)

    real = trainer_module.smoothed_cross_entropy
    monkeypatch.setattr(trainer_module, "smoothed_cross_entropy", spy)
    path = _recipe(tmp_path, label_smoothing=0.0)
    recipe = yaml.safe_load(path.read_text())
    recipe["data"]["sources"][0]["label_smoothing"] = 0.25
    path.write_text(yaml.safe_dump(recipe))
    config = load_config(path)
    config.run.max_steps = 3
    train(config)
    values = {round(v, 6) for step in seen for v in step}
    assert len(seen) == 3 and values == {0.0, 0.25}  # the main images hard, the films' smoothed
