"""timm's per-model checks (tests/timm_conformance/test_models.py) for the two-input GLAMOR models.

The vendored timm tests feed one image; GLAMOR models take (face, context). This module runs the
same checks with both inputs: default cfgs and factory placement, forward / backward, the head
(``forward_features`` / ``forward_head(pre_logits=True)`` / ``reset_classifier``), torch.fx,
torch.export, gradient checkpointing that really recomputes, and ``features_only`` (refused with a
clear error). TorchScript is a known limit: GlamorNet.forward_features would need Optional
refinement through the pluggable attention / fusion modules, whose signatures differ per
component; ``test_torchscript_is_a_known_limit`` records the errors. Models are built in tiny configurations
(32-px inputs, narrow paper encoders) to keep the suite fast.
"""

import inspect

import pytest
import timm
import timm.optim
import torch
from timm.layers import get_notrace_functions, get_notrace_modules
from timm.models import group_parameters
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

import glamor_zoo
from glamor_zoo.models.glamor import GlamorFeatures, GlamorNet

GLAMOR_MODELS = [
    name
    for name in glamor_zoo.list_models()
    if isinstance(glamor_zoo.create_model(name, device="meta"), GlamorNet)
]
TINY = {"encoder_widths": (4, 8, 8, 16, 16), "hidden_dim": 16}
SIZE = 32
# FX → TorchScript keeps forward's `face: Tensor | None` annotation, which the encoders' convs
# reject; a non-Optional face would drop context-only calls model(None, context).
FX_TORCHSCRIPT_KNOWN = "Expected a value of type 'Tensor' for argument 'input'"


def _kwargs(name: str) -> dict:
    """Tiny constructor arguments: narrow paper encoders (timm backbones stay as they are)."""
    model = glamor_zoo.create_model(name, device="meta")
    return dict(TINY) if model.face_backbone == "glamor" == model.context_backbone else {}


def _create(name: str, **kwargs: object) -> GlamorNet:
    torch.manual_seed(0)
    return glamor_zoo.create_model(name, **{**_kwargs(name), **kwargs})


def _inputs(batch: int = 2, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return (
        torch.randn(batch, 3, SIZE, SIZE, generator=gen).to(device),
        torch.randn(batch, 3, SIZE, SIZE, generator=gen).to(device),
    )


def _fx_model(model: torch.nn.Module) -> torch.nn.Module:
    """The vendored tests' FX model: timm's notrace modules and functions, the output node."""
    tracer_kwargs = {
        "leaf_modules": get_notrace_modules(),
        "autowrap_functions": get_notrace_functions(),
        "param_shapes_constant": True,
    }
    train_nodes, eval_nodes = get_graph_node_names(model, tracer_kwargs=tracer_kwargs)
    return create_feature_extractor(
        model,
        train_return_nodes=[train_nodes[-1]],
        eval_return_nodes=[eval_nodes[-1]],
        tracer_kwargs=tracer_kwargs,
    )


@pytest.mark.parametrize("name", GLAMOR_MODELS)
def test_default_cfgs(name: str) -> None:
    """timm's test_model_default_cfgs, on the meta device, with (face, context)."""
    kwargs = {**_kwargs(name), "device": "meta", "dtype": torch.float32}
    model = glamor_zoo.create_model(name, **kwargs).eval()
    with pytest.raises(TypeError):
        glamor_zoo.create_model(name, device="meta", not_a_model_arg=1)
    assert inspect.signature(model.reset_classifier).parameters["global_pool"].default is None
    groups = group_parameters(model, model.group_matcher(coarse=False), reverse=True)
    assert len(set(groups.values())) > 1
    assert model.num_classes > 0 and model.num_features > 0 and model.head_hidden_size > 0
    cfg = model.pretrained_cfg
    state_dict = model.state_dict()
    assert model.in_chans == cfg["input_size"][0]
    face, context = _inputs(1, "meta")

    features = model.forward_features(face, context)
    assert isinstance(features, GlamorFeatures)
    assert features.fused.shape[1] == model.num_features
    pre = model.forward_head(features, pre_logits=True)
    assert pre.shape[1] == model.head_hidden_size
    model.to(torch.bfloat16)
    assert model(face.bfloat16(), context.bfloat16()).dtype == torch.bfloat16
    model.to(torch.float32)
    model.reset_classifier(0)
    assert model.num_classes == 0 and model(face, context).shape == pre.shape
    headless = glamor_zoo.create_model(name, **kwargs, num_classes=0).eval()
    assert headless(face, context).shape == pre.shape

    for key in ("classifier", "first_conv"):
        names = (cfg[key],) if isinstance(cfg[key], str) else cfg[key]
        assert all(f"{n}.weight" in state_dict for n in names), (key, names)

    # reset_classifier keeps the model's device, dtype and mode
    model.to(device="meta", dtype=torch.float64)
    model.reset_classifier(0)
    model.reset_classifier(2)
    assert {(p.device.type, p.dtype) for p in model.get_classifier().parameters()} == {
        ("meta", torch.float64)
    }
    assert all(not m.training for m in model.modules())
    # factory device without a device context; frozen weights stay frozen after a reset
    misplaced = [n for n, t in headless.state_dict().items() if t.device.type != "meta"]
    assert not misplaced
    headless.requires_grad_(False)
    headless.reset_classifier(0)
    assert not [n for n, p in headless.named_parameters() if p.requires_grad]


@pytest.mark.parametrize("name", GLAMOR_MODELS)
def test_forward_backward_and_checkpointing_keep_the_output(name: str) -> None:
    """timm's test_model_forward / test_model_backward, with (face, context)."""
    model = _create(name, num_classes=42).train()
    face, context = _inputs()
    out = model(face, context)
    assert out.shape == (2, 42) and torch.isfinite(out).all()
    out.mean().backward()
    assert [n for n, p in model.named_parameters() if p.grad is None] == []
    model.eval()
    with torch.no_grad():
        expected = model(face, context)
        model.set_grad_checkpointing()
        torch.testing.assert_close(model(face, context), expected, rtol=1e-4, atol=1e-5)


# A module inside the checkpointed part of each kind of encoder.
@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("glamor_test", "face_encoder.blocks.1.conv"),
        ("glamor_resnet18", "context_encoder.model.layer1.0.conv1"),
        ("deep_emotion", "features.conv2"),
    ],
)
def test_grad_checkpointing_recomputes_and_keeps_the_gradients(name: str, probe: str) -> None:
    """Checkpointed modules run again in the backward pass; the gradients do not change."""
    torch.manual_seed(0)
    model = glamor_zoo.create_model(name).train()
    inputs = (torch.randn(2, 1, 48, 48),) if name == "deep_emotion" else _inputs()
    calls: list[bool] = []
    model.get_submodule(probe).register_forward_hook(
        lambda *_: calls.append(torch.is_grad_enabled())
    )
    grads = []
    for enable in (False, True):
        model.set_grad_checkpointing(enable)
        model.zero_grad()
        calls.clear()
        torch.manual_seed(1)  # the same dropout masks
        model(*inputs).square().sum().backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters()})
        assert len(calls) == (2 if enable else 1), f"set_grad_checkpointing({enable}): {calls}"
    for key, grad in grads[0].items():
        torch.testing.assert_close(grads[1][key], grad, msg=key)


@pytest.mark.parametrize("name", GLAMOR_MODELS)
def test_fx_forward_and_backward(name: str) -> None:
    """timm's test_model_forward_fx / test_model_backward_fx, with (face, context)."""
    model = _create(name).eval()
    face, context = _inputs()
    with torch.inference_mode():
        expected = model(face, context)
        traced = next(iter(_fx_model(model)(face, context).values()))
    torch.testing.assert_close(traced, expected, rtol=1e-4, atol=1e-5)

    model = _create(name, num_classes=42).train()
    out = next(iter(_fx_model(model).train()(face, context).values()))
    out.mean().backward()
    assert out.shape == (2, 42)
    assert [n for n, p in model.named_parameters() if p.grad is None] == []


@pytest.mark.parametrize("name", GLAMOR_MODELS)
def test_torch_export(name: str) -> None:
    model = _create(name).eval()
    face, context = _inputs()
    program = torch.export.export(model, (face, context))
    with torch.no_grad():
        torch.testing.assert_close(program.module()(face, context), model(face, context))


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("glamor_test", "Variable 'weights' previously had type NoneType"),
        ("glamor_face_only", "cannot call a value of type 'NoneType'"),
    ],
)
def test_torchscript_is_a_known_limit(name: str, error: str) -> None:
    """TorchScript (deprecated by PyTorch; torch.export above works) fails as recorded."""
    model = _create(name).eval()
    with pytest.raises(RuntimeError, match=error):
        torch.jit.script(model)
    with pytest.raises(RuntimeError, match=FX_TORCHSCRIPT_KNOWN):
        torch.jit.script(_fx_model(model))


def test_features_only_is_refused_with_the_alternative() -> None:
    with pytest.raises(ValueError, match=r"features_only=True is not supported.*forward_features"):
        timm.create_model("glamor_test", features_only=True)


@pytest.mark.parametrize("name", glamor_zoo.list_models())
def test_layer_decay_optimizer(name: str) -> None:
    """timm's layer-wise lr decay: numeric groups, the stem lowest, the classifier at 1."""
    model = glamor_zoo.create_model(name, device="meta")
    optimizer = timm.optim.create_optimizer_v2(model, "sgd", lr=0.1, layer_decay=0.7)
    scale_of = {id(p): g["lr_scale"] for g in optimizer.param_groups for p in g["params"]}
    params = dict(model.named_parameters())
    scales = sorted(set(scale_of.values()))
    assert len(scales) >= 3, scales
    first_conv = model.pretrained_cfg["first_conv"]
    first_conv = first_conv if isinstance(first_conv, str) else first_conv[0]
    assert scale_of[id(params[f"{first_conv}.weight"])] == scales[0]
    classifier = model.pretrained_cfg["classifier"]
    assert scale_of[id(params[f"{classifier}.weight"])] == scales[-1] == 1.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_factory_dtype_and_device(dtype: torch.dtype) -> None:
    model = timm.create_model("glamor_test", dtype=dtype)
    assert {t.dtype for t in model.state_dict().values() if t.is_floating_point()} == {dtype}
    face, context = _inputs()
    assert model.eval()(face.to(dtype), context.to(dtype)).dtype == dtype
    with pytest.raises(ValueError, match=r"dtype=torch\.int8 is not a floating-point type"):
        timm.create_model("glamor_test", dtype=torch.int8)
    model = timm.create_model("deep_emotion", device="meta")
    assert {t.device.type for t in model.state_dict().values()} == {"meta"}
    assert "device" not in model.model_args and "dtype" not in model.model_args


def test_the_vendored_timm_tests_refuse_another_timm_version() -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parent / "timm_conformance" / "conftest.py"
    spec = importlib.util.spec_from_file_location("timm_conformance_conftest", path)
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    assert timm.__version__ == conftest.VENDORED_TIMM_VERSION
    conftest.check_timm_version(timm.__version__)
    with pytest.raises(
        RuntimeError, match=r"timm 1\.0\.30 is installed.*pip install timm==1\.0\.31"
    ):
        conftest.check_timm_version("1.0.30")
