"""Component registries: names, classes, errors, and third-party plugins through entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import glamor_zoo
from glamor_zoo.components import ATTENTION, ENCODERS, FUSION, GlamorEncoder, NoAttention
from glamor_zoo.registry import UnknownComponentError


def test_list_components() -> None:
    assert glamor_zoo.list_components("attention") == ["context", "gla", "none"]
    assert glamor_zoo.list_components("fusion") == ["adaptive", "add", "concat", "max"]
    assert "glamor" in glamor_zoo.list_components("encoder")
    with pytest.raises(UnknownComponentError, match="component kind"):
        glamor_zoo.list_components("colour")


@pytest.mark.parametrize(
    ("kwargs", "kind", "valid"),
    [
        ({"attention": "global"}, "attention", "context, gla, none"),
        ({"fusion": "mean"}, "fusion", "adaptive, add, concat, max"),
        ({"backbone": "not_a_backbone"}, "encoder", "<any timm model name>"),
    ],
)
def test_unknown_names_list_the_valid_ones(kwargs: dict, kind: str, valid: str) -> None:
    with pytest.raises(UnknownComponentError) as info:
        glamor_zoo.create_model("glamor_test", **kwargs)
    message = str(info.value)
    assert f"unknown {kind}" in message and valid in message


@pytest.mark.parametrize(
    ("kind", "name"),
    [("attention", n) for n in ATTENTION.names()]
    + [("fusion", n) for n in FUSION.names()]
    + [("encoder", n) for n in ENCODERS.names()],
)
def test_every_registered_component_trains_in_a_model(kind: str, name: str) -> None:
    torch.manual_seed(0)
    key = {"encoder": "backbone"}.get(kind, kind)
    model = glamor_zoo.create_model("glamor_test", **{key: name}, face_size=(32, 32))
    model.train()
    face, context = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 40, 40)
    logits = model(face, context)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_components_by_class() -> None:
    model = glamor_zoo.create_model("glamor_test", attention=NoAttention)
    assert isinstance(model.attention, NoAttention)
    assert ENCODERS.get("glamor") is GlamorEncoder
    assert FUSION.get("adaptive").__name__ == "AdaptiveFusion"
    with pytest.raises(TypeError, match="name or a class"):
        ATTENTION.get(3)


def test_timm_encoder_width_is_read_from_timm() -> None:
    enc = ENCODERS.create("resnet18", in_chans=3)
    assert enc.out_channels == 512
    assert enc(torch.rand(1, 3, 64, 64)).shape == (1, 512, 2, 2)
    with pytest.raises(ValueError, match="spatial"):
        ENCODERS.create("vit_tiny_patch16_224", in_chans=3)(torch.rand(1, 3, 224, 224))


def test_duplicate_registration_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        ATTENTION.add("gla", NoAttention)


def _write_plugin(root: Path) -> None:
    """A real installed distribution: a package plus its dist-info with entry points."""
    pkg = root / "zoo_plugin_demo"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        textwrap.dedent(
            '''
            import torch
            from torch import nn


            class MaxCellAttention(nn.Module):
                """Attends to the single strongest cell (a toy, but a real plugin)."""

                uses_face = False

                def __init__(self, face_dim, context_dim):
                    super().__init__()
                    self.scale = nn.Parameter(torch.ones(()))

                def forward(self, face_vector, context_map):
                    b, c, h, w = context_map.shape
                    scores = context_map.mean(1).flatten(1) * self.scale * 50
                    weights = torch.softmax(scores, dim=1)
                    ctx = torch.bmm(context_map.flatten(2), weights.unsqueeze(-1)).squeeze(-1)
                    return ctx, weights.reshape(b, h, w)
            '''
        )
    )
    dist = root / "zoo_plugin_demo-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: zoo-plugin-demo\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[glamor_zoo.attention]\nmax_cell = zoo_plugin_demo:MaxCellAttention\n"
        "[glamor_zoo.fusion]\nbroken = zoo_plugin_demo:DoesNotExist\n"
    )


def test_plugin_discovered_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_plugin(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    ATTENTION.refresh_plugins()
    FUSION.refresh_plugins()
    try:
        assert "max_cell" in glamor_zoo.list_components("attention")
        model = glamor_zoo.create_model("glamor_test", attention="max_cell").eval()
        assert type(model.attention).__name__ == "MaxCellAttention"
        feats = model.forward_features(torch.rand(2, 3, 32, 32), torch.rand(2, 3, 48, 48))
        torch.testing.assert_close(feats.attention.sum(dim=(1, 2)), torch.ones(2))
        # a broken plugin is logged and skipped, never breaks the zoo
        assert "broken" not in glamor_zoo.list_components("fusion")
    finally:
        monkeypatch.undo()
        ATTENTION.refresh_plugins()
        FUSION.refresh_plugins()
    assert "max_cell" not in glamor_zoo.list_components("attention")


def test_plugin_in_a_fresh_interpreter(tmp_path: Path) -> None:
    """What a user gets after `pip install` of a plugin: no refresh, just import and use."""
    _write_plugin(tmp_path)
    code = (
        "import glamor_zoo, timm\n"
        "m = timm.create_model('glamor_test', attention='max_cell')\n"
        "print(type(m.attention).__name__)\n"
    )
    env_path = f"{tmp_path}"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "MaxCellAttention"


def test_cli_models_table() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "glamor_zoo", "models", "glamor_*"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = {
        line.split("|")[1].strip(): line
        for line in out.stdout.splitlines()
        if line.startswith("| glamor")
    }
    assert "| 2.159 | 2.23 | caer_s*, ncaer_s† |" in rows["glamor_original"]
    assert "5.83" in rows["glamor_mobilenetv2"] and "22.9" in rows["glamor_resnet18"]
    assert "caer_net_s" not in out.stdout


def test_models_doc_table_is_current() -> None:
    from glamor_zoo_cli.commands._table import model_table

    doc = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text(encoding="utf-8")
    start, end = "<!-- models-table:start -->\n", "\n<!-- models-table:end -->"
    table = doc[doc.index(start) + len(start) : doc.index(end)]
    assert table == model_table(glamor_zoo.list_models()), (
        "docs/models.md's model table is stale: paste `glamor-zoo models` between its markers"
    )
