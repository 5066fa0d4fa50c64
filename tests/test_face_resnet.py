"""Face ResNets are plain timm models and give the logits they gave as face-only GLAMOR-Nets.

The released face weights were saved from a face-only GLAMOR-Net whose ``forward`` averaged the
face vectors of each face and its mirror. Rebuilt as that GLAMOR-Net here (the reference), each
released tag must give the same logits through the recogniser as through the reference; folders
saved before load; recipes' ``init_from`` (``face_encoder``, ``head``) still starts both a face
ResNet and a GLAMOR-Net's face branch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import glamor_zoo
from glamor_zoo.data.transforms import to_uint8_tensor
from glamor_zoo.models._released import PACKAGE_WEIGHTS, find_released_file
from glamor_zoo.models.face_resnet import FaceResNet
from glamor_zoo.train.init import init_from_pretrained

FACE_TAGS = ("face_resnet18.fer2013", "face_resnet26.fer2013")


def _legacy_reference(tag: str) -> torch.nn.Module:
    """The tag as it was built before: a face-only GLAMOR-Net with flip averaging in forward."""
    architecture = tag.split(".")[0]
    reference = glamor_zoo.create_model(
        "glamor",
        backbone=architecture,
        encoder_args={"stem_stride": 1},
        inputs="face",
        in_chans=1,
        face_size=(48, 48),
        hidden_dim=0,
        drop_rate=0.2,
        test_flip=True,
    )
    path = find_released_file(f"{tag.replace('.', '_')}.safetensors")
    reference.load_state_dict({k: v.float() for k, v in load_file(str(path)).items()})
    return reference.eval()


@pytest.mark.parametrize("tag", FACE_TAGS)
def test_a_released_face_tag_gives_its_former_logits_through_the_recogniser(tag: str) -> None:
    reference = _legacy_reference(tag)
    recognizer = glamor_zoo.EmotionRecognizer(tag, detector=None, device="cpu", fast=False)
    assert isinstance(recognizer.model, FaceResNet) and recognizer.test_flip
    rng = torch.Generator().manual_seed(0)
    image = Image.fromarray(torch.randint(0, 256, (48, 48), generator=rng).byte().numpy(), "L")
    image = image.convert("RGB")
    result = recognizer(image)
    (face,) = result.faces
    tensor = recognizer.transform.face(to_uint8_tensor(image), face.box)
    with torch.no_grad():
        expected = reference(tensor[None]).softmax(-1)[0]
    got = torch.tensor([face.probabilities[label] for label in recognizer.labels])
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # and on a batch of tensors, logits against logits
    faces = torch.rand(4, 1, 48, 48, generator=rng)
    from glamor_zoo.models.face_resnet import flip_averaged_logits

    with torch.no_grad():
        torch.testing.assert_close(
            flip_averaged_logits(recognizer.model, faces), reference(faces), rtol=1e-5, atol=1e-5
        )
    unflipped = glamor_zoo.EmotionRecognizer(tag, detector=None, fast=False, test_flip=False)
    assert not unflipped.test_flip


def test_a_face_folder_saved_as_a_glamor_net_still_loads(tmp_path: Path) -> None:
    """A released tag's config (model_args of a face-only GLAMOR-Net) and its weights, as a
    folder: what ``save_pretrained`` wrote for face models before they were timm models."""
    tag = "face_resnet26.fer2013"
    folder = tmp_path / "saved"
    folder.mkdir()
    config = json.loads((PACKAGE_WEIGHTS / "face_resnet26_fer2013.json").read_text())
    assert "encoder_args" in config["model_args"] and "spec" in config["model_args"]
    (folder / "config.json").write_text(json.dumps(config))
    shutil.copy(
        find_released_file("face_resnet26_fer2013.safetensors"), folder / "model.safetensors"
    )
    loaded = glamor_zoo.create_model(f"local-dir:{folder}").eval()
    assert isinstance(loaded, FaceResNet) and glamor_zoo.get_model_spec(loaded).test_flip
    released = glamor_zoo.create_model(tag, pretrained=True).eval()
    faces = torch.rand(3, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(loaded(faces), released(faces))


def test_recipes_init_from_a_face_tag_start_a_face_resnet_and_a_glamor_face_branch() -> None:
    source = glamor_zoo.create_model("face_resnet26.fer2013", pretrained=True)
    # The form of the recipes: a face ResNet from a face tag, trunk and classifier.
    student = glamor_zoo.create_model("face_resnet26")
    copied = init_from_pretrained(student, {"face_resnet26.fer2013": ["face_encoder", "head"]})
    assert copied == {
        "face_resnet26.fer2013:face_encoder": len(source.state_dict()) - 2,
        "face_resnet26.fer2013:head": 2,
    }
    for key, value in source.state_dict().items():
        assert torch.equal(student.state_dict()[key], value), key
    # A GLAMOR-Net with the face ResNet as its face branch.
    glamor = glamor_zoo.create_model(
        "glamor", face_backbone="face_resnet26", context_backbone="glamor", encoder_widths=(4,) * 5
    )
    init_from_pretrained(glamor, {"face_resnet26.fer2013": ["face_encoder"]})
    own = glamor.state_dict()
    assert torch.equal(
        own["face_encoder.model.layer4.2.conv2.weight"], source.layer4[2].conv2.weight
    )
    # A GLAMOR-Net's face branch also starts a face ResNet (the other way round).
    back = glamor_zoo.create_model("face_resnet26", in_chans=3)
    from glamor_zoo.train.init import copy_weights

    copy_weights(back, own, ["face_encoder"], "test")
    assert torch.equal(back.layer1[0].conv1.weight, own["face_encoder.model.layer1.0.conv1.weight"])
