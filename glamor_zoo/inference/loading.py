"""Building the model that recognition runs: the packaged default, a Hub name, or a folder.

With no model named, the recogniser uses :data:`DEFAULT_MODEL`, whose weights ship inside the
package, so it works with no network. Any other name goes through
:func:`glamor_zoo.create_model` (a pretrained tag, ``hf-hub:org/name``, ``local-dir:/path``);
a download that cannot happen becomes a :class:`ModelLoadError` that says what to do.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import nn

from glamor_zoo.labels import PAPER_LABELS

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

DEFAULT_MODEL = "face_resnet18.fer2013"


class ModelLoadError(RuntimeError):
    """A model could not be built or its weights could not be found; the message says what to do."""


@dataclass(frozen=True)
class LoadedModel:
    """A model ready for inference and where it came from.

    Attributes:
        model: The model, in eval mode.
        name: The name it was asked for (or the class name of a given module).
        source: ``"packaged"``, ``"hub"``, ``"local-dir"``, ``"random"`` (no pretrained weights)
            or ``"module"`` (a model object passed in).
        preprocessing: The ``preprocessing`` its saved ``config.json`` asks for (``"official"``
            for checkpoints converted from the authors' code), or ``None``.
    """

    model: nn.Module
    name: str
    source: str
    preprocessing: str | None = None

    def describe(self) -> str:
        """One line for the user, e.g. ``face_resnet18.fer2013 (packaged weights, offline)``."""
        detail = {
            "packaged": "packaged weights, offline",
            "hub": "Hugging Face Hub or its cache",
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


def saved_preprocessing(name: str) -> str | None:
    """The ``preprocessing`` entry of a ``local-dir:`` or ``hf-hub:`` model's ``config.json``
    (the Hub's from the local cache only), or ``None``."""
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
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8")).get("preprocessing")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, str) else None


def _source(name: str, pretrained: bool) -> str:
    if name.startswith("local-dir:"):
        return "local-dir"
    if not pretrained:
        return "random"
    if name.startswith("hf-hub:"):
        return "hub"
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    if cfg is not None and cfg.file and Path(cfg.file).is_file():
        return "packaged"
    return "hub"


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
        return LoadedModel(model.eval(), type(model).__name__, "module")
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
    return LoadedModel(built.eval(), name, source, saved_preprocessing(name))


def model_labels(model: nn.Module) -> list[str]:
    """Class names in output order: the model's ``label_names``, else the paper's seven."""
    num_classes = int(getattr(model, "num_classes", 0))
    cfg = getattr(model, "pretrained_cfg", None) or {}
    names = cfg.get("label_names")
    if names is not None and len(names) == num_classes:
        return [str(n) for n in names]
    if num_classes == len(PAPER_LABELS):
        return list(PAPER_LABELS)
    return [f"class_{i}" for i in range(num_classes)]


def model_preprocess_cfg(model: nn.Module) -> dict[str, Any]:
    """``model.preprocess_cfg()``, or a face-only pipeline from a timm model's pretrained cfg."""
    if hasattr(model, "preprocess_cfg"):
        return dict(model.preprocess_cfg())
    cfg = getattr(model, "pretrained_cfg", None) or {}
    in_chans, height, width = cfg.get("input_size", (3, 224, 224))
    return {
        "inputs": "face",
        "in_chans": in_chans,
        "face_size": [height, width],
        "face_mean": list(cfg.get("mean", (0.485, 0.456, 0.406))),
        "face_std": list(cfg.get("std", (0.229, 0.224, 0.225))),
        "interpolation": cfg.get("interpolation", "bilinear"),
        "mask_face_in_context": False,
        "face_augment": None,
    }
