"""The zoo's model registry on top of timm's: registration, ``create_model``, ``list_models``.

Every glamor_zoo entrypoint is a timm entrypoint (``timm.create_model`` builds it once
``glamor_zoo`` is imported); this module remembers which timm modules belong to the zoo so that
``list_models`` shows only the zoo's models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import timm
from timm.models import register_model as _timm_register_model
from torch import nn

__all__ = ["create_model", "is_zoo_model", "list_models", "register_model"]

F = TypeVar("F", bound=Callable[..., Any])

_ZOO_MODULES: set[str] = set()
_ZOO_MODELS: set[str] = set()


def register_model(fn: F) -> F:
    """Register ``fn`` as a timm entrypoint and as a member of the zoo."""
    _ZOO_MODULES.add(fn.__module__.split(".")[-1])
    _ZOO_MODELS.add(fn.__name__)
    return _timm_register_model(fn)


def is_zoo_model(name: str) -> bool:
    """Whether ``name`` (``arch`` or ``arch.tag``) is one of the zoo's architectures."""
    return name.split(".", 1)[0] in _ZOO_MODELS


def list_models(
    filter: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = "",
) -> list[str]:
    """The zoo's registered models, as ``timm.list_models`` spells them.

    Args:
        filter: Wildcard pattern(s), e.g. ``"glamor_*"``.
        pretrained: List ``arch.tag`` names that have pretrained weights instead of architectures.
        exclude_filters: Wildcard pattern(s) to leave out.
    """
    return timm.list_models(
        filter, module=sorted(_ZOO_MODULES), pretrained=pretrained, exclude_filters=exclude_filters
    )


def create_model(
    model_name: str,
    pretrained: bool | None = None,
    checkpoint_path: str | Path | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a zoo model, exactly as ``timm.create_model`` would.

    ``model_name`` is an entrypoint (``glamor_original``), an entrypoint with a pretrained tag
    (``glamor_resnet18.caer_s``), ``hf-hub:org/name[@revision]`` or ``local-dir:/path``.
    Keyword arguments override the entrypoint's defaults (components, ``num_classes``…).

    Args:
        model_name: What to build (see above).
        pretrained: Load the pretrained weights named by the model's pretrained cfg. Default:
            ``True`` for ``hf-hub:`` / ``local-dir:`` names (a saved model is wanted with its
            weights), ``False`` otherwise. ``timm.create_model`` needs ``pretrained=True``.
        checkpoint_path: A safetensors file of weights to load after building.
        **kwargs: Model arguments, plus timm's ``pretrained_cfg_overlay``, ``cache_dir``…
    """
    if pretrained is None:
        pretrained = model_name.startswith(("hf-hub:", "local-dir:"))
    if checkpoint_path is not None:
        checkpoint_path = str(checkpoint_path)
    return timm.create_model(
        model_name, pretrained=pretrained, checkpoint_path=checkpoint_path, **kwargs
    )
