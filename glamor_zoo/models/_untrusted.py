"""Checks on a model that comes from a folder or a Hub repository, before and after it loads.

A ``config.json`` from elsewhere is untrusted: it may not be a JSON object, give a class count
that is not a whole number, or ask for a model whose allocation would take the machine. And a
weights file that parses may still hold NaN or Inf. :func:`check_model_config` reads the
config and builds the model on PyTorch's ``meta`` device (no memory) to count its parameters
against :func:`max_parameters` before anything is allocated; :func:`check_finite_weights`
names the first tensor that is not finite once the weights are in.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from glamor_zoo.models._checkpoint import (
    CheckpointError,
    _config_file,
    _weights_file,
    split_revision,
)

__all__ = [
    "DEFAULT_MAX_PARAMETERS",
    "MAX_CLASSES",
    "MAX_INPUT_SIDE",
    "MAX_PARAMETERS_VARIABLE",
    "check_config_dict",
    "check_finite_weights",
    "check_model_config",
    "check_source_config",
    "max_parameters",
    "weights_source",
]

# 200 M parameters and buffers: 0.8 GB in float32, nine times the zoo's largest model.
DEFAULT_MAX_PARAMETERS = 200_000_000
# Class names are made for every class while the model is built: a count of 10**9 would fill
# the memory with names before any tensor is made.
MAX_CLASSES = 100_000
# Every input is resized to the sizes a config names, per image: 300,000 x 300,000 would be
# 360 GB of floats.
MAX_INPUT_SIDE = 4096
MAX_PARAMETERS_VARIABLE = "GLAMOR_ZOO_MAX_PARAMETERS"


def max_parameters() -> int:
    """The largest model (parameters and buffers) a folder or Hub config may ask for:
    ``$GLAMOR_ZOO_MAX_PARAMETERS``, else :data:`DEFAULT_MAX_PARAMETERS`.

    Raises:
        ValueError: the variable is not a positive whole number.
    """
    text = os.environ.get(MAX_PARAMETERS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MAX_PARAMETERS
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(
            f"${MAX_PARAMETERS_VARIABLE} must be a positive whole number, got {text!r}"
        )
    return value


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _sides_fit(value: Any) -> bool:
    sides = value if isinstance(value, list) else [value]
    return all(_count(side) and side <= MAX_INPUT_SIDE for side in sides)


def check_config_dict(config: Any, path: str | Path) -> Mapping[str, Any]:
    """The fields a model folder's ``config.json`` must have, with the right types.

    Raises:
        CheckpointError: naming ``path`` and the field that is wrong.
    """
    if not isinstance(config, Mapping):
        raise CheckpointError(
            path, f"config.json must be a JSON object, got a {type(config).__name__}"
        )
    if not isinstance(config.get("architecture"), str):
        raise CheckpointError(path, "config.json's 'architecture' must be a model name (text)")
    if config.get("num_features") is not None and not _count(config["num_features"]):
        raise CheckpointError(
            path,
            f"config.json's 'num_features' must be a positive whole number, got {config['num_features']!r}",
        )
    for key in ("model_args", "pretrained_cfg", "spec"):
        if key in config and not isinstance(config[key], Mapping):
            raise CheckpointError(path, f"config.json's {key!r} must be a JSON object")
    classes = [config.get("num_classes"), (config.get("model_args") or {}).get("num_classes")]
    for count in classes:
        if count is not None and not (_count(count) and count <= MAX_CLASSES):
            raise CheckpointError(
                path,
                f"config.json's 'num_classes' must be a whole number from 1 to {MAX_CLASSES:,}, "
                f"got {count!r}",
            )
    args = config.get("model_args") or {}
    spec = {**(args.get("spec") or {}), **(config.get("spec") or {})}  # then, or since 0.2
    for key, value in [*args.items(), *spec.items()]:
        if key.endswith(("_size", "_resize")) and not _sides_fit(value):
            raise CheckpointError(
                path,
                f"config.json's {key!r} must be whole numbers of pixels from 1 to "
                f"{MAX_INPUT_SIDE}, got {value!r}",
            )
    labels = config.get("label_names")
    if labels is not None and not (
        isinstance(labels, list) and all(isinstance(label, str) for label in labels)
    ):
        raise CheckpointError(path, "config.json's 'label_names' must be a list of text")
    return config


def check_model_config(config_path: str | Path) -> None:
    """Check a model folder's ``config.json`` and the size of the model it builds, allocating
    nothing (the model is built on the ``meta`` device).

    Raises:
        CheckpointError: the config is malformed (:func:`check_config_dict`), does not build
            its architecture, or asks for more than :func:`max_parameters` parameters.
    """
    import timm

    path = Path(config_path)
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return  # the loader names a missing, unreadable or invalid file itself
    check_config_dict(config, path)
    args = dict(config.get("model_args") or {})
    if config.get("num_classes") is not None:
        args.setdefault("num_classes", config["num_classes"])
    try:
        with torch.device("meta"):
            model = timm.create_model(config["architecture"], pretrained=False, **args)
    except RuntimeError as exc:
        if str(exc).startswith("Unknown model"):
            return  # the loader says which package registers it
        raise CheckpointError(path, f"does not build {config['architecture']}: {exc}") from None
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise CheckpointError(path, f"does not build {config['architecture']}: {exc}") from None
    size = sum(t.numel() for t in (*model.parameters(), *model.buffers()))
    limit = max_parameters()
    if size > limit:
        raise CheckpointError(
            path,
            f"asks for a model of {size:,} parameters, over the limit of {limit:,} "
            f"(set ${MAX_PARAMETERS_VARIABLE} to load bigger models you trust)",
        )


def check_finite_weights(model: nn.Module, source: str | Path) -> None:
    """Refuse weights with NaN or Inf.

    Raises:
        CheckpointError: naming ``source`` and the first tensor that is not finite.
    """
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(
                source,
                f"tensor {name!r} holds NaN or Inf: these weights cannot give probabilities; "
                "save or download the model again",
            )


def check_source_config(model_name: str, kwargs: Mapping[str, Any]) -> None:
    """:func:`check_model_config` for a ``local-dir:`` or ``hf-hub:`` name (its config is
    fetched into the Hub cache first, as the loader would); other names are the zoo's own."""
    if model_name.startswith("hf-hub:"):
        from huggingface_hub import hf_hub_download

        repo_id, revision = split_revision(model_name.removeprefix("hf-hub:"))
        try:
            hf_hub_download(
                repo_id, "config.json", revision=revision, cache_dir=kwargs.get("cache_dir")
            )
        except Exception:
            return
    path = _config_file(model_name, dict(kwargs))
    if path is not None and Path(path).is_file():
        check_model_config(path)


def weights_source(
    model_name: str, pretrained: bool, checkpoint_path: str | None, kwargs: Mapping[str, Any]
) -> str:
    """The weights file a model was loaded from (or its name, where no file is known)."""
    return _weights_file(model_name, pretrained, checkpoint_path, dict(kwargs)) or model_name
