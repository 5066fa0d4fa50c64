"""Publish a model (or a model folder) to the Hugging Face Hub in one commit.

A push uploads ``model.safetensors``, ``config.json`` (with the metrics, dataset, recipe,
command and the weights' sha256 merged in) and ``README.md`` (the model card, re-rendered on every push) as a single
commit, after checking that the folder loads back into the model its config describes.
"""

from __future__ import annotations

import json
import logging
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from torch import nn

from glamor_zoo.hub.card import card_metrics, config_dataset, render_model_card
from glamor_zoo.models._checkpoint import DIGEST_KEY, CheckpointError, file_sha256
from glamor_zoo.serialization import CONFIG_NAME, WEIGHTS_NAME, save_pretrained

if TYPE_CHECKING:
    from huggingface_hub import CommitInfo
    from typing_extensions import Unpack

    from glamor_zoo.inference.loading import LoadedModel

__all__ = ["PushFields", "load_model_folder", "prepare_push", "push_to_hub"]

_logger = logging.getLogger(__name__)

_PICKLE_WEIGHTS = ("pytorch_model.bin", "pytorch_model.pth", "model.pth", "model.pt")


def load_model_folder(folder: str | Path) -> dict[str, Any]:
    """Check a model folder (``model.safetensors`` + ``config.json``) and return its config.

    Raises:
        FileNotFoundError: The folder or one of the two files is missing.
        CheckpointError: ``config.json`` is not a zoo config.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such model folder")
    config_path, weights_path = folder / CONFIG_NAME, folder / WEIGHTS_NAME
    if not weights_path.is_file():
        pickles = [name for name in _PICKLE_WEIGHTS if (folder / name).exists()]
        hint = (
            f" (found {', '.join(pickles)}: the zoo publishes safetensors only; load it and "
            "save it with glamor_zoo.save_pretrained)"
            if pickles
            else " (write model folders with glamor_zoo.save_pretrained)"
        )
        raise FileNotFoundError(f"{weights_path}: missing{hint}")
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{config_path}: missing (write model folders with glamor_zoo.save_pretrained)"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(config_path, f"not valid JSON ({exc})") from exc
    if not isinstance(config, dict) or "architecture" not in config:
        raise CheckpointError(
            config_path, "has no 'architecture': not a glamor_zoo/timm config.json"
        )
    return config


def _check_weights(folder: Path) -> LoadedModel:
    """Rebuild the model from ``folder`` with the one loader, exactly as users will."""
    from glamor_zoo.inference.loading import ModelLoadError, load_model
    from glamor_zoo.serialization import tensor_is_finite

    try:
        loaded = load_model(f"local-dir:{folder.resolve()}")
    except ModelLoadError as exc:
        if isinstance(exc.__cause__, CheckpointError):
            raise exc.__cause__ from None  # names the file and what is wrong with it
        raise
    if not tensor_is_finite(loaded.model.state_dict()):
        raise CheckpointError(
            folder / WEIGHTS_NAME, "holds NaN or infinite values; refusing to publish"
        )
    return loaded


def _recipe_entry(recipe: str | Path | Mapping[str, Any]) -> Any:
    if isinstance(recipe, Mapping):
        return dict(recipe)
    path = Path(recipe)
    if path.is_file():
        return {"path": str(recipe), "text": path.read_text(encoding="utf-8")}
    return str(recipe)


class PushFields(TypedDict, total=False):
    """What a push records beside the weights (each one left out keeps the folder's); see
    :func:`push_to_hub` for each field."""

    metrics: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
    dataset: str | None
    recipe: str | Path | Mapping[str, Any] | None
    command: str | Sequence[str] | None
    base_model: str | None
    card_template: str | Path | None
    validate: bool


def prepare_push(
    folder: str | Path, repo_id: str, **fields: Unpack[PushFields]
) -> tuple[dict[str, Any], str]:
    """The ``config.json`` and ``README.md`` a push of ``folder`` would upload (nothing is sent).

    Arguments are those of :func:`push_to_hub`; values given here override the folder's.

    Returns:
        ``(config, card)``.
    """
    recipe, command = fields.get("recipe"), fields.get("command")
    folder = Path(folder)
    config = load_model_folder(folder)
    updates = {
        "metrics": fields.get("metrics"),
        "dataset": fields.get("dataset"),
        "recipe": _recipe_entry(recipe) if recipe is not None else None,
        "command": shlex.join(command)
        if isinstance(command, Sequence) and not isinstance(command, str)
        else command,
        "base_model": fields.get("base_model"),
    }
    config.update({k: v for k, v in updates.items() if v is not None})
    config[DIGEST_KEY] = file_sha256(folder / WEIGHTS_NAME)
    card_metrics(config.get("metrics"), config_dataset(config))  # fail before any upload
    loaded = _check_weights(folder) if fields.get("validate", True) else None
    card = render_model_card(
        config,
        repo_id,
        num_params=sum(p.numel() for p in loaded.model.parameters()) if loaded else None,
        template=fields.get("card_template"),
        spec=loaded.spec if loaded else None,
    )
    return config, card


def push_to_hub(
    model_or_dir: nn.Module | str | Path,
    repo_id: str,
    *,
    label_names: Sequence[str] | None = None,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | bool | None = None,
    endpoint: str | None = None,
    **fields: Unpack[PushFields],
) -> CommitInfo:
    """Publish a model to ``repo_id`` on the Hub: weights, config and model card in one commit.

    The repository is created if needed. ``model.safetensors`` (never a pickle), ``config.json``
    (everything needed to rebuild the model and its preprocessing, plus the arguments below) and
    ``README.md`` (re-rendered from ``card_templates/`` on every push) go up as a single commit.
    Afterwards ``glamor_zoo.create_model("hf-hub:" + repo_id)`` loads it.

    Args:
        model_or_dir: A zoo model, or a folder written by ``save_pretrained`` (training runs,
            ``convert-tf``). A folder is never modified.
        repo_id: ``org/name``.
        metrics: What was measured: ``{"top1": 46.9, "dataset": "ncaer_s", "split": "test"}``,
            or a list of such dicts. Accuracies in percent (fractions in [0, 1] are scaled).
            Default: the folder's ``config.json`` ``metrics``. They fill the card's
            ``model-index`` and its results table, next to the paper's numbers.
        dataset: The training dataset (``"ncaer_s"``, ``"caer_s"``, ``"fer2013"``…), if the
            metrics do not say it.
        recipe: The recipe: a YAML path (its text goes into the card), a dict, or a name.
        command: The command that trained the model (a string, or argv as a list).
        base_model: The Hub id this model was fine-tuned from (``base_model`` in the card).
        label_names: Class names in output order (model objects only; default: the model's).
        commit_message: Default: ``"Upload <architecture> (glamor_zoo)"``.
        private: Create the repository as private (ignored if it exists).
        token: Hub token (default: the saved login or ``HF_TOKEN``).
        endpoint: Hub URL (default: ``HF_ENDPOINT`` or huggingface.co).
        card_template: A card template file or shipped template name (default: by family).
        validate: Rebuild the model from the folder and load the weights strictly before
            uploading (recommended).

    Returns:
        The commit (``.oid`` is the commit id to pin with ``revision=``, ``.commit_url``).

    Raises:
        FileNotFoundError: A folder lacks ``model.safetensors`` or ``config.json``.
        CheckpointError: The weights do not load into the model the config describes.
        ValueError: The metrics are malformed.
    """
    from huggingface_hub import CommitOperationAdd, HfApi

    if "/" not in repo_id or repo_id.count("/") != 1:
        raise ValueError(f"repo_id must be 'org/name', got {repo_id!r}")
    with tempfile.TemporaryDirectory(prefix="glamor_zoo_push_") as tmp:
        if isinstance(model_or_dir, nn.Module):
            folder = save_pretrained(model_or_dir, Path(tmp) / "model", label_names=label_names)
        else:
            if label_names is not None:
                raise ValueError(
                    "label_names applies to model objects; a folder keeps its config.json's"
                )
            folder = Path(model_or_dir)
        config, card = prepare_push(folder, repo_id, **fields)
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        operations = [
            CommitOperationAdd(WEIGHTS_NAME, str(folder / WEIGHTS_NAME)),
            CommitOperationAdd(CONFIG_NAME, (json.dumps(config, indent=2) + "\n").encode("utf-8")),
            CommitOperationAdd("README.md", card.encode("utf-8")),
        ]
        message = commit_message or f"Upload {config['architecture']} (glamor_zoo)"
        info = api.create_commit(repo_id, operations, commit_message=message)
    _logger.info("pushed %s to %s at commit %s", folder, repo_id, info.oid)
    return info
