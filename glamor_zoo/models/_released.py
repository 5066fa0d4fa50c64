"""Released weights: one tag names one file forever, and the file is checked against it at load.

Every released tag (``face_resnet26.fer2013``…) is recorded in the ledger
``glamor_zoo/weights/released.json`` (tag → file name, sha256), and its pretrained cfg carries
the same sha256 (:class:`ZooPretrainedCfg`). A tag is never pointed at other weights: new
weights get a new tag (``tests/test_released_weights.py`` holds every recorded hash fixed).

A released file is looked for, in order, in the installed package (``glamor_zoo/weights/``,
the files the wheel carries), in the folder ``$GLAMOR_ZOO_WEIGHTS``, and in the source
repository's ``weights/`` folder (released weights that left the wheel live there). Before a
tag's weights load, :func:`check_released_weights` finds its file and checks its sha256.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
from pathlib import Path
from typing import Any

from timm.models import PretrainedCfg

from glamor_zoo.models._checkpoint import CheckpointError
from glamor_zoo.serialization import file_sha256

__all__ = [
    "LEDGER_PATH",
    "PACKAGE_WEIGHTS",
    "REPOSITORY_WEIGHTS",
    "WEIGHTS_ENV",
    "WeightsNotInstalledError",
    "ZooPretrainedCfg",
    "check_released_weights",
    "find_released_file",
    "plain_pretrained_cfg",
    "released_cfg",
    "released_ledger",
]

PACKAGE_WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
# Released weights that the wheel does not carry: the repository's top-level ``weights/``.
REPOSITORY_WEIGHTS = PACKAGE_WEIGHTS.parent.parent / "weights"
LEDGER_PATH = PACKAGE_WEIGHTS / "released.json"
WEIGHTS_ENV = "GLAMOR_ZOO_WEIGHTS"


@dataclasses.dataclass
class ZooPretrainedCfg(PretrainedCfg):
    """timm's :class:`~timm.models.PretrainedCfg` plus two fields of the zoo's: the sha256 of
    the weights file it names, and the model's family (which card template describes it:
    ``"face_only"``, ``"glamor_net"``, ``"deep_emotion"``).

    Every zoo tag's cfg is one (``glamor_zoo.models._factory.default_cfgs_of``), so the fields
    live in the registry (``timm.models.get_pretrained_cfg(tag).sha256``); a built model's
    ``pretrained_cfg`` dict drops them (:func:`plain_pretrained_cfg`), so that the folders
    timm's ``save_for_hf`` and the zoo's ``save_pretrained`` write stay plain timm.
    """

    sha256: str | None = None
    family: str | None = None


class WeightsNotInstalledError(FileNotFoundError):
    """A released tag's weights file is in none of the places it is looked for."""


@functools.cache
def released_ledger() -> dict[str, dict[str, str]]:
    """The ledger: released tag → ``{"file": name, "sha256": hex}``."""
    return json.loads(LEDGER_PATH.read_text(encoding="utf-8"))


def _search_path() -> list[Path]:
    folders = [PACKAGE_WEIGHTS]
    if os.environ.get(WEIGHTS_ENV):
        folders.append(Path(os.environ[WEIGHTS_ENV]))
    folders.append(REPOSITORY_WEIGHTS)
    return folders


def find_released_file(name: str) -> Path | None:
    """The first of the package, ``$GLAMOR_ZOO_WEIGHTS`` and the repository's ``weights/``
    that holds the file ``name``; ``None`` if none does."""
    for folder in _search_path():
        if (folder / name).is_file():
            return folder / name
    return None


def released_cfg(tag: str, sha256: str, **kwargs: Any) -> ZooPretrainedCfg:
    """The pretrained cfg of the released ``tag`` (``arch.tag``): its file, wherever it is
    installed, and ``sha256``, which must equal the ledger's (checked by the tests).

    Raises:
        KeyError: ``tag`` is not in the ledger.
    """
    entry = released_ledger()[tag]
    found = find_released_file(entry["file"])
    return ZooPretrainedCfg(
        file=str(found or PACKAGE_WEIGHTS / entry["file"]), sha256=sha256, **kwargs
    )


def _not_installed(tag: str, name: str, sha256: str) -> WeightsNotInstalledError:
    return WeightsNotInstalledError(
        f"{tag}: its weights file {name} (sha256 {sha256}) is not installed. The wheel carries "
        f"only some released weights; the others live in the glamor_zoo source repository, in "
        f"weights/{name}. Put that file in a folder and set {WEIGHTS_ENV} to it (or pass "
        f"pretrained_cfg_overlay={{'file': PATH}}); its sha256 is checked when it loads."
    )


def check_released_weights(variant: str, pretrained: bool, kwargs: dict[str, Any]) -> None:
    """Called by the family builders before timm loads a tag's weights: finds the file of a
    released tag (setting ``pretrained_cfg_overlay["file"]`` when it is installed elsewhere
    than where the tag was registered) and checks its sha256 against the tag's cfg.

    Raises:
        WeightsNotInstalledError: The file is nowhere; the message says where it lives.
        CheckpointError: The file's sha256 differs from the one the tag records.
    """
    pretrained_cfg = kwargs.get("pretrained_cfg")
    if not pretrained or not (pretrained_cfg is None or isinstance(pretrained_cfg, str)):
        return  # no weights wanted, or a cfg read from a model folder / Hub config.json
    from timm.models import resolve_pretrained_cfg

    cfg = resolve_pretrained_cfg(variant, pretrained_cfg, kwargs.get("pretrained_cfg_overlay"))
    expected = getattr(cfg, "sha256", None)
    if not (expected and cfg.file):
        return
    path = Path(cfg.file)
    if not path.is_file():
        tag = f"{variant}.{cfg.tag}" if cfg.tag else variant
        found = find_released_file(path.name)
        if found is None:
            raise _not_installed(tag, path.name, expected)
        overlay = kwargs.get("pretrained_cfg_overlay") or {}
        kwargs["pretrained_cfg_overlay"] = {**overlay, "file": str(found)}
        path = found
    actual = file_sha256(path)
    if actual != expected:
        raise CheckpointError(
            path,
            f"sha256 {actual} differs from {expected}, the sha256 its pretrained tag records: "
            "the file is corrupt or was replaced (a released tag names one file forever; new "
            "weights get a new tag)",
        )


_TIMM_FIELDS = frozenset(field.name for field in dataclasses.fields(PretrainedCfg))


def plain_pretrained_cfg(model: Any) -> None:
    """Drop the zoo's own fields from a built model's ``pretrained_cfg`` dict (timm's
    ``PretrainedCfg`` has none of them, and would refuse a saved config.json holding them)."""
    for name in ("pretrained_cfg", "default_cfg"):
        cfg = getattr(model, name, None)
        if isinstance(cfg, dict) and not cfg.keys() <= _TIMM_FIELDS:
            setattr(model, name, {k: v for k, v in cfg.items() if k in _TIMM_FIELDS})
