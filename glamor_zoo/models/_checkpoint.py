"""Clear errors for weights and configs that cannot be loaded: which file, what is wrong, what to do.

``timm`` and ``safetensors`` report a truncated download as ``Error while deserializing header``
and weights for another model as a page of missing keys, without naming the file. The zoo's
``create_model`` passes such failures through :func:`explain_load_error`, which finds the file
that was being read (a ``local-dir:`` folder, the Hub cache for ``hf-hub:`` names and pretrained
tags, or ``checkpoint_path``) and raises :class:`CheckpointError` naming it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from glamor_zoo.serialization import file_sha256

__all__ = [
    "DIGEST_KEY",
    "CheckpointError",
    "explain_load_error",
    "file_sha256",
    "split_revision",
    "verify_weights_digest",
]

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "pytorch_model.pth", "model.pth")
# config.json key holding the sha256 of model.safetensors (written by glamor_zoo.push_to_hub).
DIGEST_KEY = "weights_sha256"


class CheckpointError(ValueError):
    """A model's weights or ``config.json`` cannot be used: corrupt, truncated, or for another model.

    Args:
        path: The file (or Hub location) that failed.
        reason: What is wrong with it and what to do.

    Attributes:
        path: As given.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        super().__init__(f"{self.path}: {reason}")


def split_revision(hub_id: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` → ``("org/name", "rev")``; no ``@`` → ``(hub_id, None)``."""
    repo_id, _, revision = hub_id.partition("@")
    return repo_id, revision or None


def _hub_file(hub_id: str, filename: str, cache_dir: str | Path | None) -> str:
    from huggingface_hub import try_to_load_from_cache

    repo_id, revision = split_revision(hub_id)
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
    if isinstance(cached, str):
        return cached
    return f"hf-hub:{hub_id} ({filename})"


def _hub_id(model_name: str, pretrained: bool, kwargs: dict[str, Any]) -> str | None:
    """The ``org/name[@revision]`` weights come from, for Hub names and pretrained tags."""
    if model_name.startswith("hf-hub:"):
        return model_name.removeprefix("hf-hub:")
    if not pretrained or model_name.startswith("local-dir:"):
        return None
    hub_id = (kwargs.get("pretrained_cfg_overlay") or {}).get("hf_hub_id")
    if hub_id is None:
        from timm.models import get_pretrained_cfg

        cfg = get_pretrained_cfg(model_name)
        hub_id = cfg.hf_hub_id if cfg is not None else None
    return hub_id or None


def _weights_file(
    model_name: str, pretrained: bool, checkpoint_path: str | None, kwargs: dict[str, Any]
) -> str | None:
    if checkpoint_path and not pretrained:
        return checkpoint_path
    if model_name.startswith("local-dir:"):
        folder = Path(model_name.removeprefix("local-dir:"))
        found = [folder / name for name in _WEIGHT_FILES if (folder / name).exists()]
        return str(found[0] if found else folder / _WEIGHT_FILES[0])
    hub_id = _hub_id(model_name, pretrained, kwargs)
    if hub_id:
        return _hub_file(hub_id, _WEIGHT_FILES[0], kwargs.get("cache_dir"))
    return checkpoint_path


def _config_file(model_name: str, kwargs: dict[str, Any]) -> str | None:
    if model_name.startswith("local-dir:"):
        return str(Path(model_name.removeprefix("local-dir:")) / "config.json")
    if model_name.startswith("hf-hub:"):
        return _hub_file(model_name.removeprefix("hf-hub:"), "config.json", kwargs.get("cache_dir"))
    return None


def _first_lines(text: str, count: int = 4) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    shown = "; ".join(lines[:count])
    return shown if len(lines) <= count else f"{shown}; …"


def explain_load_error(
    exc: BaseException,
    model_name: str,
    pretrained: bool,
    checkpoint_path: str | None,
    kwargs: dict[str, Any],
) -> CheckpointError | None:
    """A :class:`CheckpointError` naming the file behind ``exc``, or ``None`` if it is not a load error.

    Args:
        exc: What ``timm.create_model`` raised.
        model_name: The name given to ``create_model``.
        pretrained: Whether pretrained weights were being loaded.
        checkpoint_path: ``create_model``'s ``checkpoint_path``.
        kwargs: ``create_model``'s other keyword arguments (``cache_dir``, ``pretrained_cfg_overlay``).
    """
    from safetensors import SafetensorError

    message = str(exc)
    hub_id = _hub_id(model_name, pretrained, kwargs)
    redo = (
        f"remove it from the cache (`hf cache rm model/{split_revision(hub_id)[0]}`) and load "
        "again; if it comes back broken, the file on the Hub is"
        if hub_id
        else "save or convert the model again"
    )
    if isinstance(exc, SafetensorError):
        path = _weights_file(model_name, pretrained, checkpoint_path, kwargs)
        return CheckpointError(
            path or model_name,
            f"not a readable safetensors file, probably truncated or corrupt ({message}); {redo}",
        )
    if isinstance(exc, json.JSONDecodeError):
        path = _config_file(model_name, kwargs)
        if path is None:
            return None
        return CheckpointError(path, f"config.json is not valid JSON ({exc}); {redo}")
    if isinstance(exc, (pickle.UnpicklingError, EOFError)):
        path = _weights_file(model_name, pretrained, checkpoint_path, kwargs)
        return CheckpointError(
            path or model_name,
            f"cannot be read as a weights-only PyTorch checkpoint ({message}); the zoo publishes "
            "model.safetensors, use that",
        )
    if isinstance(exc, RuntimeError) and "Error(s) in loading state_dict" in message:
        path = _weights_file(model_name, pretrained, checkpoint_path, kwargs)
        return CheckpointError(
            path or model_name,
            "these weights do not fit the model being built (another architecture, other "
            f"components or another number of classes): {_first_lines(message)}",
        )
    if isinstance(exc, RuntimeError) and message.startswith("Unknown model"):
        path = _config_file(model_name, kwargs)
        if path is None:
            return None
        return CheckpointError(
            path,
            f"{message}: config.json names an architecture that is not registered. Import the "
            "package that registers it first (`import glamor_zoo`, or the plugin that provides it).",
        )
    if isinstance(exc, RuntimeError) and message.startswith("No suitable checkpoints found"):
        path = _weights_file(model_name, pretrained, checkpoint_path, kwargs)
        return CheckpointError(path or model_name, "missing: the folder has no model.safetensors")
    if isinstance(exc, FileNotFoundError) and model_name.startswith("local-dir:"):
        path = exc.filename or message.rpartition(": ")[2] or model_name.removeprefix("local-dir:")
        return CheckpointError(
            path,
            "missing: a model folder needs config.json and model.safetensors "
            "(as written by glamor_zoo.save_pretrained)",
        )
    return None


def verify_weights_digest(model_name: str, pretrained: bool, kwargs: dict[str, Any]) -> None:
    """Check a loaded ``hf-hub:`` / ``local-dir:`` model's weights against its config's sha256.

    A bit flip inside ``model.safetensors`` still parses; ``config.json``'s ``weights_sha256``
    (recorded on push) catches it. Folders and repositories without the key are not checked.

    Raises:
        CheckpointError: The weights file's sha256 differs from the recorded one.
    """
    if not pretrained or not model_name.startswith(("hf-hub:", "local-dir:")):
        return
    if model_name.startswith("local-dir:"):
        folder = Path(model_name.removeprefix("local-dir:"))
        config_path, weights_path = folder / "config.json", folder / _WEIGHT_FILES[0]
    else:
        hub_id, cache_dir = model_name.removeprefix("hf-hub:"), kwargs.get("cache_dir")
        config_path = Path(_hub_file(hub_id, "config.json", cache_dir))
        weights_path = Path(_hub_file(hub_id, _WEIGHT_FILES[0], cache_dir))
    if not (config_path.is_file() and weights_path.is_file()):
        return
    expected = json.loads(config_path.read_text(encoding="utf-8")).get(DIGEST_KEY)
    if not expected:
        return
    actual = file_sha256(weights_path)
    if actual != expected:
        hub_id = _hub_id(model_name, pretrained, kwargs)
        redo = (
            f"remove it from the cache (`hf cache rm model/{split_revision(hub_id)[0]}`) and load again"
            if hub_id
            else "save or download the model again"
        )
        raise CheckpointError(
            weights_path,
            f"sha256 {actual[:16]}… differs from the {DIGEST_KEY} {expected[:16]}… recorded in "
            f"{config_path.name}: the file is corrupt or was replaced; {redo}",
        )
