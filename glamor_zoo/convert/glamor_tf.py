"""The official GLAMOR-Net TF2 checkpoint → a glamor_zoo model: name mapping, layouts, checks.

The authors' Keras model (``model.py`` of the glamor-net repository, class ``GLAMORNet``) saves
its variables as ``<layer path>/<weight>/.ATTRIBUTES/VARIABLE_VALUE``:

====================================  ==========================================
TF2 checkpoint                        glamor_zoo state dict
====================================  ==========================================
``FaceEncodingNet/blocks/i/conv|bn``  ``face_encoder.blocks.i.conv|bn``
``ContextEncodingNet/blocks/i/...``   ``context_encoder.blocks.i.conv|bn``
``attention_fc1``, ``attention_fc1_bn``, ``attention_fc2``
                                      ``attention.fc1``, ``attention.bn``, ``attention.fc2``
``face_weight1|2``                    ``fusion.face_score.fc1|fc2``
``context_weight1|2``                 ``fusion.context_score.fc1|fc2``
``final_fc1``, ``final_classify``     ``head.fc1``, ``head.fc``
====================================  ==========================================

Layouts: Dense kernels are (in, out) → ``weight`` (out, in); Conv2D kernels (kh, kw, in, out) →
(out, in, kh, kw); BatchNormalization ``gamma, beta, moving_mean, moving_variance`` →
``weight, bias, running_mean, running_var``. Encoder widths, input channels, hidden widths and
the number of classes are read from the shapes, so narrower or retrained checkpoints convert.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from glamor_zoo.convert.tensor_bundle import (
    OBJECT_GRAPH_KEY,
    TensorBundle,
    TFCheckpointError,
)

__all__ = [
    "NotGlamorCheckpointError",
    "compare_with_reference",
    "convert_checkpoint",
    "convert_tf_checkpoint",
    "infer_model_args",
    "tf_name_to_zoo",
    "tf_to_state_dict",
]

_logger = logging.getLogger(__name__)

VARIABLE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
DEFAULT_HIDDEN = 128  # the official Dense(128) of attention, fusion and head

_LAYERS: dict[str, str] = {
    "attention_fc1": "attention.fc1",
    "attention_fc1_bn": "attention.bn",
    "attention_fc2": "attention.fc2",
    "face_weight1": "fusion.face_score.fc1",
    "face_weight2": "fusion.face_score.fc2",
    "context_weight1": "fusion.context_score.fc1",
    "context_weight2": "fusion.context_score.fc2",
    "final_fc1": "head.fc1",
    "final_classify": "head.fc",
}
_ENCODERS: dict[str, str] = {
    "FaceEncodingNet": "face_encoder",
    "ContextEncodingNet": "context_encoder",
}
_WEIGHTS: dict[str, str] = {
    "kernel": "weight",
    "bias": "bias",
    "gamma": "weight",
    "beta": "bias",
    "moving_mean": "running_mean",
    "moving_variance": "running_var",
}
_ENCODER_LAYER = re.compile(r"^(FaceEncodingNet|ContextEncodingNet)/blocks/(\d+)/(conv|bn)$")


class NotGlamorCheckpointError(TFCheckpointError):
    """A readable TF checkpoint whose variables are not (all) GLAMOR-Net's."""


def _is_bookkeeping(name: str) -> bool:
    """Checkpoint entries that are not model weights: object graph, optimizer, counters."""
    return (
        name == OBJECT_GRAPH_KEY
        or name.startswith(("optimizer/", "save_counter/"))
        or "/.OPTIMIZER_SLOT/" in name
    )


def tf_name_to_zoo(name: str) -> str | None:
    """The glamor_zoo state-dict key of TF checkpoint key ``name`` (``None`` if not GLAMOR-Net's).

    >>> tf_name_to_zoo("FaceEncodingNet/blocks/0/bn/moving_mean/.ATTRIBUTES/VARIABLE_VALUE")
    'face_encoder.blocks.0.bn.running_mean'
    """
    if not name.endswith(VARIABLE_SUFFIX):
        return None
    layer, _, weight = name[: -len(VARIABLE_SUFFIX)].rpartition("/")
    if weight not in _WEIGHTS:
        return None
    match = _ENCODER_LAYER.match(layer)
    if match:
        encoder, block, part = match.groups()
        return f"{_ENCODERS[encoder]}.blocks.{block}.{part}.{_WEIGHTS[weight]}"
    if layer in _LAYERS:
        return f"{_LAYERS[layer]}.{_WEIGHTS[weight]}"
    return None


def _to_torch_layout(name: str, array: np.ndarray) -> torch.Tensor:
    if name.endswith("/kernel" + VARIABLE_SUFFIX):
        if array.ndim == 4:  # Conv2D (kh, kw, in, out) → (out, in, kh, kw)
            array = array.transpose(3, 2, 0, 1)
        elif array.ndim == 2:  # Dense (in, out) → (out, in)
            array = array.T
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def tf_to_state_dict(
    variables: Mapping[str, np.ndarray], source: str | Path = "checkpoint"
) -> dict[str, torch.Tensor]:
    """Convert GLAMOR-Net TF variables (as :func:`read_checkpoint` returns) to a state dict.

    Optimizer slots, counters and the object graph are dropped; every BatchNorm gets
    ``num_batches_tracked = 0`` (Keras keeps no such counter).

    Args:
        variables: TF checkpoint key → array.
        source: Where the variables come from (the checkpoint file), for error messages.

    Raises:
        NotGlamorCheckpointError: a variable that GLAMOR-Net does not have, or none of its own.
    """
    state_dict: dict[str, torch.Tensor] = {}
    unknown = []
    for name, array in variables.items():
        if _is_bookkeeping(name):
            continue
        key = tf_name_to_zoo(name)
        if key is None:
            unknown.append(name)
            continue
        state_dict[key] = _to_torch_layout(name, array)
    if not state_dict:
        names = [n for n in variables if not _is_bookkeeping(n)]
        raise NotGlamorCheckpointError(
            f"{source} is not a GLAMOR-Net checkpoint: none of its {len(names)} variables "
            f"(e.g. {names[:3]}) is one of GLAMOR-Net's (e.g. 'final_classify/kernel{VARIABLE_SUFFIX}')",
            source,
            names[0] if names else None,
        )
    if unknown:
        raise NotGlamorCheckpointError(
            f"{source} is not a GLAMOR-Net checkpoint of the official layout: variable "
            f"{unknown[0]!r}{f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''} "
            "has no counterpart in glamor_zoo",
            source,
            unknown[0],
        )
    for key in [k for k in state_dict if k.endswith(".running_mean")]:
        state_dict[key.replace(".running_mean", ".num_batches_tracked")] = torch.tensor(0)
    return state_dict


def _encoder_widths(state_dict: Mapping[str, torch.Tensor], prefix: str) -> tuple[int, ...]:
    widths = []
    while f"{prefix}.blocks.{len(widths)}.conv.weight" in state_dict:
        widths.append(int(state_dict[f"{prefix}.blocks.{len(widths)}.conv.weight"].shape[0]))
    return tuple(widths)


def infer_model_args(
    state_dict: Mapping[str, torch.Tensor], source: str | Path = "checkpoint"
) -> dict[str, Any]:
    """Model arguments that fit a converted state dict: widths, channels, hidden sizes, classes.

    Raises:
        NotGlamorCheckpointError: a layer that every GLAMOR-Net has is missing, or the face and
            context encoders differ in width (glamor_zoo shares ``encoder_widths``).
    """
    face = _encoder_widths(state_dict, "face_encoder")
    context = _encoder_widths(state_dict, "context_encoder")
    widths = face or context
    required = [
        ("final_fc1", "head.fc1"),
        ("final_classify", "head.fc"),
        ("FaceEncodingNet/blocks/0/conv", "face_encoder.blocks.0.conv" if not widths else None),
    ]
    for tf_layer, zoo_layer in required:
        if zoo_layer is not None and f"{zoo_layer}.weight" not in state_dict:
            raise NotGlamorCheckpointError(
                f"{source} is not a complete GLAMOR-Net checkpoint: it has no "
                f"'{tf_layer}/kernel' variable",
                source,
                f"{tf_layer}/kernel{VARIABLE_SUFFIX}",
            )
    if face and context and face != context:
        raise NotGlamorCheckpointError(
            f"{source}: the face encoder has widths {list(face)} but the context encoder "
            f"{list(context)}; glamor_zoo's paper encoder uses one list for both",
            source,
            "ContextEncodingNet/blocks/0/conv/kernel" + VARIABLE_SUFFIX,
        )
    stem = "face_encoder" if face else "context_encoder"
    args: dict[str, Any] = {
        "encoder_widths": widths,
        "in_chans": int(state_dict[f"{stem}.blocks.0.conv.weight"].shape[1]),
        "num_classes": int(state_dict["head.fc.weight"].shape[0]),
        "hidden_dim": int(state_dict["head.fc1.weight"].shape[0]),
    }
    if "attention.fc1.weight" in state_dict:
        hidden = int(state_dict["attention.fc1.weight"].shape[0])
        if hidden != DEFAULT_HIDDEN:
            args["attention_args"] = {"hidden_dim": hidden}
    if "fusion.face_score.fc1.weight" in state_dict:
        hidden = int(state_dict["fusion.face_score.fc1.weight"].shape[0])
        if hidden != DEFAULT_HIDDEN:
            args["fusion_args"] = {"hidden_dim": hidden}
    return args


def _description(prefix: Path, model_args: Mapping[str, Any]) -> str:
    return (
        f"GLAMOR-Net weights converted with `glamor-zoo convert-tf` from the TensorFlow 2 "
        f"checkpoint '{prefix.name}' written by the official GLAMOR-Net code (encoder widths "
        f"{list(model_args['encoder_widths'])}). Official preprocessing: pixels / 255, face "
        "96×96, context resized to 128×171 and centre-cropped to 112×112."
    )


def _check_fits(
    model: torch.nn.Module,
    model_name: str,
    state_dict: Mapping[str, torch.Tensor],
    variables: Mapping[str, np.ndarray],
    source: Path,
) -> None:
    """Raise, in TF names where there are some, unless ``state_dict`` loads strictly."""
    origin = {tf_name_to_zoo(name): name for name in variables}
    expected = model.state_dict()
    problems = {
        "the checkpoint lacks": [k for k in expected if k not in state_dict],
        f"{model_name!r} has no place for": [
            origin[k] for k in state_dict if k not in expected and k in origin
        ],
        "shapes differ for": [
            f"{origin[k]} {tuple(variables[origin[k]].shape)} vs {k} {tuple(v.shape)}"
            for k, v in expected.items()
            if k in state_dict and v.shape != state_dict[k].shape
        ],
    }
    if any(problems.values()):
        details = "; ".join(
            f"{what} {', '.join(names[:3])}{f' (+{len(names) - 3} more)' if len(names) > 3 else ''}"
            for what, names in problems.items()
            if names
        )
        first = next(names for names in problems.values() if names)[0].split(" ")[0]
        raise NotGlamorCheckpointError(
            f"{source} does not fit {model_name!r}: {details}", source, first
        )


def convert_checkpoint(
    prefix: str | Path,
    model_name: str = "glamor_original",
    verify: bool = True,
) -> torch.nn.Module:
    """Read a GLAMOR-Net TF2 checkpoint and return the equivalent glamor_zoo model, in eval mode.

    Args:
        prefix: The checkpoint (``.../Model``, ``.../Model.index``, or its folder).
        model_name: The zoo architecture to load it into (built with the inferred widths).
        verify: Check every stored CRC-32C.

    Raises:
        FileNotFoundError: no checkpoint there.
        TFCheckpointError: missing shard, truncated file, checksum mismatch.
        NotGlamorCheckpointError: the variables do not fit ``model_name``.
    """
    from glamor_zoo.models import create_model

    bundle = TensorBundle(prefix, verify=verify)
    variables = {name: bundle.read(name) for name in bundle if name != OBJECT_GRAPH_KEY}
    state_dict = tf_to_state_dict(variables, bundle.index_path)
    model_args = infer_model_args(state_dict, bundle.index_path)
    overlay = {"description": _description(bundle.prefix, model_args)}
    model = create_model(model_name, pretrained=False, pretrained_cfg_overlay=overlay, **model_args)
    _check_fits(model, model_name, state_dict, variables, bundle.index_path)
    model.load_state_dict(state_dict, strict=True)
    _logger.info(
        "converted %d TF variables from %s into %s", len(variables), bundle.prefix, model_name
    )
    return model.eval()


def compare_with_reference(model: torch.nn.Module, reference: str | Path) -> dict[str, float]:
    """Max absolute differences between ``model`` and the official code's outputs.

    ``reference`` is an ``.npz`` with ``face_nhwc_uint8``, ``context_nhwc_uint8`` (the inputs)
    and ``scores`` (the official softmax), optionally ``face_map_nhwc`` and
    ``context_map_nhwc`` (the encoders' outputs) — the layout of
    ``tests/fixtures/tf_official_tiny/io.npz`` (docs/convert.md shows how to write one with the
    official code). Inputs go in as the official code feeds them: uint8 / 255, no mean/std.

    Returns:
        ``{"scores": …, "face_map": …, "context_map": …}`` (maps only when present).
    """
    with np.load(reference) as ref:
        arrays = {k: ref[k] for k in ref.files}
    for key in ("face_nhwc_uint8", "context_nhwc_uint8", "scores"):
        if key not in arrays:
            raise ValueError(f"{reference} has no {key!r} array; found {sorted(arrays)}")

    def nchw(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x.astype(np.float32) / 255.0).permute(0, 3, 1, 2).contiguous()

    was_training = model.training
    model.eval()
    with torch.no_grad():
        features = model.forward_features(
            nchw(arrays["face_nhwc_uint8"]), nchw(arrays["context_nhwc_uint8"])
        )
        scores = torch.softmax(model.forward_head(features), dim=1).numpy()
    model.train(was_training)
    diffs = {"scores": float(np.abs(scores - arrays["scores"]).max())}
    for key, ours in (("face_map", features.face_map), ("context_map", features.context_map)):
        if f"{key}_nhwc" in arrays and ours is not None:
            diffs[key] = float(
                np.abs(ours.permute(0, 2, 3, 1).numpy() - arrays[f"{key}_nhwc"]).max()
            )
    return diffs


def convert_tf_checkpoint(
    prefix: str | Path,
    out_dir: str | Path,
    model_name: str = "glamor_original",
    label_names: Sequence[str] | None = None,
    reference: str | Path | None = None,
    tolerance: float = 1e-5,
    hub_id: str | None = None,
    command: str | None = None,
    source: Mapping[str, Any] | None = None,
    card_template: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Convert a GLAMOR-Net TF2 checkpoint into a glamor_zoo model folder.

    Writes ``out_dir/model.safetensors``, ``out_dir/config.json`` (with a ``conversion`` record:
    source files and their SHA-256, converter version, reference check; its spec's
    ``trained_with`` is the authors' pipeline, which the recogniser and ``glamor-zoo eval``
    then use by default) and the model card
    ``out_dir/README.md`` (rendered by :func:`glamor_zoo.hub.render_model_card`). The folder
    loads with ``glamor_zoo.create_model("local-dir:OUT_DIR")``.

    Args:
        prefix: The checkpoint (``.../Model``, ``.../Model.index``, or its folder).
        out_dir: The model folder to write (created). Its three files, when there, are replaced
            whole only if glamor-zoo wrote them (see :func:`glamor_zoo.outputs.claim_outputs`).
        model_name: The zoo architecture (default: the published GLAMOR-Net).
        label_names: Class names in output order (default: the paper's 7 when there are 7).
        reference: An ``.npz`` of the official code's outputs (see :func:`compare_with_reference`);
            the conversion fails if any output differs by more than ``tolerance``.
        tolerance: Largest absolute difference accepted against ``reference``.
        hub_id: The Hub repository the folder will be published as, for the model card
            (default: the architecture's pretrained repository, e.g.
            ``glamor-zoo/glamor_original.ncaer_s``). ``glamor-zoo push`` re-renders the card.
        command: The command line that ran the conversion, recorded in ``config.json`` (the
            model card shows it).
        source: Where the checkpoint came from (repository, commit, URLs, pinned hashes),
            recorded as ``conversion["source"]`` in ``config.json``.
        card_template: The model card's template (a file or a shipped template's name;
            default: the architecture's, see :func:`glamor_zoo.hub.card.find_template`).
        overwrite: Replace those files even when glamor-zoo did not write them.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        TFCheckpointError / NotGlamorCheckpointError: see :func:`convert_checkpoint`.
        ValueError: the outputs differ from ``reference`` by more than ``tolerance``, or the
            label names do not match the number of classes.
        OutputFolderError: ``out_dir`` holds such files of someone else's (without
            ``overwrite``), or cannot be written.
    """
    from glamor_zoo import __version__
    from glamor_zoo.hub.card import render_model_card
    from glamor_zoo.labels import PAPER_LABELS
    from glamor_zoo.models._factory import HUB_ORG
    from glamor_zoo.outputs import claim_outputs
    from glamor_zoo.serialization import (
        CONFIG_NAME,
        WEIGHTS_NAME,
        atomic_write_text,
        file_sha256,
        save_pretrained,
    )
    from glamor_zoo.spec import get_model_spec, set_model_spec

    bundle = TensorBundle(prefix, verify=True)
    model = convert_checkpoint(bundle.prefix, model_name=model_name)
    if label_names is None and model.num_classes == len(PAPER_LABELS):
        label_names = PAPER_LABELS
    if label_names is not None and len(label_names) != model.num_classes:
        raise ValueError(
            f"{len(label_names)} label names given for a checkpoint with {model.num_classes} classes"
        )
    files = [bundle.index_path] + [bundle.shard_path(i) for i in range(bundle.num_shards)]
    conversion: dict[str, Any] = {
        "source_format": "tensorflow2-checkpoint",
        "checkpoint": bundle.prefix.name,
        "files": {
            path.name: {"sha256": file_sha256(path), "bytes": path.stat().st_size} for path in files
        },
        "num_variables": sum(1 for name in bundle if tf_name_to_zoo(name) is not None),
        "converter": f"glamor_zoo {__version__} (glamor-zoo convert-tf)",
    }
    if source is not None:
        conversion["source"] = dict(source)
    index_sha = conversion["files"][bundle.index_path.name]["sha256"]
    provenance = (
        f" Source: `{bundle.index_path.name}` sha256 {index_sha} + {bundle.num_shards} data "
        "shard(s)."
    )
    if reference is not None:
        diffs = compare_with_reference(model, reference)
        worst = max(diffs, key=diffs.get)
        if diffs[worst] > tolerance:
            raise ValueError(
                f"the converted model differs from {reference} by {diffs[worst]:.3g} in {worst} "
                f"(tolerance {tolerance:g}); all differences: {diffs}"
            )
        conversion["reference_check"] = {
            "reference": Path(reference).name,
            "max_abs_diff": diffs,
            "tolerance": tolerance,
        }
        provenance += (
            f" Its outputs ({', '.join(diffs)}) match the original TensorFlow code's on the "
            f"inputs of `{Path(reference).name}` within {diffs[worst]:.1e}."
        )
    model.pretrained_cfg = {
        **model.pretrained_cfg,
        "description": model.pretrained_cfg["description"] + provenance,
    }
    # Weights trained by the authors' code expect their pipeline: the spec says so, and the
    # recogniser and eval follow it (MMOD on BGR, the context's JPEG round trip).
    set_model_spec(model, get_model_spec(model).with_pipeline("official"))
    extra: dict[str, Any] = {"conversion": conversion}
    if command:
        extra["command"] = command
    claim_outputs(out_dir, (WEIGHTS_NAME, CONFIG_NAME, "README.md"), overwrite)
    out = save_pretrained(model, out_dir, label_names=label_names, **extra)
    config = json.loads((out / "config.json").read_text())
    repo_id = hub_id or model.pretrained_cfg.get("hf_hub_id") or f"{HUB_ORG}/{model_name}"
    num_params = sum(p.numel() for p in model.parameters())
    card = render_model_card(config, repo_id, num_params=num_params, template=card_template)
    atomic_write_text(out / "README.md", card)
    return out
