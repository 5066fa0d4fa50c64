"""Deep-Emotion: the model, the spatial transformer, occlusion saliency, the packaged weights.

Its training (the zoo trainer's L2 term, cosine schedule, time budget, k-fold driver and the
two recipes) is tested in test_train_deep_emotion.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import timm
import torch
from PIL import Image
from torch import nn

import glamor_zoo
from glamor_zoo.components.stn import FACE_TRANSFORM, SpatialTransformer, create_face_transform
from glamor_zoo.models.deep_emotion import FER2013_CLASSES, DeepEmotion, packaged_weights
from glamor_zoo.registry import UnknownComponentError
from glamor_zoo.saliency import black_fill, occlusion_saliency, render_saliency, save_saliency_png
from glamor_zoo.spec import get_model_spec

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SHARED = ROOT.parent / "shared" / "data"
FACES = sorted(DATA.glob("deep_emotion_face_*.png"))
PACKAGED = packaged_weights("deep_emotion_fer2013.safetensors")


# ---------------------------------------------------------------------------- model


def test_architecture_is_the_papers() -> None:
    model = glamor_zoo.create_model("deep_emotion")
    assert isinstance(model, DeepEmotion)
    convs = [m for m in model.features.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 10, (3, 3)),
        (10, 10, (3, 3)),
        (10, 10, (3, 3)),
        (10, 10, (3, 3)),
    ]
    loc = [m for m in model.stn.localization if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size) for c in loc] == [(8, (7, 7)), (10, (5, 5))]
    assert (model.stn.fc1.in_features, model.stn.fc1.out_features) == (640, 32)
    assert (model.head.fc1.in_features, model.head.fc1.out_features) == (810, 50)
    # timm's convention: num_features is the width of the forward_features map (10 channels);
    # the pre_logits width stays 50.
    assert model.num_features == 10 and model.head_hidden_size == 50


def test_timm_interface() -> None:
    torch.manual_seed(0)
    model = timm.create_model("deep_emotion", num_classes=5).eval()
    x = torch.randn(3, 1, 48, 48)
    feats = model.forward_features(x)
    assert feats.shape == (3, 10, 9, 9)
    assert model.forward_head(feats, pre_logits=True).shape == (3, 50)
    assert model(x).shape == (3, 5)
    assert model.get_classifier() is model.head.fc
    model.reset_classifier(3)
    assert model(x).shape == (3, 3) and model.num_classes == 3
    model.reset_classifier(0)
    assert model(x).shape == (3, 50)
    cfg = model.pretrained_cfg
    names = dict(model.named_modules())
    for conv in cfg["first_conv"]:
        assert conv in names
    assert cfg["classifier"] in names
    assert cfg["label_names"] == ("Anger", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")
    assert model.model_args["face_transform"] == "stn"


def test_deprecated_l2_penalty_is_the_trainers_term_on_the_last_two_fc_layers() -> None:
    from glamor_zoo.train.regularization import L2Penalty

    model = glamor_zoo.create_model("deep_emotion")
    with pytest.warns(DeprecationWarning, match=r"regularized_parameters.*optim\.l2_modules"):
        params = model.regularized_parameters()
    assert params[0] is model.head.fc1.weight and params[1] is model.head.fc.weight
    penalty = L2Penalty(model, ["head.fc1", "head.fc"], 1.0)
    assert penalty.parameters == params
    with pytest.warns(DeprecationWarning, match=r"l2_penalty.*0\.3\.0.*L2Penalty"):
        torch.testing.assert_close(model.l2_penalty(), penalty())


def test_preprocess_cfg_is_face_only_grayscale() -> None:
    from glamor_zoo.data import GlamorTransform

    model = glamor_zoo.create_model("deep_emotion")
    cfg = get_model_spec(model).preprocess_cfg()
    assert cfg["inputs"] == "face" and cfg["in_chans"] == 1 and cfg["face_size"] == [48, 48]
    out = GlamorTransform(cfg)(Image.new("RGB", (100, 80), (255, 255, 255)), (0, 0, 100, 80))
    assert set(out) == {"face"} and out["face"].shape == (1, 48, 48)
    torch.testing.assert_close(out["face"], torch.ones(1, 48, 48))  # white → +1


def test_preprocess_cfg_still_answers_with_a_deprecation_warning() -> None:
    for name in ("deep_emotion", "glamor_test"):
        model = glamor_zoo.create_model(name)
        with pytest.warns(DeprecationWarning, match="get_model_spec"):
            assert model.preprocess_cfg() == get_model_spec(model).preprocess_cfg()


def test_no_stn_ablation_and_other_sizes() -> None:
    model = glamor_zoo.create_model("deep_emotion_no_stn")
    assert isinstance(model.stn, nn.Identity)
    assert model.pretrained_cfg["first_conv"] == "features.conv1"
    big = glamor_zoo.create_model("deep_emotion", img_size=64, in_chans=3, num_classes=2)
    assert big(torch.randn(2, 3, 64, 64)).shape == (2, 2)
    with pytest.raises(ValueError, match="too small"):
        glamor_zoo.create_model("deep_emotion_no_stn", img_size=12)


# ---------------------------------------------------------------------------- spatial transformer


def test_stn_starts_near_identity_and_learns() -> None:
    torch.manual_seed(0)
    x = torch.rand(4, 1, 48, 48)
    stn = SpatialTransformer(1, (48, 48))
    theta = stn.theta(x)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    assert (theta - identity).abs().max() < 0.05
    stn.reset_identity(std=0)
    torch.testing.assert_close(stn(x), x, atol=1e-5, rtol=0)
    stn.reset_identity()
    stn(x).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in stn.parameters())


def test_stn_applies_the_regressed_affine() -> None:
    stn = SpatialTransformer(1, (48, 48), align_corners=True)
    stn.reset_identity(std=0)
    with torch.no_grad():  # theta = horizontal flip
        stn.fc2.bias.copy_(torch.tensor([-1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))
    x = torch.rand(2, 1, 48, 48)
    torch.testing.assert_close(stn(x), x.flip(-1), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="built for"):
        stn(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="too small"):
        SpatialTransformer(1, (10, 10))


def test_face_transform_registry() -> None:
    assert {"stn", "none"} <= set(glamor_zoo.list_components("face_transform"))
    assert FACE_TRANSFORM.get("stn") is SpatialTransformer
    with pytest.raises(UnknownComponentError, match="stn"):
        create_face_transform("warp", in_chans=1, input_size=(48, 48))


def test_glamor_with_face_stn() -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test", face_stn="stn", face_size=(32, 32)).train()
    assert isinstance(model.face_stn, SpatialTransformer)
    face, context = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 40, 40)
    model(face, context).square().sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.face_stn.parameters())
    plain = glamor_zoo.create_model("glamor_test")
    assert plain.face_stn is None


# ---------------------------------------------------------------------------- saliency


class _TopLeftModel(nn.Module):
    """Class 0 while the top-left 12×12 corner is bright, else class 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        corner = x[:, 0, :12, :12].mean(dim=(1, 2))
        return torch.stack([corner * 10, torch.full_like(corner, 8.0)], dim=1)


def test_occlusion_saliency_finds_the_region_that_matters() -> None:
    face = torch.ones(1, 48, 48)
    result = occlusion_saliency(_TopLeftModel(), face, window=8, stride=4, fill=0.0)
    assert result.target == 0 and result.changed.shape == (48, 48)
    assert result.changed[:4, :4].min() == 1.0  # every square over the corner flips it
    assert result.changed[24:, :].max() == 0 and result.changed[:, 24:].max() == 0
    assert result.prob_drop[:4, :4].min() > 0.5
    tracked = occlusion_saliency(_TopLeftModel(), face, window=8, stride=4, fill=0.0, target=1)
    assert tracked.target == 1 and tracked.prob_drop[:4, :4].max() < 0
    with pytest.raises(ValueError, match="window"):
        occlusion_saliency(_TopLeftModel(), face, window=60)
    with pytest.raises(ValueError, match="one image"):
        occlusion_saliency(_TopLeftModel(), torch.ones(2, 1, 48, 48))


def test_saliency_of_a_glamor_model_occludes_the_face_only() -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test", num_classes=3)
    result = occlusion_saliency(
        model, torch.rand(3, 32, 32), torch.rand(3, 40, 40), window=8, stride=8
    )
    assert result.changed.shape == (32, 32) and result.probs.shape == (3,)
    assert black_fill(model, 3) == [0.0, 0.0, 0.0]  # the paper's encoder sees pixels / 255
    assert black_fill(glamor_zoo.create_model("deep_emotion"), 1) == [-1.0]


def test_saliency_png(tmp_path: Path) -> None:
    sal = torch.zeros(48, 48)
    sal[:8, :8] = 1.0
    face = np.full((48, 48), 128, dtype=np.uint8)
    image = render_saliency(sal, face, scale=2)
    assert image.shape == (96, 192, 3) and image.dtype == np.uint8
    out = tmp_path / "s.png"
    save_saliency_png(str(out), sal, face, scale=1)
    with Image.open(out) as png:
        assert png.format == "PNG" and png.size == (96, 48)
        pixels = np.asarray(png.convert("RGB"))
    assert not np.array_equal(pixels[0, 48], pixels[40, 90])  # hot corner differs from cold area


# ---------------------------------------------------------------------------- packaged weights


def test_packaged_weights_ship_with_the_package() -> None:
    # NOTE: a failure, never a skip: a missing file is a packaging regression.
    assert PACKAGED.is_file() and PACKAGED.with_suffix(".json").is_file()


def test_packaged_fer2013_weights_load_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    from safetensors.torch import load_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = glamor_zoo.create_model("deep_emotion.fer2013", pretrained=True)
    state = load_file(PACKAGED)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(tensor, state[name])
    assert model.pretrained_cfg["hf_hub_id"] == "glamor-zoo/deep_emotion.fer2013"
    assert PACKAGED.stat().st_size < 1_000_000
    config = json.loads(PACKAGED.with_suffix(".json").read_text())
    assert config["architecture"] == "deep_emotion"
    assert config["label_names"] == [*model.pretrained_cfg["label_names"]]
    assert config["metrics"]["val_accuracy"] > 0.5
    # FER-2013 is research-only data: the weights are not MIT (the code is).
    assert model.pretrained_cfg["license"] == config["pretrained_cfg"]["license"] == "other"
    assert "research use only" in config["weights_terms"].lower()
    default = timm.create_model("deep_emotion", pretrained=True)  # default tag = fer2013
    torch.testing.assert_close(default.head.fc.weight, model.head.fc.weight)


# Logits of the packaged model on the three faces of tests/data (48-px grey, bilinear, (x-0.5)/0.5),
# computed by the code before num_features became the channel count (commit f010fcf).
LOGITS_BEFORE_NUM_FEATURES_FIX = [
    [2.34591, -1.34282, 0.71682, -0.98162, -0.49843, 1.77223, -4.69691],
    [-0.47172, -1.3054, -0.17535, 2.76533, -0.87752, -0.02766, -1.92014],
    [0.12387, -1.15546, 0.312, 0.18246, -0.28517, 0.15449, -0.43934],
]


def test_a_folder_written_before_the_num_features_fix_loads_identically(tmp_path: Path) -> None:
    """The packaged config records num_features=810 (flattened); it loads to the same outputs,
    with the timm num_features (10 channels) and the same pre_logits width (50)."""
    import shutil

    config = json.loads(PACKAGED.with_suffix(".json").read_text())
    assert config["num_features"] == 810 and config["pretrained_cfg"]["pool_size"] is None
    shutil.copy(PACKAGED.with_suffix(".json"), tmp_path / "config.json")
    shutil.copy(PACKAGED, tmp_path / "model.safetensors")
    model = glamor_zoo.create_model(f"local-dir:{tmp_path}").eval()
    faces = [
        np.asarray(
            Image.open(DATA / f"deep_emotion_face_{name}.png")
            .convert("L")
            .resize((48, 48), Image.BILINEAR),
            dtype=np.float32,
        )
        / 255.0
        for name in ("angry", "happy", "surprised")
    ]
    x = (torch.from_numpy(np.stack(faces))[:, None] - 0.5) / 0.5
    with torch.no_grad():
        logits = model(x)
        pre_logits = model.forward_head(model.forward_features(x), pre_logits=True)
    torch.testing.assert_close(
        logits, torch.tensor(LOGITS_BEFORE_NUM_FEATURES_FIX), rtol=0, atol=1e-5
    )
    assert model.num_features == 10 and pre_logits.shape == (3, 50)


def test_packaged_model_on_real_faces() -> None:
    from glamor_zoo.data import GlamorTransform, load_image

    model = glamor_zoo.create_model("deep_emotion.fer2013", pretrained=True).eval()
    transform = GlamorTransform(get_model_spec(model).preprocess_cfg())
    labels = model.pretrained_cfg["label_names"]
    predicted = {}
    for path in FACES:
        image = load_image(path)
        x = transform(image, (0, 0, image.width, image.height))["face"]
        with torch.no_grad():
            probs = model(x.unsqueeze(0)).softmax(1)[0]
        assert torch.isfinite(probs).all()
        predicted[path.stem.rsplit("_", 1)[-1]] = labels[int(probs.argmax())]
    assert predicted["happy"] == "Happy"


def test_packaged_model_accuracy_on_fer2013_validation() -> None:
    val = SHARED / "fer2013" / "validation"
    if not val.is_dir():
        pytest.skip(f"FER-2013 is research-only and not in the repository; {val} is absent")
    from glamor_zoo.data import GlamorTransform, load_image

    model = glamor_zoo.create_model("deep_emotion.fer2013", pretrained=True).eval()
    transform = GlamorTransform(get_model_spec(model).preprocess_cfg())
    faces, labels = [], []
    for index, name in enumerate(FER2013_CLASSES):
        for path in sorted((val / name).glob("*.jpg"))[:30]:
            image = load_image(path)
            faces.append(transform(image, (0, 0, image.width, image.height))["face"])
            labels.append(index)
    with torch.no_grad():
        predicted = model(torch.stack(faces)).argmax(1)
    accuracy = (predicted == torch.tensor(labels)).float().mean().item()
    assert accuracy > 0.4  # chance is 0.14; the full validation set gives the card's number


# ---------------------------------------------------------------------------- CLI


def test_cli_saliency_writes_pngs_and_reports_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from glamor_zoo_cli import main

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    code = main(["saliency", str(FACES[0]), str(broken), "--out-dir", str(tmp_path)])
    assert code == 1  # one image failed, the other was written
    out = tmp_path / f"{FACES[0].stem}_saliency.png"
    with Image.open(out) as png:
        assert png.size == (48 * 4 * 2, 48 * 4)
    assert str(out) in capsys.readouterr().out
    code = main(
        [
            "saliency",
            str(FACES[0]),
            "--target",
            "sad",
            "--map",
            "prob_drop",
            "--out-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    assert main(["saliency", str(FACES[0]), "--target", "bored"]) == 2


def test_cli_saliency_of_a_glamor_model_needs_a_box(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from glamor_zoo.serialization import save_pretrained
    from glamor_zoo_cli import main

    torch.manual_seed(0)
    save_pretrained(glamor_zoo.create_model("glamor_test", face_size=(32, 32)), tmp_path / "m")
    model = f"local-dir:{tmp_path / 'm'}"
    assert main(["saliency", str(FACES[0]), "--model", model]) == 2
    assert "--box" in capsys.readouterr().err
    args = ["saliency", str(FACES[0]), "--model", model, "--box", "8,8,40,40"]
    assert main([*args, "--out-dir", str(tmp_path)]) == 0
    with Image.open(tmp_path / f"{FACES[0].stem}_saliency.png") as png:
        assert png.size == (32 * 4 * 2, 32 * 4)
    assert main(["saliency", str(FACES[0]), "--model", "no_such_model"]) == 2
