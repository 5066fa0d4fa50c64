"""The one loader: a model ready for inference and its spec, from a name, a folder or an object.

Every consumer (the recogniser, ``glamor-zoo eval``, saliency, evaluation after training, ONNX
export, the model card) loads through :func:`load_model` and asks the returned
:attr:`LoadedModel.spec` (a :class:`~glamor_zoo.spec.ModelSpec`) what the model takes in and
gives out. With no model named it is :data:`DEFAULT_MODEL`, whose weights ship inside the
package, so it works with no network. Any other name goes through
:func:`glamor_zoo.create_model` (a pretrained tag, ``hf-hub:org/name``, ``local-dir:/path``);
a download that cannot happen becomes a :class:`ModelLoadError` that says what to do. Folders
written by glamor-zoo 0.1.0 (no spec in ``config.json``) load with the spec their model
arguments imply and, for converted checkpoints, the official pipeline they record.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from torch import nn

from glamor_zoo.spec import ModelSpec, get_model_spec, set_model_spec

__all__ = [
    "DEFAULT_MODEL",
    "LoadedModel",
    "ModelLoadError",
    "load_model",
    "model_labels",
    "model_preprocess_cfg",
    "model_spec",
    "saved_preprocessing",
]

_logger = logging.getLogger(__name__)

DEFAULT_MODEL = "face_resnet26.fer2013_sfew_hardfer"


class ModelLoadError(RuntimeError):
    """A model could not be built or its weights could not be found; the message says what to do."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference, what it takes in and gives out, and where it came from.

    Attributes:
        model: The model, in eval mode; ``model.spec`` is :attr:`spec`.
        name: The name it was asked for (or the class name of a given module).
        source: ``"packaged"``, ``"hub"``, ``"official"`` (the authors' checkpoint, converted
            and cached), ``"local-dir"``, ``"random"`` (no pretrained weights) or ``"module"``
            (a model object passed in).
        spec: Its inputs, sizes, mean/std, crop and mask rules, labels and training pipeline.
    """

    model: nn.Module
    name: str
    source: str
    spec: ModelSpec

    @property
    def preprocessing(self) -> Literal["zoo", "official"]:
        """The pipeline its weights expect: ``spec.pipeline`` (0.1.0's attribute)."""
        return self.spec.pipeline

    @property
    def uses_context(self) -> bool:
        """Whether the model reads a context image: ``spec.uses_context``."""
        return self.spec.uses_context

    @property
    def labels(self) -> list[str]:
        """Class names in output order: ``spec.label_names``."""
        return list(self.spec.label_names)

    def describe(self) -> str:
        """One line for the user, e.g. ``face_resnet18.fer2013 (packaged weights, offline)``."""
        detail = {
            "packaged": "packaged weights, offline",
            "hub": "Hugging Face Hub or its cache",
            "official": "the authors' checkpoint, verified, converted and cached",
            "local-dir": "model folder",
            "random": "NO pretrained weights: random initialisation",
            "module": "model object",
        }[self.source]
        return f"{self.name} ({detail})"


def _is_download_error(exc: BaseException) -> bool:
    from huggingface_hub import errors

    network = (ConnectionError, TimeoutError)
    try:
        import httpx

        network = (*network, httpx.HTTPError)
    except ImportError:
        pass
    try:
        import requests

        network = (*network, requests.exceptions.RequestException)
    except ImportError:
        pass
    hub = (
        errors.LocalEntryNotFoundError,
        errors.OfflineModeIsEnabled,
        errors.RepositoryNotFoundError,
        errors.HfHubHTTPError,
    )
    return isinstance(exc, (*hub, *network))


def _has_pretrained_weights(name: str) -> bool:
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError:
        return False
    return cfg is not None and bool(cfg.hf_hub_id or cfg.file or cfg.url)


def _check_packaged_file(name: str) -> None:
    """A model whose weights ship inside the package must find them (timm would say only
    ``FileNotFoundError``)."""
    from timm.models import get_pretrained_cfg

    try:
        cfg = get_pretrained_cfg(name)
    except RuntimeError:
        return
    if cfg is not None and cfg.file and not Path(cfg.file).is_file():
        raise ModelLoadError(
            f"model {name!r} uses weights shipped inside the package, and this installation "
            f"has no {cfg.file}; reinstall glamor-zoo (or build the weights with its recipe)"
        )


def model_spec(spec: str) -> str:
    """A model name as :func:`glamor_zoo.create_model` takes it: an existing folder becomes
    ``local-dir:<absolute path>``; anything else is returned as it is."""
    if spec.startswith(("hf-hub:", "local-dir:")) or not Path(spec).is_dir():
        return spec
    return f"local-dir:{Path(spec).resolve()}"


def _saved_config(name: str) -> dict[str, Any]:
    """A ``local-dir:`` or ``hf-hub:`` model's ``config.json`` (the Hub's from the local cache
    only), or ``{}``."""
    if name.startswith("local-dir:"):
        path = Path(name.removeprefix("local-dir:")) / "config.json"
    elif name.startswith("hf-hub:"):
        from huggingface_hub import try_to_load_from_cache

        repo, _, revision = name.removeprefix("hf-hub:").partition("@")
        cached = try_to_load_from_cache(repo, "config.json", revision=revision or None)
        if not isinstance(cached, str):
            return None
        path = Path(cached)
    else:
        return {}
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return config if isinstance(config, dict) else {}


def saved_preprocessing(name: str) -> str | None:
    """Deprecated since 0.2.0: ``load_model(name).spec.pipeline``. The ``preprocessing`` entry
    of a 0.1.0 ``config.json``, or ``None``."""
    _deprecated("saved_preprocessing(name)", "load_model(name).spec.pipeline")
    value = _saved_config(name).get("preprocessing")
    return value if isinstance(value, str) else None


def _legacy_spec(name: str, model: nn.Module) -> ModelSpec:
    """The spec of a model loaded from a 0.1.0 folder: its arguments' spec, plus the official
    pipeline when the folder's top-level ``preprocessing`` asks for it."""
    spec = get_model_spec(model)
    config = _saved_config(name)
    saved = "spec" in config or "spec" in (config.get("model_args") or {})
    if saved or config.get("preprocessing") != "official":
        return spec
    return set_model_spec(model, spec.with_pipeline("official"))


def _source(name: str, pretrained: bool) -> str:
    if name.startswith("local-dir:"):
        return "local-dir"
    if not pretrained:
        return "random"
    if name.startswith("hf-hub:"):
        return "hub"
    from timm.models import get_pretrained_cfg

    from glamor_zoo.models._official import official_source

    cfg = get_pretrained_cfg(name)
    if cfg is not None and cfg.file and Path(cfg.file).is_file():
        return "packaged"
    return "official" if official_source(name) is not None else "hub"


def load_model(model: str | nn.Module | None = None, pretrained: bool | None = None) -> LoadedModel:
    """Build ``model`` for inference (eval mode, on the CPU).

    Args:
        model: ``None`` for :data:`DEFAULT_MODEL`, a name for :func:`glamor_zoo.create_model`,
            a model folder (as ``local-dir:``), or a model object.
        pretrained: Load pretrained weights. Default: yes when the name has any (a pretrained
            tag, ``hf-hub:``, ``local-dir:``); an architecture without weights (``glamor_test``)
            is built with random weights, and a warning says so.

    Raises:
        ModelLoadError: The weights need a download that failed (offline, unknown repository),
            the packaged weights are missing from the installation, or a model folder or
            weights file is missing, corrupt or for another model.
    """
    import glamor_zoo

    if isinstance(model, nn.Module):
        return LoadedModel(model.eval(), type(model).__name__, "module", get_model_spec(model))
    name = DEFAULT_MODEL if model is None else model_spec(str(model))
    if pretrained is None:
        pretrained = name.startswith(("hf-hub:", "local-dir:")) or _has_pretrained_weights(name)
    if pretrained and not name.startswith(("hf-hub:", "local-dir:")):
        _check_packaged_file(name)
    try:
        built = glamor_zoo.create_model(name, pretrained=pretrained)
    except (glamor_zoo.CheckpointError, glamor_zoo.WeightsNotPublishedError) as exc:
        raise ModelLoadError(str(exc)) from exc  # names the file or tag, and what to do
    except Exception as exc:
        if _is_download_error(exc):
            raise ModelLoadError(
                f"model {name!r} needs its weights from the Hugging Face Hub, and the download "
                f"failed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else exc}). "
                "Connect to the internet once (the weights are then cached), point HF_HOME at a "
                "cache that has them, load a saved folder with 'local-dir:/path', or leave the "
                f"model out to use the packaged offline model {DEFAULT_MODEL!r}."
            ) from exc
        if isinstance(exc, RuntimeError) and str(exc).startswith("Unknown model"):
            raise ModelLoadError(
                f"unknown model {name!r}: see `glamor-zoo models` for the zoo's models, or use "
                "'hf-hub:org/name' / 'local-dir:/path'"
            ) from exc
        if isinstance(exc, RuntimeError) and str(exc).startswith("Invalid pretrained tag"):
            architecture = name.partition(".")[0]
            raise ModelLoadError(
                f"model {name!r} has no pretrained tag {name.partition('.')[2]!r}: "
                f"`glamor-zoo models {architecture}` lists its tags"
            ) from exc
        if isinstance(exc, (FileNotFoundError, NotADirectoryError)):
            raise ModelLoadError(f"cannot load model {name!r}: {exc}") from exc
        raise
    source = _source(name, pretrained)
    if source == "random":
        _logger.warning(
            "model %r runs without pretrained weights: its predictions are random", name
        )
    return LoadedModel(built.eval(), name, source, _legacy_spec(name, built))


def _deprecated(old: str, new: str) -> None:
    warnings.warn(
        f"{old} is deprecated since glamor-zoo 0.2.0 and will be removed in 0.3.0: use {new}",
        DeprecationWarning,
        stacklevel=3,
    )


def model_labels(model: nn.Module) -> list[str]:
    """Deprecated since 0.2.0: ``glamor_zoo.get_model_spec(model).label_names``."""
    _deprecated("model_labels(model)", "glamor_zoo.get_model_spec(model).label_names")
    return list(get_model_spec(model).label_names)


def model_preprocess_cfg(model: nn.Module) -> dict[str, Any]:
    """Deprecated since 0.2.0: ``glamor_zoo.get_model_spec(model).preprocess_cfg()``."""
    _deprecated("model_preprocess_cfg(model)", "glamor_zoo.get_model_spec(model)")
    return get_model_spec(model).preprocess_cfg()
