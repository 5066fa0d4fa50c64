"""Deep-Emotion with the zoo trainer: the L2 loss term, the cosine + warmup schedule, the time
budget, the k-fold driver, and the two recipes (recipes/deep_emotion_*.yaml)."""

from __future__ import annotations

import csv
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image
from safetensors.torch import load_file
from test_train import TinyEmotionDataset

import glamor_zoo
from glamor_zoo.cli import main as cli_main
from glamor_zoo.train import trainer
from glamor_zoo.train.config import ConfigError, load_config
from glamor_zoo.train.folds import fold_config, fold_indices, train_folds
from glamor_zoo.train.regularization import L2Penalty
from glamor_zoo.train.schedule import lr_at_step
from glamor_zoo.train.trainer import train

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
SHARED = REPO.parent / "shared" / "data"
FER_RECIPE = REPO / "recipes" / "deep_emotion_fer2013.yaml"
CK_RECIPE = REPO / "recipes" / "deep_emotion_ckplus.yaml"
CLOCK = {"now": 0.0}


@pytest.fixture(autouse=True)
def _importable_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))


def clocked_dataset(root: str, **kwargs: object) -> TinyEmotionDataset:
    """The tiny dataset whose every training epoch takes one minute of the fake clock."""

    class Clocked(TinyEmotionDataset):
        def set_epoch(self, epoch: int) -> None:
            super().set_epoch(epoch)
            if self.train:
                CLOCK["now"] = 60.0 * (epoch + 1)

    return Clocked(root, **kwargs)


def slow_start_dataset(root: str, **kwargs: object) -> TinyEmotionDataset:
    """Like :func:`clocked_dataset`, but the first epoch takes 150 s (compilation, warm-up)."""

    class SlowStart(TinyEmotionDataset):
        def set_epoch(self, epoch: int) -> None:
            super().set_epoch(epoch)
            if self.train:
                CLOCK["now"] = 90.0 + 60.0 * (epoch + 1)

    return SlowStart(root, **kwargs)


def _tiny_recipe(
    tmp_path: Path,
    optim: dict | None = None,
    run: dict | None = None,
    factory: str = "tiny_dataset",
) -> Path:
    """Deep-Emotion (3-channel 32-px faces) on the tiny synthetic dataset of test_train."""
    here = ("clocked_dataset", "slow_start_dataset")
    module = "test_train_deep_emotion" if factory in here else "test_train"
    recipe = {
        "name": "tiny_deep_emotion",
        "model": {"name": "deep_emotion", "args": {"in_chans": 3, "img_size": 32}},
        "data": {
            "kind": f"{module}:{factory}",
            "root": str(tmp_path),
            "val_split": "val",
            "test_split": None,
        },
        "optim": {"name": "sgd", "lr": 0.1, "momentum": 0.0, "milestones": [], **(optim or {})},
        "run": {
            "output_dir": str(tmp_path / "run"),
            "epochs": 1,
            "batch_size": 8,
            "log_with": [],
            "progress": False,
            "seed": 1,
            **(run or {}),
        },
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


# ---------------------------------------------------------------------------- L2 term


def test_l2_penalty_is_exactly_lambda_times_the_squared_weights() -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("deep_emotion")
    penalty = L2Penalty(model, ["head.fc1", "head.fc"], 0.25)
    expected = 0.25 * (model.head.fc1.weight.square().sum() + model.head.fc.weight.square().sum())
    torch.testing.assert_close(penalty(), expected)
    torch.testing.assert_close(penalty(), 0.25 * model.l2_penalty())  # the paper's term
    assert penalty.parameters == [model.head.fc1.weight, model.head.fc.weight]  # no biases
    # A parent module covers the weights inside it, once each.
    assert L2Penalty(model, ["head", "head.fc"], 1.0).parameters == penalty.parameters
    loss = penalty()
    loss.backward()
    torch.testing.assert_close(model.head.fc.weight.grad, 0.5 * model.head.fc.weight.detach())
    assert model.features.conv1.weight.grad is None


def test_l2_penalty_names_a_bad_module() -> None:
    model = glamor_zoo.create_model("deep_emotion")
    with pytest.raises(
        ConfigError, match=r"optim\.l2_modules.*'head\.fc2'.*did you mean.*head\.fc"
    ):
        L2Penalty(model, ["head.fc1", "head.fc2"], 1e-3)
    with pytest.raises(ConfigError, match=r"optim\.l2_modules.*'head\.drop'.*no weight"):
        L2Penalty(model, ["head.drop"], 1e-3)


def _one_sgd_step(
    tmp_path: Path, name: str, lr: float, l2_weight: float
) -> dict[str, torch.Tensor]:
    l2 = {"l2_modules": ["head.fc1", "head.fc"], "l2_weight": l2_weight} if l2_weight else {}
    recipe = _tiny_recipe(tmp_path, optim={"lr": lr, **l2}, run={"max_steps": 1})
    config = load_config(recipe, [f"run.output_dir={tmp_path / name}", "data.val_split=null"])
    train(config)
    return load_file(str(tmp_path / name / "model" / "model.safetensors"))


def test_trainer_adds_the_l2_term_to_the_loss(tmp_path: Path) -> None:
    # One plain SGD step from the same weights on the same batch: the L2 term adds exactly
    # 2·λ·W to the gradient of the named weights, so W_l2 - W_plain = -lr·2·λ·W0.
    initial = _one_sgd_step(tmp_path, "init", lr=0.0, l2_weight=0.0)
    plain = _one_sgd_step(tmp_path, "plain", lr=0.1, l2_weight=0.0)
    with_l2 = _one_sgd_step(tmp_path, "l2", lr=0.1, l2_weight=0.25)
    for key in ("head.fc1.weight", "head.fc.weight"):
        torch.testing.assert_close(
            with_l2[key] - plain[key], -0.1 * 2 * 0.25 * initial[key], rtol=1e-4, atol=1e-6
        )
    for key in ("head.fc1.bias", "features.conv1.weight", "stn.localization.0.weight"):
        torch.testing.assert_close(with_l2[key], plain[key], rtol=1e-5, atol=1e-7)
    assert not torch.equal(plain["head.fc.weight"], initial["head.fc.weight"])


def test_trainer_reports_a_bad_l2_module(tmp_path: Path) -> None:
    recipe = _tiny_recipe(tmp_path, optim={"l2_modules": ["head.fc9"], "l2_weight": 0.001})
    with pytest.raises(ConfigError, match=r"optim\.l2_modules.*head\.fc9"):
        train(load_config(recipe))


# ---------------------------------------------------------------------------- schedule


def test_cosine_schedule_with_warmup() -> None:
    kw = {"schedule": "cosine", "warmup_epochs": 1, "min_lr": 1e-5}
    lr = [lr_at_step(s, 10, 5, 5e-3, **kw) for s in range(50)]
    assert lr[0] == pytest.approx(5e-4) and lr[4] == pytest.approx(2.5e-3)  # linear warmup
    assert lr[9] == lr[10] == pytest.approx(5e-3)  # end of warmup = start of the cosine
    assert lr[30] == pytest.approx(1e-5 + 0.5 * (5e-3 - 1e-5))  # half way: the mean
    assert lr[49] == pytest.approx(1e-5 + 0.5 * (5e-3 - 1e-5) * (1 + math.cos(math.pi * 39 / 40)))
    assert all(a >= b for a, b in itertools.pairwise(lr[10:]))  # decreasing after warmup
    assert lr_at_step(500, 10, 5, 5e-3, **kw) == pytest.approx(1e-5)  # clamped past the end
    # The step schedule: the paper's milestones, with an optional warmup in front.
    step = {"milestones": [2], "gamma": 0.1, "min_lr": 0.0}
    assert [lr_at_step(s, 10, 4, 1.0, **step) for s in (0, 19, 20, 39)] == [1, 1, 0.1, 0.1]
    assert lr_at_step(0, 10, 4, 1.0, warmup_epochs=1, **step) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="schedule"):
        lr_at_step(0, 10, 4, 1.0, schedule="linear")


def test_trainer_follows_the_cosine_schedule_every_step(tmp_path: Path) -> None:
    recipe = _tiny_recipe(
        tmp_path,
        optim={"name": "adam", "lr": 0.01, "schedule": "cosine", "warmup_epochs": 1, "min_lr": 0.0},
        run={"epochs": 3},
    )
    result = train(load_config(recipe))
    history = result.metrics["stages"]["main"]["history"]
    steps = 3  # 24 images, batch 8
    for record in history:  # the last lr of each epoch
        last = (record["epoch"] + 1) * steps - 1
        assert record["lr"] == pytest.approx(lr_at_step(last, steps, 3, 0.01, "cosine", 1))
    assert history[0]["lr"] == pytest.approx(0.01) and history[2]["lr"] < 0.003


# ---------------------------------------------------------------------------- time budget


def test_time_budget_stops_training_and_keeps_the_best_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    CLOCK["now"] = 0.0
    monkeypatch.setattr(trainer, "_clock", lambda: CLOCK["now"])  # one minute per epoch
    recipe = _tiny_recipe(
        tmp_path,
        optim={"name": "adam", "lr": 0.01, "schedule": "cosine", "min_lr": 0.0},
        run={"epochs": 10, "time_budget_min": 3.5},
        factory="clocked_dataset",
    )
    result = train(load_config(recipe))
    stage = result.metrics["stages"]["main"]
    assert stage["epochs_run"] == 3 and stage["epochs_planned"] == 10  # 3 one-minute epochs fit
    assert stage["train_time_s"] == pytest.approx(180.0)
    # The cosine was shortened to end with the cut: the third epoch's last step is its end.
    assert stage["history"][-1]["lr"] == pytest.approx(lr_at_step(8, 3, 3, 0.01, "cosine"))
    # The best epoch on validation is the final model.
    accuracies = [h["val_acc"] for h in stage["history"]]
    assert stage["selected"] == "best" and stage["best_epoch"] == int(np.argmax(accuracies))
    assert result.metrics["final"]["val"]["top1"] == pytest.approx(max(accuracies))
    best = load_file(str(result.run_dir / "stages" / "main" / "best" / "model.safetensors"))
    final = load_file(str(result.model_dir / "model.safetensors"))
    assert all(torch.equal(best[k], final[k]) for k in best)


def test_time_budget_is_not_cut_by_a_slow_first_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    CLOCK["now"] = 0.0
    monkeypatch.setattr(trainer, "_clock", lambda: CLOCK["now"])
    recipe = _tiny_recipe(
        tmp_path,
        optim={"name": "adam", "lr": 0.01, "schedule": "cosine", "min_lr": 0.0},
        run={"epochs": 10, "time_budget_min": 5},
        factory="slow_start_dataset",
    )
    stage = train(load_config(recipe)).metrics["stages"]["main"]
    # 150 s + 60 s + 60 s fit 5 minutes; judged by the first epoch, only 2 would.
    assert stage["epochs_run"] == 3
    assert [round(h["elapsed_s"]) for h in stage["history"]] == [150, 210, 270]


# ---------------------------------------------------------------------------- k-fold


def _write_ck(root: Path, subjects: int = 9, frames: int = 2) -> Path:
    """A CK+48-like folder: two classes, ``S<subject>_001_<frame>.png`` grey 48×48 faces."""
    gen = np.random.default_rng(0)
    for c, name in enumerate(("anger", "happy")):
        (root / name).mkdir(parents=True)
        for s in range(subjects):
            for f in range(frames):
                pixels = gen.integers(0, 60, (48, 48)) + (150 if c else 0)
                path = root / name / f"S{100 + s:03d}_00{c + 1}_0000000{f}.png"
                Image.fromarray(pixels.astype(np.uint8)).save(path)
    return root


def _ck_overrides(root: Path, out: Path) -> list[str]:
    return [
        f"data.root={root}",
        "data.args.num_folds=3",
        "data.num_workers=0",
        f"run.output_dir={out}",
        "run.epochs=1",
        "run.batch_size=8",
        "run.log_with=[]",
        "run.progress=false",
    ]


def _test_subjects(run_dir: Path) -> set[str]:
    with open(run_dir / "eval" / "test" / "predictions.csv", newline="") as handle:
        return {Path(row["path"]).name.split("_")[0] for row in csv.DictReader(handle)}


def test_ckplus_recipe_trains_every_fold_and_reports_mean_and_std(tmp_path: Path) -> None:
    root = _write_ck(tmp_path / "ck")
    out = tmp_path / "cv"
    assert cli_main(["train", "--config", str(CK_RECIPE), *_ck_overrides(root, out)]) == 0

    summary = json.loads((out / "summary.json").read_text())
    assert summary["completed_folds"] == 3 and [f["fold"] for f in summary["folds"]] == [0, 1, 2]
    accuracies = [f["top1"] for f in summary["folds"]]
    assert summary["mean_top1"] == pytest.approx(np.mean(accuracies))
    assert summary["std_top1"] == pytest.approx(np.std(accuracies, ddof=1))
    assert summary["command"].startswith(("glamor-zoo", "accelerate"))
    # Subject-disjoint: every subject is in exactly one fold's test split, all images scored once.
    tested = [_test_subjects(out / f"fold_{k}") for k in range(3)]
    assert sum(len(t) for t in tested) == 9 and set().union(*tested) == {
        f"S{100 + s:03d}" for s in range(9)
    }
    assert sum(f["num_samples"] for f in summary["folds"]) == 9 * 2 * 2
    for k, fold in enumerate(summary["folds"]):
        config = json.loads((out / f"fold_{k}" / "model" / "config.json").read_text())
        assert config["training"]["data"]["args"]["fold"] == k
        assert config["training"]["optim"]["l2_modules"] == ["head.fc1", "head.fc"]
        metrics = json.loads((out / f"fold_{k}" / "metrics.json").read_text())
        assert metrics["final"]["test"]["top1"] == fold["top1"]
        assert metrics["stages"]["main"]["selected"] == "last"  # no validation: last epoch

    # A second run into the same folder must resume, not overwrite.
    assert cli_main(["train", "--config", str(CK_RECIPE), *_ck_overrides(root, out)]) == 2


def test_kfold_resume_reuses_finished_folds_and_resumes_the_rest(tmp_path: Path) -> None:
    root = _write_ck(tmp_path / "ck", subjects=6, frames=1)
    out = tmp_path / "cv"
    overrides = [*_ck_overrides(root, out), "run.epochs=2"]
    first = train_folds(load_config(CK_RECIPE, [*overrides, "data.folds=[0, 1]"]))
    assert first.summary["completed_folds"] == 2 and not (out / "fold_2").exists()
    fold0 = (out / "fold_0" / "model" / "model.safetensors").stat().st_mtime_ns
    weights1 = load_file(str(out / "fold_1" / "model" / "model.safetensors"))
    # Fold 1 as if killed after its last epoch's checkpoint: no selected or final model yet.
    for leftover in ("model", "stages/main/model", "eval"):
        for path in sorted((out / "fold_1" / leftover).rglob("*"), reverse=True):
            path.unlink() if path.is_file() else path.rmdir()
        (out / "fold_1" / leftover).rmdir()

    with pytest.raises(ConfigError, match="--resume"):
        train_folds(load_config(CK_RECIPE, overrides))
    result = train_folds(load_config(CK_RECIPE, overrides), resume=True)
    assert result.summary["completed_folds"] == 3
    assert (out / "fold_0" / "model" / "model.safetensors").stat().st_mtime_ns == fold0  # reused
    resumed = load_file(str(out / "fold_1" / "model" / "model.safetensors"))
    assert all(torch.equal(weights1[k], resumed[k]) for k in weights1)  # from its checkpoint
    assert [f["top1"] for f in result.summary["folds"][:2]] == [
        f["top1"] for f in first.summary["folds"]
    ]


def test_fold_config_and_its_errors(tmp_path: Path) -> None:
    config = load_config(CK_RECIPE)
    assert fold_indices(config.data) == list(range(10))
    fold = fold_config(config, 3)
    assert fold.data.folds is None and fold.data.args == {
        "num_folds": 10,
        "split_seed": 0,
        "fold": 3,
    }
    assert Path(fold.run.output_dir) == Path(config.run.output_dir) / "fold_3"
    assert config.data.args == {"num_folds": 10, "split_seed": 0}  # the recipe is left as it was
    assert fold_indices(load_config(CK_RECIPE, ["data.folds=[2, 5]"]).data) == [2, 5]
    code = cli_main(["train", "--config", str(CK_RECIPE), "--push-to-hub", "org/x"])
    assert code == 2


def test_exponents_without_a_dot_are_numbers(tmp_path: Path) -> None:
    config = load_config(CK_RECIPE, ["optim.l2_weight=1e-3", "optim.lr=2E-4", "data.name=s1e3"])
    assert config.optim.l2_weight == 1e-3 and config.optim.lr == 2e-4
    assert config.data.name == "s1e3"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(CK_RECIPE.read_text().replace("l2_weight: 1.0e-3", "l2_weight: 1e-3"))
    assert load_config(recipe).optim.l2_weight == 1e-3


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("optim.l2_weight=-1.0", r"optim\.l2_weight must be a number >= 0"),
        ("optim.l2_weight=heavy", r"optim\.l2_weight must be a number >= 0, got 'heavy'"),
        ("optim.l2_modules=head.fc", r"optim\.l2_modules must be a list"),
        ("optim.l2_modules=[]", r"optim\.l2_modules is empty"),
        ("optim.schedule=linear", r"optim\.schedule must be one of"),
        ("optim.warmup_epochs=-1", r"optim\.warmup_epochs must be >= 0"),
        ("run.time_budget_min=-5", r"run\.time_budget_min must be"),
        ("data.folds=some", r"data\.folds must be 'all'"),
        ("data.folds=[0, 10]", r"data\.folds must list distinct folds in 0\.\.9"),
        ("data.args={split_seed: 0}", r"data\.folds needs data\.args\.num_folds"),
        ("data.args.fold=2", r"data\.args\.fold and data\.folds"),
        ("data.test_split=null", r"data\.folds scores each fold on data\.test_split"),
        (
            "data.preprocess.face_augment.translate=2.0",
            r"face_augment.*'translate'.*\[0\.0, 1\.0\]",
        ),
        ("data.preprocess.face_augment.scale=[1.1, 0.9]", r"face_augment.*'scale'.*low <= high"),
        ("data.preprocess.face_augment.shear=5", r"unknown face_augment key.*shear"),
    ],
)
def test_bad_values_are_errors_that_name_the_option(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(CK_RECIPE, [override])


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
