"""ONNX export: both inputs, a dynamic batch, onnxruntime = PyTorch within 1e-4 on real faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

pytest.importorskip("onnxruntime", reason="the 'onnx' extra (onnx, onnxruntime) is not installed")
pytest.importorskip("onnxscript", reason="the 'onnx' extra (onnxscript) is not installed")

import onnx
from test_fast import REGISTERED, small_registered_model

import glamor_zoo
from glamor_zoo.data.transforms import GlamorTransform
from glamor_zoo.inference.onnx_export import check_onnx, example_inputs, export_onnx
from glamor_zoo.spec import ModelSpec, get_model_spec
from glamor_zoo_cli import main

DATA = Path(__file__).parent / "data"
PHOTO = DATA / "inference_two_people.jpg"
BOXES = [(215.0, 37.0, 252.0, 88.0), (106.0, 67.0, 136.0, 108.0), (0.0, 0.0, 356.0, 200.0)]


def real_inputs(model: torch.nn.Module) -> tuple[torch.Tensor, ...]:
    """The preprocessed faces (and contexts) of a real photo, as the recogniser builds them."""
    transform = GlamorTransform(get_model_spec(model), train=False)
    samples = [transform(Image.open(PHOTO).convert("RGB"), box) for box in BOXES]
    face = torch.stack([s["face"] for s in samples])
    if "context" not in samples[0]:
        return (face,)
    return face, torch.stack([s["context"] for s in samples])


@pytest.mark.parametrize("name", REGISTERED)
def test_every_registered_model_exports(name: str, tmp_path: Path) -> None:
    model = small_registered_model(name)
    path = export_onnx(model, tmp_path / f"{name}.onnx")
    meta = {p.key: p.value for p in onnx.load(path).metadata_props}
    assert ModelSpec.from_dict(json.loads(meta["glamor_zoo.spec"])) == get_model_spec(model)
    assert check_onnx(model, path, example_inputs(model, batch_size=3)) < 1e-4


def test_glamor_both_inputs_dynamic_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test").eval()
    path = export_onnx(model, tmp_path / "glamor.onnx")
    proto = onnx.load(path)
    assert [i.name for i in proto.graph.input] == ["face", "context"]
    assert [o.name for o in proto.graph.output] == ["logits"]
    for value in (*proto.graph.input, *proto.graph.output):
        assert value.type.tensor_type.shape.dim[0].dim_param  # symbolic batch
    meta = {p.key: p.value for p in proto.metadata_props}
    assert '"context_resize": [128, 171]' in meta["glamor_zoo.preprocess_cfg"]
    inputs = real_inputs(model)
    assert check_onnx(model, path, inputs) < 1e-4  # batch 3 (exported with 2)
    assert check_onnx(model, path, tuple(x[:1] for x in inputs)) < 1e-4  # batch 1


def test_face_only_model_and_the_cli(tmp_path: Path, capsys) -> None:
    from glamor_zoo.models.deep_emotion import packaged_weights
    from glamor_zoo.serialization import save_pretrained

    out = tmp_path / "de.onnx"
    assert main(["export", "deep_emotion_no_stn", str(out)]) == 2  # no weights: refused
    assert "--random-weights" in capsys.readouterr().err
    if packaged_weights("deep_emotion_fer2013.safetensors").is_file():
        name = "deep_emotion.fer2013"  # the packaged model: spatial transformer, real weights
    else:
        torch.manual_seed(0)
        model = glamor_zoo.create_model("deep_emotion")
        name = f"local-dir:{save_pretrained(model, tmp_path / 'de')}"
    assert main(["export", name, str(out)]) == 0
    assert "max |logit difference|" in capsys.readouterr().out
    proto = onnx.load(out)
    assert [i.name for i in proto.graph.input] == ["face"]
    model = glamor_zoo.create_model(name, pretrained=True).eval()
    (face,) = real_inputs(model)
    assert face.shape[1:] == (1, 48, 48)
    assert check_onnx(model, out, (face,)) < 1e-4
    assert check_onnx(model, out, (face[:1],)) < 1e-4
