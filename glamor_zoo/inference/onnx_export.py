"""ONNX export of zoo models, with a dynamic batch, and a check against onnxruntime.

GLAMOR models get two inputs, ``face`` (B, C, Hf, Wf) and ``context`` (B, C, Hc, Wc);
face-only models (Deep-Emotion, ``glamor_face_only``) get ``face`` only. The output is
``logits`` (B, num_classes). The model's spec, label names and name travel in
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

from glamor_zoo.serialization import open_temp_beside
from glamor_zoo.spec import get_model_spec

__all__ = ["check_onnx", "example_inputs", "export_onnx", "input_names"]

_EXTRA = "pip install 'glamor-zoo[onnx]' (onnx, onnxruntime, onnxscript)"


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as exc:
        raise ImportError(f"ONNX export needs {module}: {_EXTRA}") from exc


def input_names(model: nn.Module) -> list[str]:
    """``["face", "context"]`` when the model's spec reads a context, else ``["face"]``."""
    return ["face", "context"] if get_model_spec(model).uses_context else ["face"]


def example_inputs(model: nn.Module, batch_size: int = 2) -> tuple[torch.Tensor, ...]:
    """Random inputs of the sizes in the model's spec (``batch_size`` ≥ 2 keeps the batch
    dynamic)."""
    spec = get_model_spec(model)
    face = torch.rand(batch_size, spec.in_chans, *spec.face_size)
    if not spec.uses_context:
        return (face,)
    return face, torch.rand(batch_size, spec.in_chans, *spec.context_size)


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
    spec = get_model_spec(model)
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
            "glamor_zoo.label_names": json.dumps(list(spec.label_names)),
            "glamor_zoo.spec": json.dumps(spec.to_dict()),
            # NOTE: 0.1.0's key, kept for readers of its files; the spec supersedes it.
            "glamor_zoo.preprocess_cfg": json.dumps(spec.preprocess_cfg()),
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
