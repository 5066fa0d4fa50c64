"""Every registered model, on timm's pattern: forward, backward, classifier reset, cfg names."""

from __future__ import annotations

import pytest
import timm
import torch

import glamor_zoo
from glamor_zoo.components.attention import GlobalLocalAttention
from glamor_zoo.models.glamor import GlamorNet

ALL_MODELS = glamor_zoo.list_models()
GLAMOR_MODELS = [
    m for m in ALL_MODELS if isinstance(glamor_zoo.create_model(m, pretrained=False), GlamorNet)
]
# timm backbones are real-sized; small images keep them fast on CPU.
FACE_SIZE, CONTEXT_SIZE = 64, 64


def _inputs(model: torch.nn.Module, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    if isinstance(model, GlamorNet):
        c = model.in_chans
        return (
            torch.rand(batch, c, FACE_SIZE, FACE_SIZE, generator=gen),
            torch.rand(batch, c, CONTEXT_SIZE, CONTEXT_SIZE, generator=gen),
        )
    c, h, w = model.pretrained_cfg["input_size"]
    return (torch.rand(batch, c, h, w, generator=gen),)


def test_registry_lists_the_papers_models() -> None:
    for name in (
        "glamor_original",
        "glamor_mobilenetv2",
        "glamor_resnet18",
        "caer_net_s",
        "glamor_test",
    ):
        assert name in ALL_MODELS
    assert set(glamor_zoo.list_models("glamor_*")) <= set(ALL_MODELS)
    assert "resnet18" not in ALL_MODELS
    pretrained = glamor_zoo.list_models(pretrained=True, unpublished=True)
    assert "glamor_original.ncaer_s" in pretrained and "glamor_resnet18.caer_s" in pretrained
    assert "face_resnet18.fer2013" in glamor_zoo.list_models(pretrained=True)
    assert "face_resnet26.fer2013" in glamor_zoo.list_models(pretrained=True)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_backward_every_parameter(name: str) -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model(name, num_classes=5).train()
    for module in model.modules():  # timm zero-inits the last BN of residual blocks
        if isinstance(module, torch.nn.BatchNorm2d) and module.weight.abs().sum() == 0:
            torch.nn.init.ones_(module.weight)
    out = model(*_inputs(model, batch=3))
    assert out.shape == (3, 5)
    assert torch.isfinite(out).all()
    out.square().sum().backward()
    missing = [
        n
        for n, p in model.named_parameters()
        if p.requires_grad
        and (p.grad is None or p.grad.abs().sum() == 0)
        and n not in _shift_invariant(model)
    ]
    assert not missing, f"no gradient reaches {missing}"


def _shift_invariant(model: torch.nn.Module) -> tuple[str, ...]:
    """Parameters whose gradient is zero by construction.

    NOTE: the GLA attention's last layer has one output per context cell, and its bias adds the
    same number to every cell's score before the spatial softmax, which ignores such a shift:
    its gradient is exactly zero in theory, and in float32 rounding noise that some CPUs sum to
    exactly 0 (an AVX2-only EPYC) and others do not. The paper's layer keeps the bias."""
    if isinstance(getattr(model, "attention", None), GlobalLocalAttention):
        return ("attention.fc2.bias",)
    return ()


@pytest.mark.parametrize("name", ALL_MODELS)
def test_reset_classifier_and_cfg_names(name: str) -> None:
    model = glamor_zoo.create_model(name).eval()
    cfg = model.pretrained_cfg
    state = model.state_dict()
    first_convs = (
        cfg["first_conv"] if isinstance(cfg["first_conv"], (list, tuple)) else [cfg["first_conv"]]
    )
    for conv in first_convs:
        assert f"{conv}.weight" in state, conv
    assert f"{cfg['classifier']}.weight" in state
    assert model.get_classifier() is model.get_submodule(cfg["classifier"])
    assert len(cfg["label_names"]) == model.num_classes

    model.reset_classifier(3)
    assert model.num_classes == 3
    assert model(*_inputs(model)).shape == (2, 3)
    model.reset_classifier(0)
    assert (
        model(*_inputs(model)).shape[1]
        == model.forward_head(model.forward_features(*_inputs(model)), pre_logits=True).shape[1]
    )


@pytest.mark.parametrize("name", GLAMOR_MODELS)
def test_attention_and_fusion_weights_are_distributions(name: str) -> None:
    model = glamor_zoo.create_model(name).eval()
    with torch.no_grad():
        feats = model.forward_features(*_inputs(model, batch=4))
    if model.inputs != "face":
        assert feats.attention.ndim == 3 and feats.attention.shape[0] == 4
        torch.testing.assert_close(feats.attention.sum(dim=(1, 2)), torch.ones(4))
        assert (feats.attention >= 0).all()
    if feats.fusion_weights is not None:
        assert feats.fusion_weights.shape == (4, 2)
        torch.testing.assert_close(feats.fusion_weights.sum(dim=1), torch.ones(4))
    assert feats.fused.shape == (4, model.num_features)


@pytest.mark.parametrize("name", ALL_MODELS)
def test_eval_is_deterministic_and_batch_independent(name: str) -> None:
    model = glamor_zoo.create_model(name).eval()
    inputs = _inputs(model, batch=4)
    with torch.no_grad():
        full = model(*inputs)
        again = model(*inputs)
        single = torch.cat([model(*(x[i : i + 1] for x in inputs)) for i in range(4)])
    torch.testing.assert_close(full, again, rtol=0, atol=0)
    torch.testing.assert_close(full, single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ["glamor_test", "glamor_resnet18"])
def test_timm_create_model_builds_zoo_models(name: str) -> None:
    model = timm.create_model(name, num_classes=4)
    assert isinstance(model, GlamorNet) and model.num_classes == 4
    assert model.pretrained_cfg["architecture"] == name


def test_glamor_original_matches_official_layout() -> None:
    model = glamor_zoo.create_model("glamor_original", num_classes=7)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == 2_158_602
    bns = [
        m for m in model.modules() if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d))
    ]
    assert bns and all(bn.eps == 1e-3 and bn.momentum == 0.01 for bn in bns)
    widths = [b.conv.out_channels for b in model.face_encoder.blocks]
    assert widths == [32, 64, 128, 256, 256]
    blk = model.face_encoder.blocks[0]
    assert [type(m).__name__ for m in blk.children()] == [
        "Conv2d",
        "BatchNorm2d",
        "ReLU",
        "MaxPool2d",
    ]
    assert isinstance(model.face_encoder.blocks[-1].pool, torch.nn.Identity)
    assert model.head.drop.p == 0.5
    feats = model.eval().forward_features(torch.rand(1, 3, 96, 96), torch.rand(1, 3, 112, 112))
    assert feats.face_map.shape == (1, 256, 6, 6)
    assert feats.context_map.shape == (1, 256, 7, 7)
    assert feats.attention.shape == (1, 7, 7)


def test_gla_equals_the_official_concatenation() -> None:
    """The split fc1 (face half computed once) equals Dense on [face ; cell] for every cell."""
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test").eval()
    for p in model.attention.bn.parameters():
        torch.nn.init.normal_(p)
    model.attention.bn.running_mean.normal_()
    model.attention.bn.running_var.uniform_(0.5, 2)
    face, context = _inputs(model, batch=3)
    with torch.no_grad():
        feats = model.forward_features(face, context)
        att = model.attention
        cells = feats.context_map.flatten(2).transpose(1, 2)
        rep = feats.face[:, None, :].expand(-1, cells.shape[1], -1)
        hidden = torch.relu(att.fc1(torch.cat([rep, cells], dim=-1)))
        hidden = torch.relu(att.bn(hidden.reshape(-1, hidden.shape[-1])))
        scores = att.fc2(hidden).reshape(3, -1)
        weights = torch.softmax(scores, dim=1)
        expected = (cells * weights[..., None]).sum(1)
    torch.testing.assert_close(feats.attention.flatten(1), weights, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(feats.context, expected, rtol=1e-5, atol=1e-5)
    w = feats.fusion_weights
    torch.testing.assert_close(
        feats.fused, torch.cat([feats.face * w[:, :1], feats.context * w[:, 1:]], 1)
    )


def test_any_combination_and_mixed_backbones() -> None:
    model = glamor_zoo.create_model("glamor_resnet18", attention="context", fusion="max")
    assert type(model.attention).__name__ == "ContextAttention"
    assert type(model.fusion).__name__ == "MaxFusion"
    mixed = glamor_zoo.create_model(
        "glamor", face_backbone="glamor", context_backbone="resnet18", fusion="concat"
    )
    assert mixed.face_encoder.out_channels == 256 and mixed.context_encoder.out_channels == 512
    assert mixed(*_inputs(mixed)).shape == (2, 7)
    assert mixed.pretrained_cfg["first_conv"] == (
        "face_encoder.blocks.0.conv",
        "context_encoder.model.conv1",
    )
    timm_any = glamor_zoo.create_model("glamor", backbone="convnext_atto", attention="gla")
    assert timm_any(*_inputs(timm_any)).shape == (2, 7)
    assert timm_any.pretrained_cfg["mean"] == pytest.approx((0.485, 0.456, 0.406))
    with pytest.raises(ValueError, match="equal width"):
        glamor_zoo.create_model(
            "glamor", face_backbone="glamor", context_backbone="resnet18", fusion="add"
        )


def test_input_settings_of_table_4() -> None:
    face_only = glamor_zoo.create_model("glamor_face_only")
    assert face_only.context_encoder is None and face_only.fusion is None
    assert face_only(torch.rand(2, 3, 64, 64)).shape == (2, 7)
    context_only = glamor_zoo.create_model("glamor_context_only").eval()
    assert context_only.face_encoder is not None  # GLA still reads v_f
    assert context_only.num_features == context_only.context_encoder.out_channels
    feats = context_only.forward_features(*_inputs(context_only))
    torch.testing.assert_close(feats.fused, feats.context)
    no_face = glamor_zoo.create_model("glamor", inputs="context", attention="none")
    assert no_face.face_encoder is None
    assert no_face(None, torch.rand(2, 3, 64, 64)).shape == (2, 7)
    with pytest.raises(ValueError, match="context"):
        glamor_zoo.create_model("glamor_test")(torch.rand(1, 3, 32, 32), None)
    with pytest.raises(ValueError, match="inputs"):
        glamor_zoo.create_model("glamor_test", inputs="scene")


def test_forward_head_pre_logits_and_grad_checkpointing() -> None:
    torch.manual_seed(0)
    model = glamor_zoo.create_model("glamor_test", drop_rate=0.0).train()
    inputs = _inputs(model)
    feats = model.forward_features(*inputs)
    assert model.forward_head(feats, pre_logits=True).shape == (2, model.head_hidden_size)
    assert model.forward_head(feats.fused).shape == (2, 7)
    out = model(*inputs)
    out.sum().backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    # BatchNorm running stats are updated twice by recomputation; compare in a fresh copy of the state.
    out2 = model(*inputs)
    out2.sum().backward()
    torch.testing.assert_close(out, out2)
    for g1, p in zip(grads, model.parameters(), strict=True):
        torch.testing.assert_close(g1, p.grad, rtol=1e-4, atol=1e-6)


def test_checkpoint_path_loads_safetensors(tmp_path) -> None:
    from safetensors.torch import save_file

    source = glamor_zoo.create_model("glamor_test").eval()
    path = tmp_path / "weights.safetensors"
    save_file(source.state_dict(), str(path))
    for factory in (glamor_zoo.create_model, timm.create_model):
        loaded = factory("glamor_test", checkpoint_path=str(path)).eval()
        inputs = _inputs(loaded)
        torch.testing.assert_close(loaded(*inputs), source(*inputs))


def test_keras_initialisation() -> None:
    model = glamor_zoo.create_model("glamor_original")
    assert torch.count_nonzero(model.head.fc1.bias) == 0
    fan_in, fan_out = model.head.fc1.in_features, model.head.fc1.out_features
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert model.head.fc1.weight.abs().max() <= bound
    assert model.head.fc1.weight.abs().max() > 0.9 * bound


@pytest.mark.parametrize("kwargs", [{}, {"face_stn": "stn"}, {"inputs": "context"}])
def test_shared_context_index_equals_repeated_contexts(kwargs: dict) -> None:
    model = glamor_zoo.create_model("glamor_test", face_size=(32, 32), **kwargs).eval()
    faces, contexts = torch.rand(3, 3, 32, 32), torch.rand(2, 3, 48, 48)
    owners = torch.tensor([1, 0, 1])
    with torch.no_grad():
        shared = model.forward_features(faces, contexts, context_index=owners)
        exact = model.forward_features(faces, contexts[owners])
    assert shared.context_map.shape[0] == 2
    torch.testing.assert_close(shared.fused, exact.fused)
    torch.testing.assert_close(shared.attention, exact.attention)
    with pytest.raises(ValueError, match="one entry per face"):
        model.forward_features(faces, contexts, context_index=torch.tensor([0, 1]))


def test_the_package_uses_timms_public_api_only() -> None:
    """No ``timm.*._private`` module (``timm.models._manipulate``…) is imported or reached into:
    their names move between timm releases; ``timm.models`` / ``timm.layers`` re-export them."""
    import ast
    import re
    from pathlib import Path

    private = re.compile(r"^timm(\.\w+)*\._\w+")
    offences = []
    for path in sorted(Path(glamor_zoo.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Attribute):
                names = [ast.unparse(node)]
            else:
                continue
            offences += [f"{path.name}:{node.lineno}: {n}" for n in names if private.match(n)]
    assert not offences, "private timm modules used (use timm.models.* / timm.layers.*): " + str(
        offences
    )
