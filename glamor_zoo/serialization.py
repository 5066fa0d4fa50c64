"""Model folders: ``model.safetensors`` + ``config.json``, the unit that is saved, pushed and loaded.

``config.json`` follows timm's Hub layout (``architecture``, ``num_classes``, ``num_features``,
``label_names``, ``pretrained_cfg``, ``model_args``), so ``timm.create_model("local-dir:DIR")``
and ``timm.create_model("hf-hub:org/name")`` rebuild the model once ``glamor_zoo`` is imported.
It adds ``preprocess_cfg``, the full input pipeline (sizes, mean/std, crop and mask rules), in
the manner of open_clip, so a folder is self-describing without any code registry but the
architecture.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "atomic_write_bytes",
    "atomic_write_text",
    "model_config",
    "open_temp_beside",
    "save_pretrained",
    "tensor_is_finite",
]

WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
_TEMP_ATTEMPTS = 100


def open_temp_beside(path: str | Path, suffix: str = ".tmp") -> tuple[int, Path]:
    """A new, exclusive temporary file in ``path``'s folder, created as ``open()`` creates files.

    ``tempfile.mkstemp`` makes 0600 files; creating with mode 0666 lets the kernel apply the
    process umask, so the file renamed into place has the permissions of a plain ``open()``,
    and the umask is never read (reading it means setting it, which races with other threads).

    Returns:
        The open file descriptor (write-only) and the temporary file's path.
    """
    path = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_TEMP_ATTEMPTS):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{suffix}"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path} after {_TEMP_ATTEMPTS} tries")


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = open_temp_beside(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """Text version of :func:`atomic_write_bytes` (UTF-8)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, type):
        return f"{value.__module__}:{value.__qualname__}"
    return value


def model_config(model: nn.Module, **extra: Any) -> dict[str, Any]:
    """The ``config.json`` dict that rebuilds ``model`` and its preprocessing.

    Args:
        model: A zoo model (built by ``create_model``).
        **extra: More top-level keys (e.g. ``metrics``, ``recipe``).
    """
    pretrained_cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
    architecture = pretrained_cfg.get("architecture")
    if not architecture:
        raise ValueError("model has no pretrained_cfg['architecture']; build it with create_model")
    for key in ("hf_hub_id", "url", "file", "state_dict", "source", "custom_load", "tag"):
        pretrained_cfg.pop(key, None)
    pretrained_cfg["num_classes"] = int(getattr(model, "num_classes", 0))
    label_names = pretrained_cfg.get("label_names")
    if label_names is not None and len(label_names) != pretrained_cfg["num_classes"]:
        pretrained_cfg.pop("label_names")
    config: dict[str, Any] = {
        "architecture": architecture,
        "num_classes": pretrained_cfg["num_classes"],
        "num_features": int(getattr(model, "num_features", 0)),
        "pretrained_cfg": pretrained_cfg,
        # timm adds the source checkpoint's arguments as ``pretrained_model_args`` when a model
        # is loaded from a folder or the Hub; they are not constructor arguments of the model.
        "model_args": {
            k: v
            for k, v in getattr(model, "model_args", {}).items()
            if k != "pretrained_model_args"
        },
    }
    if pretrained_cfg.get("label_names") is not None:
        config["label_names"] = list(pretrained_cfg["label_names"])
    if hasattr(model, "preprocess_cfg"):
        config["preprocess_cfg"] = model.preprocess_cfg()
    config.update(extra)
    return _jsonable(config)


def save_pretrained(
    model: nn.Module,
    out_dir: str | Path,
    label_names: list[str] | tuple[str, ...] | None = None,
    **extra: Any,
) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/config.json`` atomically.

    Args:
        model: The model to save.
        out_dir: The folder (created if needed); existing files are replaced whole.
        label_names: Class names in output order (default: the model's pretrained cfg's).
        **extra: More top-level keys for ``config.json`` (metrics, recipe, …).

    Returns:
        ``out_dir`` as a Path.
    """
    from safetensors.torch import save

    out_dir = Path(out_dir)
    config = model_config(model, **extra)
    if label_names is not None:
        if len(label_names) != config["num_classes"]:
            raise ValueError(
                f"{len(label_names)} label names given for a model with {config['num_classes']} classes"
            )
        config["label_names"] = list(label_names)
        config["pretrained_cfg"]["label_names"] = list(label_names)
    state_dict = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights = save(state_dict, metadata={"format": "pt", "architecture": config["architecture"]})
    atomic_write_bytes(out_dir / WEIGHTS_NAME, weights)
    atomic_write_text(out_dir / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return out_dir


def tensor_is_finite(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether every floating tensor of ``state_dict`` is finite."""
    return all(torch.isfinite(t).all() for t in state_dict.values() if t.is_floating_point())
