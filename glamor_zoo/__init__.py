"""glamor_zoo: a timm-style model zoo for context-aware emotion recognition.

``import glamor_zoo`` registers every zoo model with timm, so ``timm.create_model`` and
``glamor_zoo.create_model`` both build them. Optional, heavy parts (detection, datasets,
training, the Hub, inference) are imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from glamor_zoo import components as components
from glamor_zoo.labels import PAPER_LABELS, canonical_label
from glamor_zoo.models import (
    GlamorFeatures,
    GlamorNet,
    WeightsNotPublishedError,
    create_model,
    is_published,
    is_zoo_model,
    list_models,
)
from glamor_zoo.registry import UnknownComponentError, get_registry

__version__ = "0.2.0"

# Public names that live in optional, heavier modules: name -> module that defines it.
_LAZY: dict[str, str] = {
    "CheckpointError": "glamor_zoo.models._checkpoint",
    "push_to_hub": "glamor_zoo.hub.push",
    "GlamorTransform": "glamor_zoo.data.transforms",
    "build_dataset": "glamor_zoo.data.datasets",
    "create_detector": "glamor_zoo.data.detection",
    "load_image": "glamor_zoo.data.images",
    "EmotionRecognizer": "glamor_zoo.inference.recognizer",
    "LoadedModel": "glamor_zoo.inference.loading",
    "load_model": "glamor_zoo.inference.loading",
    "ModelSpec": "glamor_zoo.spec",
    "get_model_spec": "glamor_zoo.spec",
    "set_model_spec": "glamor_zoo.spec",
    "export_onnx": "glamor_zoo.inference.onnx_export",
    "convert_tf_checkpoint": "glamor_zoo.convert.glamor_tf",
    "fast_inference": "glamor_zoo.fast",
}

# Modules that fill a registry kind when imported (kinds not listed are filled by components).
_REGISTRY_MODULES: dict[str, str] = {
    "dataset": "glamor_zoo.data.datasets",
    "detector": "glamor_zoo.data.detection",
}


def list_components(kind: str) -> list[str]:
    """Names of the registered parts of ``kind`` (``encoder``, ``attention``, ``fusion``…).

    Built-in parts and third-party plugins (entry-point group ``glamor_zoo.<kind>``) alike.
    """
    if kind in _REGISTRY_MODULES:
        import_module(_REGISTRY_MODULES[kind])
    return get_registry(kind).names()


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'glamor_zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "PAPER_LABELS",
    "GlamorFeatures",
    "GlamorNet",
    "UnknownComponentError",
    "WeightsNotPublishedError",
    "__version__",
    "canonical_label",
    "create_model",
    "is_published",
    "is_zoo_model",
    "list_components",
    "list_models",
    *_LAZY,
]
