"""Training checkpoints: weights, optimiser state and loop position, safetensors + JSON only.

A checkpoint is a folder ``<stage>/step-<global step>/`` holding ``model.safetensors``,
``optimizer.safetensors`` (every tensor of the optimiser state), and ``state.json`` (loop
position, best metric, history, and the optimiser's non-tensor state), plus ``ema.safetensors``
when the run keeps a weight average (``optim.ema_decay``). It is written into a
hidden temporary folder and renamed into place, so a process killed at any moment leaves
either the complete checkpoint or none; :func:`latest_checkpoint` ignores the leftovers.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "STATE_NAME",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "load_ema_state",
    "optimizer_state_from_flat",
    "optimizer_state_to_flat",
    "prune_checkpoints",
    "replace_dir",
    "save_checkpoint",
]

STATE_NAME = "state.json"
MODEL_NAME = "model.safetensors"
OPTIMIZER_NAME = "optimizer.safetensors"
EMA_NAME = "ema.safetensors"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def optimizer_state_to_flat(
    state_dict: Mapping[str, Any],
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into named tensors and a JSON-serialisable rest."""
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state_dict["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"state.{index}.{name}"] = value.detach().to("cpu").contiguous()
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def optimizer_state_from_flat(
    tensors: Mapping[str, torch.Tensor], rest: Mapping[str, Any]
) -> dict[str, Any]:
    """Inverse of :func:`optimizer_state_to_flat`."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in rest.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": [dict(g) for g in rest["param_groups"]]}


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final``, replacing an older ``final`` if any."""
    if final.exists():
        trash = final.with_name(f".trash-{final.name}-{uuid.uuid4().hex[:8]}")
        os.replace(final, trash)
        os.replace(tmp, final)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, final)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(
    folder: str | Path,
    global_step: int,
    model_state: Mapping[str, torch.Tensor],
    optimizer_state: Mapping[str, Any],
    state: Mapping[str, Any],
    ema_state: Mapping[str, torch.Tensor] | None = None,
) -> Path:
    """Write ``folder/step-<global_step>/`` atomically and return its path.

    Args:
        folder: The stage's checkpoint folder.
        global_step: Optimiser steps done in this stage (names the checkpoint).
        model_state: The unwrapped model's ``state_dict()``.
        optimizer_state: ``optimizer.state_dict()``.
        state: JSON-serialisable loop state (epoch, batches done, best metric, history…).
        ema_state: The weight average's ``state_dict()`` (``optim.ema_decay``), saved as
            ``ema.safetensors``; ``None``: no average.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{global_step:08d}"
    tmp = folder / f".tmp-{final.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        weights = {k: v.detach().to("cpu").contiguous() for k, v in model_state.items()}
        save_file(weights, str(tmp / MODEL_NAME), metadata={"format": "pt"})
        tensors, rest = optimizer_state_to_flat(optimizer_state)
        save_file(tensors, str(tmp / OPTIMIZER_NAME), metadata={"format": "pt"})
        names = [MODEL_NAME, OPTIMIZER_NAME, STATE_NAME]
        if ema_state is not None:
            average = {k: v.detach().to("cpu").contiguous() for k, v in ema_state.items()}
            save_file(average, str(tmp / EMA_NAME), metadata={"format": "pt"})
            names.append(EMA_NAME)
        payload = {"global_step": global_step, "optimizer": rest, **state}
        (tmp / STATE_NAME).write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        for name in names:
            with open(tmp / name, "rb") as handle:
                os.fsync(handle.fileno())
        replace_dir(tmp, final)
        _fsync_dir(folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def list_checkpoints(folder: str | Path) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = []
    for path in folder.iterdir():
        match = _STEP_DIR.match(path.name)
        if match and (path / STATE_NAME).is_file():
            found.append((int(match.group(1)), path))
    return [p for _, p in sorted(found)]


def latest_checkpoint(folder: str | Path) -> Path | None:
    """The newest complete checkpoint in ``folder``, or ``None``."""
    found = list_checkpoints(folder)
    return found[-1] if found else None


def load_checkpoint(
    path: str | Path,
) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """Read a checkpoint: (model state dict, optimiser state dict, loop state)."""
    from safetensors.torch import load_file

    path = Path(path)
    state = json.loads((path / STATE_NAME).read_text(encoding="utf-8"))
    model_state = load_file(str(path / MODEL_NAME))
    optimizer_state = optimizer_state_from_flat(
        load_file(str(path / OPTIMIZER_NAME)), state.pop("optimizer")
    )
    return model_state, optimizer_state, state


def load_ema_state(path: str | Path) -> dict[str, torch.Tensor] | None:
    """The weight average a checkpoint holds (``ema.safetensors``), else ``None``."""
    from safetensors.torch import load_file

    file = Path(path) / EMA_NAME
    return load_file(str(file)) if file.is_file() else None


def prune_checkpoints(folder: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the ``keep_last`` newest checkpoints and stale temporary folders."""
    folder = Path(folder)
    removed = list_checkpoints(folder)[:-keep_last] if keep_last > 0 else list_checkpoints(folder)
    if folder.is_dir():
        removed += [p for p in folder.iterdir() if p.name.startswith((".tmp-", ".trash-"))]
    for path in removed:
        shutil.rmtree(path, ignore_errors=True)
    return removed
