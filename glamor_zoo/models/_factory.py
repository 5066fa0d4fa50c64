"""The zoo's model registry on top of timm's: registration, ``create_model``, ``list_models``.

Every glamor_zoo entrypoint is a timm entrypoint (``timm.create_model`` builds it once
``glamor_zoo`` is imported); this module remembers which timm modules belong to the zoo so that
``list_models`` shows only the zoo's models.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import timm
import torch
from timm.models import PretrainedCfg, build_model_with_cfg, generate_default_cfgs
from timm.models import register_model as _timm_register_model
from torch import nn

from glamor_zoo.models._checkpoint import (
    CheckpointError,
    explain_load_error,
    split_revision,
    verify_weights_digest,
)
from glamor_zoo.models._released import (
    PACKAGE_WEIGHTS,
    ZooPretrainedCfg,
    check_released_weights,
    plain_pretrained_cfg,
    released_ledger,
)
from glamor_zoo.models._untrusted import (
    check_finite_weights,
    check_source_config,
    weights_source,
)
from glamor_zoo.registry import add_zoo_architecture, is_zoo_architecture
from glamor_zoo.spec import ModelSpec, get_model_spec, set_model_spec

__all__ = [
    "HUB_ORG",
    "WeightsNotPublishedError",
    "ZooModel",
    "attach_spec",
    "build_zoo_model",
    "checkpoint_filter_fn",
    "constructor_args",
    "create_model",
    "default_cfgs_of",
    "finish_model",
    "is_published",
    "is_zoo_model",
    "list_models",
    "raise_if_unpublished",
    "register_model",
    "saved_spec",
    "with_factory_kwargs",
]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=nn.Module)

HUB_ORG = "glamor-zoo"  # the Hub organisation of the zoo's published weights

# Keyword arguments timm's builder consumes itself, and where the tensors go: never model
# arguments that a saved config.json needs to rebuild a model.
_BUILD_ONLY_KWARGS = (
    "pretrained_cfg",
    "pretrained_cfg_overlay",
    "cache_dir",
    "pretrained_model_args",
    "features_only",
    "out_indices",
    "feature_cls",
    "feature_cfg",
    "device",
    "dtype",
)

_ZOO_MODULES: set[str] = set()
_UNPUBLISHED: set[str] = set()


class WeightsNotPublishedError(RuntimeError):
    """A pretrained tag names weights that are not published yet (no Hub repository)."""


def default_cfgs_of(cfgs: Mapping[str, Mapping[str, Any] | PretrainedCfg]) -> Any:
    """timm's ``generate_default_cfgs`` for a family file, every cfg a
    :class:`~glamor_zoo.models._released.ZooPretrainedCfg` (with the zoo's ``family`` and
    ``sha256`` fields), reading the zoo's own cfg field ``published`` (default ``True``):
    ``False`` marks a tag whose weights exist nowhere yet, so that loading it fails at once
    with a message that says how to make them (no network call), and the catalogue says so.
    Publishing the tag later is removing that field."""
    zoo_cfgs: dict[str, PretrainedCfg] = {}
    for name, cfg in cfgs.items():
        if isinstance(cfg, PretrainedCfg):  # a released tag's cfg (released_cfg)
            zoo_cfgs[name] = cfg
            continue
        cfg = dict(cfg)
        if not cfg.pop("published", True):
            _UNPUBLISHED.add(name)
        zoo_cfgs[name] = ZooPretrainedCfg(**cfg)
    return generate_default_cfgs(zoo_cfgs)


def _tagged_name(name: str) -> str:
    """``arch.tag`` for ``name``, completing a bare architecture with its default tag."""
    if "." in name:
        return name
    cfg = timm.models.get_pretrained_cfg(name, allow_unregistered=True)
    tag = getattr(cfg, "tag", None) if cfg is not None else None
    return f"{name}.{tag}" if tag else name


def is_published(name: str) -> bool:
    """Whether the pretrained weights ``name`` (``arch.tag``, or ``arch`` for its default tag)
    names are published; ``hf-hub:`` / ``local-dir:`` names always are."""
    if name.startswith(("hf-hub:", "local-dir:")):
        return True
    return _tagged_name(name) not in _UNPUBLISHED


def raise_if_unpublished(variant: str, pretrained: bool, kwargs: dict[str, Any]) -> None:
    """Called by the family builders (with their keyword arguments) before timm looks for
    weights: a tag marked unpublished fails here, unless the Hub cache (``cache_dir`` or the
    default) already holds its repository (a user's own copy).

    Raises:
        WeightsNotPublishedError: the tag's weights are not published; the message says how
            to make them.
    """
    pretrained_cfg = kwargs.get("pretrained_cfg")
    if not pretrained or not (pretrained_cfg is None or isinstance(pretrained_cfg, str)):
        return  # no weights wanted, or a cfg read from a model folder / Hub config.json
    name = f"{variant}.{pretrained_cfg}" if pretrained_cfg else _tagged_name(variant)
    if name not in _UNPUBLISHED:
        return
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is not None and cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        repo, revision = split_revision(cfg.hf_hub_id)
        cached = try_to_load_from_cache(
            repo, "config.json", cache_dir=kwargs.get("cache_dir"), revision=revision
        )
        if isinstance(cached, str):
            return
    recipe = name.replace(".", "_")
    raise WeightsNotPublishedError(
        f"the pretrained weights {name!r} are not published yet (no Hub repository holds "
        f"them). Make them: train `glamor-zoo train --config recipes/{recipe}.yaml` (or "
        "convert the authors' TF2 checkpoint with `glamor-zoo convert-tf PREFIX DIR` for "
        "glamor_original) and load the folder as 'local-dir:DIR'; or build the architecture "
        "with random weights (pretrained=False in Python; --random-weights on `glamor-zoo "
        "predict`, `eval`, `saliency` and `export`)."
    )


def register_model(fn: F) -> F:
    """Register ``fn`` as a timm entrypoint and as a member of the zoo."""
    _ZOO_MODULES.add(fn.__module__.split(".")[-1])
    add_zoo_architecture(fn.__name__)
    return _timm_register_model(fn)


def constructor_args(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The part of an entrypoint's keyword arguments that rebuilds the model (no placement)."""
    return {k: v for k, v in kwargs.items() if k not in _BUILD_ONLY_KWARGS}


def with_factory_kwargs(init: Callable[..., None]) -> Callable[..., None]:
    """Give a model's ``__init__`` timm's factory keyword arguments ``device`` and ``dtype``.

    ``timm.create_model(name, device=..., dtype=...)`` passes both to every model. The wrapped
    constructor builds the model under ``torch.device(device)``, so every parameter and buffer
    is created there (``"meta"`` allocates nothing), then casts its floating-point tensors to
    ``dtype``. The zoo's components are plain ``nn`` layers and timm models, which all honour the
    device context; one wrapper replaces threading both arguments through every component.
    """
    signature = inspect.signature(init)
    placement = [
        inspect.Parameter("device", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("dtype", inspect.Parameter.KEYWORD_ONLY, default=None),
    ]

    @functools.wraps(init)
    def init_on(
        self: nn.Module,
        *args: Any,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **kwargs: Any,
    ) -> None:
        if dtype is not None and not dtype.is_floating_point:
            raise ValueError(
                f"dtype={dtype} is not a floating-point type; pass e.g. torch.float32 or "
                "torch.bfloat16 (integer models come from quantisation, see glamor_zoo.fast)"
            )
        with torch.device(device) if device is not None else contextlib.nullcontext():
            init(self, *args, **kwargs)
        if dtype is not None:
            self.to(dtype=dtype)

    init_on.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *placement]
    )
    return init_on


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Accept zoo state dicts as saved, and ones wrapped by accelerate/DDP (``module.``)."""
    state_dict = state_dict.get("state_dict", state_dict)
    return {k.removeprefix("module."): v for k, v in state_dict.items()}


def packaged_training_settings(model: nn.Module) -> dict[str, Any]:
    """The settings recorded with a released tag's weights beyond its entrypoint (the
    augmentation, the face crop rule and the temperature: ``_PACKAGED_SPEC_KEYS``), from
    ``glamor_zoo/weights/<arch>_<tag>.json``, the tag's config, shipped inside the package.

    A released tag's structure and pixels come from its entrypoint, but these do not: inference
    cuts faces as training did, and fine-tuning from the tag starts from its augmentation (a
    recipe's ``data.preprocess`` still overrides them).
    """
    cfg = getattr(model, "pretrained_cfg", None) or {}
    tag = f"{cfg.get('architecture')}.{cfg.get('tag')}"
    if tag not in released_ledger():
        return {}
    record = PACKAGE_WEIGHTS / f"{tag.replace('.', '_')}.json"
    if not record.is_file():
        return {}
    config = json.loads(record.read_text())
    spec = config.get("spec") or config.get("model_args", {}).get("spec") or {}
    return {key: spec[key] for key in _PACKAGED_SPEC_KEYS if spec.get(key) is not None}


# What a released tag's packaged config decides beyond its entrypoint: the augmentation its
# recipe trained with, how its faces are cut around a detector's box (the crop it was trained
# on) and the temperature of its probabilities (fitted on its hold-outs).
_PACKAGED_SPEC_KEYS = ("face_augment", "face_margin", "face_square", "temperature")


def saved_spec(kwargs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The spec a saved model's ``config.json`` holds at its top level (``"spec"``, where plain
    timm ignores it), for a model timm builds from a ``local-dir:`` folder or an ``hf-hub:``
    repository: the builder's ``pretrained_cfg`` says which (its ``source`` and ``file`` or
    ``hf_hub_id``). ``None`` for anything else, and for folders that keep the spec in
    ``model_args`` (timm passes that back as the ``spec`` argument itself).
    """
    cfg = kwargs.get("pretrained_cfg")
    if not isinstance(cfg, Mapping):
        return None
    if cfg.get("source") == "local-dir" and cfg.get("file"):
        path: Path | str | None = Path(str(cfg["file"])) / "config.json"
    elif cfg.get("source") == "hf-hub" and cfg.get("hf_hub_id"):
        from huggingface_hub import try_to_load_from_cache

        repo, revision = split_revision(str(cfg["hf_hub_id"]))
        path = try_to_load_from_cache(
            repo, "config.json", cache_dir=kwargs.get("cache_dir"), revision=revision
        )
    else:
        return None
    if not isinstance(path, (str, Path)) or not Path(path).is_file():
        return None
    spec = json.loads(Path(path).read_text(encoding="utf-8")).get("spec")
    return spec if isinstance(spec, dict) else None


def attach_spec(model: nn.Module, spec: ModelSpec | Mapping[str, Any] | None) -> ModelSpec | None:
    """Give a freshly built model its spec: the model's :meth:`default_spec`, the pretrained
    cfg's label names (when they fit its classes), then ``spec`` (the entrypoint's ``spec``
    argument: a saved spec, or overrides such as a recipe's ``data.preprocess``). timm's
    ``features_only`` wrappers return feature maps, not classes: they get none (``None``).

    Raises:
        SpecError: ``spec`` is malformed or contradicts the model.
    """
    if not callable(getattr(model, "default_spec", None)):
        return None
    labels = (getattr(model, "pretrained_cfg", None) or {}).get("label_names")
    base = model.default_spec()
    if labels and len(labels) == int(getattr(model, "num_classes", 0)):
        base = base.replace(label_names=tuple(labels))
    trained = packaged_training_settings(model)
    if trained:
        base = base.replace(**trained)
    if isinstance(spec, ModelSpec):
        return set_model_spec(model, spec)
    return set_model_spec(model, base.replace(**dict(spec or {})))


def finish_model(
    model: M, model_kwargs: Mapping[str, Any], spec: ModelSpec | Mapping[str, Any] | None
) -> M:
    """The last steps of a zoo entrypoint on the model ``build_model_with_cfg`` returned.

    Records the complete constructor arguments (entrypoint defaults + user overrides, without
    ``num_classes``) as ``model.model_args``: what a saved ``config.json`` needs to rebuild
    exactly this model (the spec is added when it is saved); makes its ``pretrained_cfg`` plain
    and attaches ``spec`` (see :func:`attach_spec`).
    """
    model.model_args = {k: v for k, v in model_kwargs.items() if k != "num_classes"}
    plain_pretrained_cfg(model)
    attach_spec(model, spec)
    return model


class ZooModel:
    """What every zoo model class shares (listed first among its bases, before ``nn.Module``
    or the timm model it extends)."""

    # The spec (``glamor_zoo.get_model_spec``) is Python-side metadata, never scripted.
    __jit_ignored_attributes__ = ("spec",)

    def preprocess_cfg(self) -> dict[str, Any]:
        """Deprecated since 0.2.0: ``glamor_zoo.get_model_spec(model).preprocess_cfg()``
        (what 0.1.0's ``model.preprocess_cfg()`` returned, now read from the model's spec)."""
        warnings.warn(
            "model.preprocess_cfg() is deprecated since glamor-zoo 0.2.0 and will be removed in "
            "0.3.0: use glamor_zoo.get_model_spec(model) (a typed ModelSpec; "
            ".preprocess_cfg() gives the old dict)",
            DeprecationWarning,
            stacklevel=2,
        )
        return get_model_spec(self).preprocess_cfg()

    def _replace_classifier(
        self: Any, num_classes: int, weight_init: Callable[[torch.Tensor], Any]
    ) -> None:
        """Give ``self.head`` a new last layer ``fc`` for ``num_classes`` (0: identity), on the
        device and dtype of the model's parameters and in its head's train/eval mode; its
        weight initialised by ``weight_init``, its bias zero."""
        self.num_classes = num_classes
        if num_classes <= 0:
            self.head.fc = nn.Identity()
            return
        ref = next(self.parameters())
        fc = nn.Linear(self.head_hidden_size, num_classes, device=ref.device, dtype=ref.dtype)
        weight_init(fc.weight)
        nn.init.zeros_(fc.bias)
        self.head.fc = fc.train(self.head.training)


def build_zoo_model(
    model_cls: type[M],
    variant: str,
    pretrained: bool,
    kwargs: dict[str, Any],
    *,
    filter_fn: Callable[[dict[str, Any], nn.Module], dict[str, Any]] = checkpoint_filter_fn,
    first_conv: Callable[[Mapping[str, Any]], Any] | None = None,
    **build_kwargs: Any,
) -> M:
    """A zoo entrypoint's model: timm's ``build_model_with_cfg`` between the zoo's own steps.

    Before: an unpublished tag fails (:func:`raise_if_unpublished`), a released tag's file is
    found and its sha256 checked (``check_released_weights``), and the spec a saved folder
    holds is read (:func:`saved_spec`). After: :func:`finish_model`.

    Args:
        model_cls: The model class.
        variant: The entrypoint's name.
        pretrained: Load the tag's weights.
        kwargs: The entrypoint's keyword arguments (model arguments and timm's builder ones).
        filter_fn: Maps a loaded state dict onto the model (timm's ``pretrained_filter_fn``).
        first_conv: From the model arguments, the layer that reads the image when it is not
            the tag's (timm's ``first_conv``: which weights ``in_chans`` adapts); ``None`` keeps
            the tag's.
        build_kwargs: Further arguments of ``build_model_with_cfg`` (e.g. ``feature_cfg``).
    """
    raise_if_unpublished(variant, pretrained, kwargs)
    check_released_weights(variant, pretrained, kwargs)
    spec = kwargs.pop("spec", None) or saved_spec(kwargs)
    model_kwargs = constructor_args(kwargs)
    conv = first_conv(model_kwargs) if first_conv is not None else None
    if conv is not None:
        overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
        overlay.setdefault("first_conv", conv)
        kwargs["pretrained_cfg_overlay"] = overlay
    model = build_model_with_cfg(
        model_cls, variant, pretrained, pretrained_filter_fn=filter_fn, **build_kwargs, **kwargs
    )
    return finish_model(model, model_kwargs, spec)


def is_zoo_model(name: str) -> bool:
    """Whether ``name`` (``arch`` or ``arch.tag``) is one of the zoo's architectures."""
    return is_zoo_architecture(name)


def list_models(
    filter: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = "",
    unpublished: bool = False,
) -> list[str]:
    """The zoo's registered models, as ``timm.list_models`` spells them.

    Args:
        filter: Wildcard pattern(s), e.g. ``"glamor_*"``.
        pretrained: List ``arch.tag`` names that have pretrained weights instead of architectures.
        exclude_filters: Wildcard pattern(s) to leave out.
        unpublished: With ``pretrained``, also list the tags whose weights are not published
            yet (:func:`is_published` tells them apart).
    """
    names = timm.list_models(
        filter, module=sorted(_ZOO_MODULES), pretrained=pretrained, exclude_filters=exclude_filters
    )
    if pretrained and not unpublished:
        names = [n for n in names if n not in _UNPUBLISHED]
    return names


def create_model(
    model_name: str,
    pretrained: bool | None = None,
    checkpoint_path: str | Path | None = None,
    revision: str | None = None,
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
        revision: A Hub branch, tag or commit id to load (``hf-hub:`` names and pretrained
            tags); the same as ``hf-hub:org/name@revision``. Pin a commit id for reproducibility.
        **kwargs: Model arguments, plus timm's ``pretrained_cfg_overlay``, ``cache_dir``…

    Raises:
        CheckpointError: The weights or ``config.json`` are corrupt, truncated or for another
            model, or the weights do not match the sha256 their ``config.json`` records; the
            message names the file.
    """
    if pretrained is None:
        pretrained = model_name.startswith(("hf-hub:", "local-dir:"))
    if checkpoint_path is not None:
        checkpoint_path = str(checkpoint_path)
    if revision is not None:
        model_name, kwargs = _pin_revision(model_name, revision, kwargs)
    try:
        if pretrained:
            check_source_config(model_name, kwargs)
        model = timm.create_model(
            model_name, pretrained=pretrained, checkpoint_path=checkpoint_path, **kwargs
        )
        verify_weights_digest(model_name, pretrained, kwargs)
        if pretrained or checkpoint_path:
            check_finite_weights(
                model, weights_source(model_name, pretrained, checkpoint_path, kwargs)
            )
        return model
    except CheckpointError:
        raise
    except Exception as exc:
        error = explain_load_error(exc, model_name, pretrained, checkpoint_path, kwargs)
        if error is None:
            raise
        raise error from exc


def _pin_revision(
    model_name: str, revision: str, kwargs: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """Point an ``hf-hub:`` name or a pretrained tag's ``hf_hub_id`` at ``revision``."""
    if model_name.startswith("hf-hub:"):
        if "@" in model_name:
            raise ValueError(f"{model_name!r} already names a revision; drop revision={revision!r}")
        return f"{model_name}@{revision}", kwargs
    cfg = timm.models.get_pretrained_cfg(model_name)
    overlay = dict(kwargs.get("pretrained_cfg_overlay") or {})
    hub_id = overlay.get("hf_hub_id") or (cfg.hf_hub_id if cfg is not None else None)
    if not hub_id:
        raise ValueError(
            f"revision={revision!r} needs a Hub model: {model_name!r} is neither an hf-hub: name "
            "nor a pretrained tag with an hf_hub_id"
        )
    overlay["hf_hub_id"] = f"{split_revision(hub_id)[0]}@{revision}"
    return model_name, {**kwargs, "pretrained_cfg_overlay": overlay}
