"""The zoo's face model (``face_resnet18``) and the training ingredients added for it: the
stratified hold-out, label smoothing, random erasing, decoded-once FER-2013 folders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from timm.models.resnet import ResNet

import glamor_zoo
from glamor_zoo.data.datasets import build_dataset
from glamor_zoo.data.transforms import GlamorTransform, face_augment_params, random_erase
from glamor_zoo.models.face_resnet import FaceResNet
from glamor_zoo.spec import get_model_spec
from glamor_zoo.train.config import ConfigError, load_config
from glamor_zoo.train.data import build_split, stratified_holdout

TESTS = Path(__file__).resolve().parent


def test_face_resnet18_architecture_and_cfg() -> None:
    model = glamor_zoo.create_model("face_resnet18").eval()
    assert isinstance(model, FaceResNet) and isinstance(model, ResNet)
    assert sum(p.numel() for p in model.parameters()) == 2_803_095
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (1, 48, 48)
    assert tuple(cfg["mean"]) == (0.5,) and tuple(cfg["std"]) == (0.5,)
    state = model.state_dict()
    assert cfg["first_conv"] == "conv1.0" and cfg["classifier"] == "fc"
    assert "conv1.0.weight" in state and "fc.weight" in state
    features = model.forward_features(torch.rand(2, 1, 48, 48))
    assert features.shape == (2, 256, 6, 6)  # stride-1 deep stem, no max-pool: 8×
    assert [info["reduction"] for info in model.feature_info] == [1, 1, 2, 4, 8]
    assert isinstance(model.fc, torch.nn.Linear)  # a linear classifier
    spec = get_model_spec(model)
    assert (spec.inputs, spec.in_chans, spec.face_size, spec.test_flip) == (
        "face",
        1,
        (48, 48),
        True,
    )


def test_full_resolution_stem_keeps_the_weights_and_halves_the_reduction() -> None:
    cheap = glamor_zoo.create_model("face_resnet18", stem_stride=2).eval()
    full = glamor_zoo.create_model("face_resnet18").eval()
    full.load_state_dict(cheap.state_dict())  # the same tensors: phase 3 starts from phase 2
    assert cheap.feature_info[-1]["reduction"] == 16 and full.feature_info[-1]["reduction"] == 8
    assert full.forward_features(torch.rand(2, 1, 48, 48)).shape == (2, 256, 6, 6)
    assert full(torch.rand(2, 1, 48, 48)).shape == (2, 7)
    with pytest.raises(ValueError, match="stem_stride must be 1 or 2, got 3"):
        glamor_zoo.create_model("face_resnet18", stem_stride=3)


def test_test_flip_is_the_specs_and_leaves_forward() -> None:
    from glamor_zoo.models.face_resnet import flip_averaged_logits
    from glamor_zoo.train.evaluate import forward_batch

    torch.manual_seed(0)
    model = glamor_zoo.create_model("face_resnet18", num_classes=3).eval()
    x = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        plain, mirrored = model(x), model(x.flip(-1))
        torch.testing.assert_close(flip_averaged_logits(model, x), 0.5 * (plain + mirrored))
        torch.testing.assert_close(forward_batch(model, {"face": x}), plain)
        torch.testing.assert_close(
            forward_batch(model, {"face": x}, test_flip=True), 0.5 * (plain + mirrored)
        )
    assert not torch.allclose(plain, mirrored)
    # A face model saved while it was a GLAMOR-Net named it test_flip: now the spec's.
    legacy = glamor_zoo.create_model(
        "face_resnet18", test_flip=False, encoder_args={"stem_stride": 2}
    )
    assert not get_model_spec(legacy).test_flip and legacy.stem_stride == 2


def test_face_resnet18_as_a_glamor_face_branch() -> None:
    model = glamor_zoo.create_model(
        "glamor", face_backbone="face_resnet18", context_backbone="glamor", encoder_widths=(4,) * 5
    )
    assert model.pretrained_cfg["first_conv"][0] == "face_encoder.model.conv1.0"
    assert isinstance(model.face_encoder.model, FaceResNet)
    assert get_model_spec(model).preprocess_cfg()["face_mean"] == [0.5, 0.5, 0.5]
    out = model(torch.rand(2, 3, 96, 96), torch.rand(2, 3, 112, 112))
    assert out.shape == (2, 7) and torch.isfinite(out).all()


def test_stratified_holdout_is_fixed_disjoint_and_per_class() -> None:
    targets = [0] * 50 + [1] * 30 + [2] * 20
    held = stratified_holdout(targets, 0.1, seed=0)
    np.testing.assert_array_equal(held, stratified_holdout(targets, 0.1, seed=0))
    assert not np.array_equal(held, stratified_holdout(targets, 0.1, seed=1))
    counts = np.bincount(np.asarray(targets)[held], minlength=3)
    assert counts.tolist() == [5, 3, 2]


def test_holdout_split_is_cut_from_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(TESTS))
    config = load_config(
        None,
        [
            "data.kind=test_train:tiny_dataset",
            f"data.root={tmp_path}",
            "data.holdout=0.25",
            "data.val_split=holdout",
        ],
    )
    train = build_split(config.data, "train", {}, train=True, seed=0)
    held = build_split(config.data, "holdout", {}, train=False, seed=0)
    assert len(train) + len(held) == 24 and len(held) == 6
    assert set(train.indices).isdisjoint(held.indices)
    assert train[0]["path"] == f"train/{train.indices[0]}.png"
    assert held.classes == train.classes and sorted(held.targets) == [0, 0, 1, 1, 2, 2]
    with pytest.raises(ConfigError, match=r"data\.holdout is 0"):
        load_config(None, [f"data.root={tmp_path}", "data.val_split=holdout"])
    with pytest.raises(ConfigError, match=r"data\.holdout must be a fraction"):
        load_config(None, [f"data.root={tmp_path}", "data.holdout=1.5"])


def test_label_smoothing_is_checked() -> None:
    assert load_config(None, ["data.root=x", "optim.label_smoothing=0.1"]).optim.label_smoothing
    for bad in ("1.0", "-0.1", "lots"):
        with pytest.raises(ConfigError, match=r"optim\.label_smoothing"):
            load_config(None, ["data.root=x", f"optim.label_smoothing={bad}"])


def test_random_erase_replaces_one_rectangle() -> None:
    image = torch.zeros(1, 48, 48)
    assert random_erase(image, 0.0, torch.Generator().manual_seed(0)) is image
    erased = random_erase(image, 1.0, torch.Generator().manual_seed(0))
    again = random_erase(image, 1.0, torch.Generator().manual_seed(0))
    torch.testing.assert_close(erased, again)
    rows, cols = (erased[0] != 0).any(1).nonzero(), (erased[0] != 0).any(0).nonzero()
    area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    assert 0.02 * 48 * 48 - 48 <= area <= 48 * 48 / 3 + 48
    assert int((erased[0] != 0).sum()) == int(area)  # one solid rectangle
    assert torch.equal(image, torch.zeros(1, 48, 48))  # the input is untouched
    assert face_augment_params({"erase": 0.5})["erase"] == 0.5
    with pytest.raises(ValueError, match="erase"):
        face_augment_params({"erase": 1.5})
    train = GlamorTransform({"inputs": "face", "face_augment": {"erase": 1.0}}, train=True)
    face = train(torch.full((3, 40, 40), 128, dtype=torch.uint8), None, torch.Generator())
    assert face["face"].std() > 0


def test_fer2013_preload_gives_the_same_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for split in ("train",):
        for label in ("happy", "sad"):
            folder = tmp_path / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                pixels = rng.integers(0, 256, (48, 48), dtype=np.uint8)
                Image.fromarray(pixels, mode="L").save(folder / f"{i}.png")
    model = glamor_zoo.create_model("face_resnet18")
    kwargs = {"split": "train", "preprocess_cfg": get_model_spec(model).preprocess_cfg()}
    lazy = build_dataset("fer2013", str(tmp_path), **kwargs)
    eager = build_dataset("fer2013", str(tmp_path), preload=True, **kwargs)
    (tmp_path / "train" / "happy" / "0.png").unlink()  # decoded already: no file read again
    for i in range(len(lazy) - 1, 0, -1):
        torch.testing.assert_close(eager[i]["face"], lazy[i]["face"])
    assert eager[0]["label"] == 0 and eager[0]["face"].shape == (1, 48, 48)


@pytest.mark.parametrize("architecture", ["face_resnet18", "face_resnet26"])
def test_glamor_face_branch_starts_from_the_fer_face_model(
    architecture: str, tmp_path: Path
) -> None:
    from timm.models import adapt_input_conv

    from glamor_zoo.serialization import save_pretrained
    from glamor_zoo.train.init import init_from_pretrained

    torch.manual_seed(0)
    fer = glamor_zoo.create_model(architecture, num_classes=7)
    save_pretrained(fer, tmp_path / "fer", label_names=[str(i) for i in range(7)])
    config = load_config(
        None,
        [
            "data.root=x",
            "model.name=glamor",
            f"model.args={{face_backbone: {architecture}, context_backbone: glamor}}",
            f"model.init_from={{'local-dir:{tmp_path / 'fer'}': [face_encoder]}}",
        ],
    )
    model = glamor_zoo.create_model(config.model.name, **config.model.args)
    copied = init_from_pretrained(model, config.model.init_from)
    assert list(copied.values()) == [len([k for k in fer.state_dict() if not k.startswith("fc.")])]
    own, source = model.state_dict(), fer.state_dict()
    stem = "conv1.0.weight"
    assert own[f"face_encoder.model.{stem}"].shape[1] == 3 and source[stem].shape[1] == 1
    torch.testing.assert_close(
        own[f"face_encoder.model.{stem}"], adapt_input_conv(3, source[stem], base_chans=1)
    )
    for key in source:
        if not key.startswith("fc.") and key != stem:
            assert torch.equal(own[f"face_encoder.model.{key}"], source[key]), key
    # A grey face repeated to RGB (96 px here, 48 px in FER-2013) gives the same face vector.
    fer.eval(), model.eval()
    grey = torch.rand(1, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(
            model.forward_features(grey.expand(1, 3, 96, 96), torch.rand(1, 3, 112, 112)).face,
            fer.forward_features(grey).mean((2, 3)),
            rtol=1e-4,
            atol=1e-5,
        )
    with pytest.raises(ConfigError, match="no weights under 'attention'"):
        init_from_pretrained(model, {f"local-dir:{tmp_path / 'fer'}": ["attention"]})
    with pytest.raises(
        ConfigError, match=r"model\.init_from=\['face_encoder'\]: expected a mapping"
    ):
        load_config(None, ["data.root=x", "model.init_from=[face_encoder]"])


@pytest.mark.skipif(
    importlib.util.find_spec("torchao") is None, reason="needs torchao (extra: fast)"
)
def test_a_flip_averaging_face_model_can_be_quantised_to_int8() -> None:
    # The flip averaging is outside the model: the quantised graph is the plain timm ResNet,
    # and the recogniser gives it the faces and their mirrors as one batch.
    from glamor_zoo.fast import quantize_int8
    from glamor_zoo.models.face_resnet import flip_averaged_logits

    torch.manual_seed(0)
    model = glamor_zoo.create_model("face_resnet18", num_classes=3).eval()
    assert get_model_spec(model).test_flip
    faces = torch.rand(8, 1, 48, 48)
    quantized = quantize_int8(model, [(faces[:4],), (faces[4:],)])
    with torch.no_grad():
        reference = flip_averaged_logits(model, faces)
        out = flip_averaged_logits(quantized.graph, faces)
    assert out.shape == reference.shape == (8, 3)
    torch.testing.assert_close(out, reference, rtol=0.2, atol=0.2 * float(reference.abs().max()))
