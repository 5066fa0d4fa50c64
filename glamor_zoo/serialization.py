"""Model folders: ``model.safetensors`` + ``config.json``, the unit that is saved, pushed and loaded.

``config.json`` follows timm's Hub layout (``architecture``, ``num_classes``, ``num_features``,
``label_names``, ``pretrained_cfg``, ``model_args``), so ``timm.create_model("local-dir:DIR")``
and ``timm.create_model("hf-hub:org/name")`` rebuild the model once ``glamor_zoo`` is imported.
The top-level ``"spec"`` holds the model's :class:`~glamor_zoo.spec.ModelSpec` (inputs, sizes,
mean/std, crop and mask rules, test-time flipping, labels, what the weights were trained with),
in the manner of open_clip, so a folder is self-describing without any code registry but the
architecture. Plain timm ignores it (``model_args`` holds constructor arguments only); the zoo's
builders read it back (:func:`glamor_zoo.models._factory.saved_spec`). Folders written before
kept it in ``model_args["spec"]``, which timm passes back as the ``spec`` argument.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "atomic_write_bytes",
    "atomic_write_text",
    "file_sha256",
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


def model_config(
    model: nn.Module, label_names: Sequence[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """The ``config.json`` dict that rebuilds ``model`` and its spec.

    Laid out as timm's ``save_for_hf`` writes it: ``architecture``, ``num_classes``,
    ``num_features``, ``label_names``, ``model_args``, then ``pretrained_cfg`` without its
    source fields and ``architecture``, with ``custom_load: false`` (the weights are the
    model's own state dict). A model with a :class:`~glamor_zoo.spec.ModelSpec` has it in
    the top-level ``"spec"`` (read back by the zoo's builders, ignored by plain timm).

    NOTE: written here rather than by ``timm.models.save_for_hf``, whose output it matches
    (``tests/test_hub.py`` compares the two): timm takes the constructor arguments its own
    factory recorded (``_model_args``), which zoo models do not carry (theirs, with the
    components and the spec, are ``model.model_args``), and adds the model's traits
    (``in_chans``, ``num_classes``, ``global_pool``, ``img_size``) to them; it writes the two
    files in place rather than atomically, and a pickle unless told not to. ``pretrained_cfg``
    loses its ``tag`` (timm keeps it): a model built from an architecture carries its default
    tag, which says nothing about weights trained since.

    Args:
        model: A zoo model (built by ``create_model``).
        label_names: Class names in output order (default: the model's spec's).
        **extra: More top-level keys (e.g. ``metrics``, ``recipe``).

    Raises:
        ValueError: The model has no architecture, or ``label_names`` does not fit its classes.
    """
    from glamor_zoo.spec import get_model_spec

    pretrained_cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
    architecture = pretrained_cfg.get("architecture")
    if not architecture:
        raise ValueError("model has no pretrained_cfg['architecture']; build it with create_model")
    for key in ("architecture", "hf_hub_id", "url", "file", "state_dict", "source", "tag"):
        pretrained_cfg.pop(key, None)
    pretrained_cfg["custom_load"] = False
    num_classes = int(getattr(model, "num_classes", 0))
    spec = get_model_spec(model)
    if label_names is not None:
        if len(label_names) != num_classes:
            raise ValueError(
                f"{len(label_names)} label names given for a model with {num_classes} classes"
            )
        spec = spec.replace(label_names=tuple(label_names))
    pretrained_cfg.update(
        spec.pretrained_cfg_overlay(), num_classes=num_classes, label_names=spec.label_names
    )
    # timm adds the source checkpoint's arguments as ``pretrained_model_args`` when a model
    # is loaded from a folder or the Hub; they are not constructor arguments of the model.
    model_args = {
        k: v for k, v in getattr(model, "model_args", {}).items() if k != "pretrained_model_args"
    }
    config: dict[str, Any] = {
        "architecture": architecture,
        "num_classes": num_classes,
        "num_features": int(getattr(model, "num_features", 0)),
        "label_names": list(spec.label_names),
        "model_args": model_args,
        "pretrained_cfg": pretrained_cfg,
    }
    if callable(getattr(model, "default_spec", None)):  # a zoo model: its builder reads it back
        config["spec"] = spec.to_dict()
    config.update(extra)
    return _jsonable(config)


def save_pretrained(
    model: nn.Module,
    out_dir: str | Path,
    label_names: Sequence[str] | None = None,
    **extra: Any,
) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/config.json`` atomically.

    Args:
        model: The model to save.
        out_dir: The folder (created if needed); existing files are replaced whole.
        label_names: Class names in output order (default: the model's spec's).
        **extra: More top-level keys for ``config.json`` (metrics, recipe, …).

    Returns:
        ``out_dir`` as a Path.
    """
    from safetensors.torch import save

    out_dir = Path(out_dir)
    config = model_config(model, label_names, **extra)
    state_dict = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    weights = save(state_dict, metadata={"format": "pt", "architecture": config["architecture"]})
    atomic_write_bytes(out_dir / WEIGHTS_NAME, weights)
    atomic_write_text(out_dir / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
    return out_dir


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensor_is_finite(state_dict: Mapping[str, torch.Tensor]) -> bool:
    """Whether every floating tensor of ``state_dict`` is finite."""
    return all(torch.isfinite(t).all() for t in state_dict.values() if t.is_floating_point())
