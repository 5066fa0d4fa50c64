"""The full two-stage GLAMOR-Net recipe, end to end, on a small CAER-layout dataset of real photos.

It checks the machinery (stages, branch initialisation, selection, final model, evaluation and
the CLI), not accuracy.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image, ImageOps

from glamor_zoo_cli import main as cli_main

SCENES = Path(__file__).resolve().parent / "data" / "caer_scenes"
REPO = Path(__file__).resolve().parents[1]
# photo -> (class, face box x1,y1,x2,y2 in the 160-px copies; chosen by eye, roughly the face)
PHOTOS = {
    "angry.jpg": ("Anger", (30, 20, 80, 75)),
    "happy-baby.jpg": ("Happy", (55, 15, 105, 70)),
    "neutral.jpg": ("Neutral", (40, 20, 100, 85)),
    "sad-baby.jpg": ("Sad", (60, 20, 110, 75)),
    "surprised.jpg": ("Surprise", (55, 10, 105, 65)),
    "glamor_sample_1.jpg": ("Happy", (0, 0, 0, 0)),  # a frame with no face box
}


def write_caer(root: Path) -> Path:
    """images/<split>/<Class>/x.png + crop/<split>/<Class>/x.txt, three variants per photo."""
    for split, variants in (("train", ("a", "b", "c")), ("val", ("a",)), ("test", ("b",))):
        for name, (label, box) in PHOTOS.items():
            image = Image.open(SCENES / name).convert("RGB")
            for variant in variants:
                out = (
                    image
                    if variant == "a"
                    else ImageOps.mirror(image)
                    if variant == "b"
                    else ImageOps.autocontrast(image)
                )
                x1, y1, x2, y2 = box
                if variant == "b" and any(box):
                    x1, x2 = image.width - x2, image.width - x1
                stem = f"{Path(name).stem}_{variant}"
                (root / "images" / split / label).mkdir(parents=True, exist_ok=True)
                (root / "crop" / split / label).mkdir(parents=True, exist_ok=True)
                out.save(root / "images" / split / label / f"{stem}.png")
                (root / "crop" / split / label / f"{stem}.txt").write_text(f"{x1},{y1},{x2},{y2}")
    return root


@pytest.fixture(scope="module")
def caer_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_caer(tmp_path_factory.mktemp("caer"))


def _overrides(caer_root: Path, out: Path) -> list[str]:
    return [
        "model.name=glamor_test",
        "model.args={face_size: [32, 32], context_size: [32, 32]}",
        f"data.root={caer_root}",
        "data.num_workers=0",
        f"run.output_dir={out}",
        "run.epochs=1",
        "run.batch_size=4",
        "run.log_with=[]",
        "run.progress=false",
        "run.checkpoint_every=2",
        "stages.joint.epochs=2",
    ]


def test_two_stage_recipe_end_to_end(caer_root: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "run"
    recipe = REPO / "recipes" / "glamor_original_ncaer_s.yaml"
    assert cli_main(["train", "--config", str(recipe), *_overrides(caer_root, out)]) == 0

    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["stages"]) == ["face", "context", "joint"]
    assert [len(s["history"]) for s in metrics["stages"].values()] == [1, 1, 2]
    assert (
        metrics["final"]["test"]["num_samples"] == 6 and metrics["final"]["val"]["num_samples"] == 6
    )
    assert metrics["command"].startswith(("glamor-zoo", "accelerate"))

    # The stages built the right networks and the joint stage started from both branches.
    face_cfg = json.loads((out / "stages" / "face" / "model" / "config.json").read_text())
    context_cfg = json.loads((out / "stages" / "context" / "model" / "config.json").read_text())
    assert (
        face_cfg["model_args"]["inputs"] == "face"
        and context_cfg["model_args"]["inputs"] == "context"
    )
    face_w = load_file(str(out / "stages" / "face" / "model" / "model.safetensors"))
    context_w = load_file(str(out / "stages" / "context" / "model" / "model.safetensors"))
    assert not any(k.startswith("context_encoder") for k in face_w)
    assert any(k.startswith("attention.") for k in context_w)

    # The final model folder loads with timm and evaluates to the run's test accuracy via the CLI.
    import timm

    model = timm.create_model(f"local-dir:{out / 'model'}", pretrained=True)
    assert model.inputs == "both" and model.num_classes == 5
    assert model.pretrained_cfg["label_names"] == ["Anger", "Happy", "Neutral", "Sad", "Surprise"]
    config = json.loads((out / "model" / "config.json").read_text())
    assert config["recipe"] == "glamor_original_ncaer_s" and "test" in config["metrics"]
    eval_dir = tmp_path / "eval"
    assert (
        cli_main(
            ["eval", str(out / "model"), str(caer_root), "--output", str(eval_dir), "--no-progress"]
        )
        == 0
    )
    evaluated = json.loads((eval_dir / "metrics.json").read_text())
    assert evaluated["top1"] == pytest.approx(metrics["final"]["test"]["top1"])
    assert (eval_dir / "confusion_matrix.png").stat().st_size > 1000
    rows = (eval_dir / "predictions.csv").read_text().splitlines()
    assert rows[0].startswith("path,target,prediction,confidence,prob_Anger")
    # The photo whose crop file is 0,0,0,0 (no face) is not scored; it is listed as skipped.
    skipped = (eval_dir / "skipped.csv").read_text().splitlines()[1:]
    assert len(rows) - 1 == 5 and len(skipped) == 1
    assert (out / "plots" / "curves.png").is_file() and (
        out / "eval" / "test" / "confusion_matrix.png"
    ).is_file()

    # Resuming a finished run skips every stage and reproduces the same final weights.
    before = load_file(str(out / "model" / "model.safetensors"))
    assert (
        cli_main(["train", "--config", str(recipe), *_overrides(caer_root, out), "--resume"]) == 0
    )
    after = load_file(str(out / "model" / "model.safetensors"))
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_train_cli_reports_bad_override_in_one_line(
    caer_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    recipe = REPO / "recipes" / "glamor_original_ncaer_s.yaml"
    code = cli_main(
        ["train", "--config", str(recipe), *_overrides(caer_root, tmp_path / "r"), "optim.lrr=1"]
    )
    assert code == 2
    assert "optim.lrr" in capsys.readouterr().err
