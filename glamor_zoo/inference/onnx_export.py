"""ONNX export of zoo models, with a dynamic batch, and a check against onnxruntime.

GLAMOR models get two inputs, ``face`` (B, C, Hf, Wf) and ``context`` (B, C, Hc, Wc);
face-only models (Deep-Emotion, ``glamor_face_only``) get ``face`` only. The output is
``logits`` (B, num_classes). The model's ``preprocess_cfg``, label names and name travel in
the ONNX file's metadata, so a runtime needs nothing else to prepare the inputs.

Needs the ``onnx`` extra: ``pip install 'glamor-zoo[onnx]'`` (onnx, onnxruntime, and
onnxscript for torch's exporter).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from glamor_zoo.inference.loading import model_labels, model_preprocess_cfg
from glamor_zoo.serialization import open_temp_beside

__all__ = ["check_onnx", "example_inputs", "export_onnx", "input_names"]

_EXTRA = "pip install 'glamor-zoo[onnx]' (onnx, onnxruntime, onnxscript)"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(f"ONNX export needs {module}: {_EXTRA}") from exc


def input_names(model: nn.Module) -> list[str]:
    """``["face", "context"]`` for models that see the context, else ``["face"]``."""
    return (
        ["face"]
        if model_preprocess_cfg(model).get("inputs", "face") == "face"
        else [
            "face",
            "context",
        ]
    )


def example_inputs(model: nn.Module, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
    """Random inputs of the model's sizes (``batch_size`` ≥ 2 keeps the batch dynamic)."""
    cfg = model_preprocess_cfg(model)
    chans = int(cfg.get("in_chans", 3))
    face = torch.rand(batch_size, chans, *cfg["face_size"])
    if input_names(model) == ["face"]:
        return (face,)
    return face, torch.rand(batch_size, chans, *cfg.get("context_size", (112, 112)))


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    opset: int = 18,
    metadata: Mapping[str, str] | None = None,
) -> Path:
    """Export ``model`` (in eval mode) to ``path``, with a dynamic batch dimension.

    Uses torch's ``torch.export``-based exporter. The file is written to a temporary name and
    renamed, so ``path`` is either the complete model or untouched.

    Args:
        model: A zoo model (GLAMOR family or face-only).
        path: The ``.onnx`` file.
        opset: ONNX opset version (18 or later; Deep-Emotion's spatial transformer needs the
            grid-sample ops of opset 16+).
        metadata: More ``metadata_props`` (strings).

    Returns:
        ``path``.
    """
    onnx = _require("onnx")
    _require("onnxscript")
    model = model.eval()
    names = input_names(model)
    args = example_inputs(model)
    batch = torch.export.Dim("batch", min=1, max=4096)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = open_temp_beside(path, suffix=".onnx")
    os.close(fd)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                model,
                args,
                input_names=names,
                output_names=["logits"],
                dynamic_shapes=tuple({0: batch} for _ in names),
                opset_version=opset,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        proto = program.model_proto
        props = {
            "glamor_zoo.model": _model_name(model),
            "glamor_zoo.inputs": json.dumps(names),
            "glamor_zoo.label_names": json.dumps(model_labels(model)),
            "glamor_zoo.preprocess_cfg": json.dumps(model_preprocess_cfg(model)),
            **dict(metadata or {}),
        }
        for key, value in props.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, str(value)
        onnx.checker.check_model(proto)
        onnx.save(proto, str(tmp))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _model_name(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None) or {}
    arch = cfg.get("architecture") or type(model).__name__
    return f"{arch}.{cfg['tag']}" if cfg.get("tag") else str(arch)


def check_onnx(
    model: nn.Module, path: str | os.PathLike[str], inputs: tuple[torch.Tensor, ...]
) -> float:
    """Largest absolute difference between PyTorch's and onnxruntime's logits on ``inputs``."""
    ort = _require("onnxruntime")
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    feeds = {
        name: t.detach().cpu().numpy() for name, t in zip(input_names(model), inputs, strict=True)
    }
    (onnx_logits,) = session.run(["logits"], feeds)
    with torch.no_grad():
        torch_logits = model.eval()(*inputs).cpu().numpy()
    return float(np.abs(onnx_logits - torch_logits).max())
