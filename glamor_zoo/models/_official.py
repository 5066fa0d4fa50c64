"""Pretrained tags whose weights are the authors' own checkpoint: where ``create_model`` finds them.

``glamor_original.ncaer_s`` has no Hub repository of the zoo's; its weights are the authors'
TF2 checkpoint, which :func:`glamor_zoo.convert.official.ensure_official_weights` downloads at a
pinned commit, verifies, converts and caches on first use. :func:`official_weights_kwargs` is
called by the GLAMOR family's builder: for such a tag it points timm at the cached
``model.safetensors`` (the cfg's ``file``) and adds the model arguments and spec the converted
``config.json`` records (the authors' pipeline among them), under the caller's own arguments.

A Hub repository of the tag that is already in the Hub cache (a user's own upload, or the
zoo's once published) is loaded from there instead, as for any tag; so is an explicit
``hf_hub_id`` (``revision=`` pins one).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["official_source", "official_weights_kwargs"]


def official_source(name: str) -> Any:
    """The :class:`~glamor_zoo.convert.official.OfficialCheckpoint` a pretrained tag (``arch.tag``,
    or ``arch`` for its default tag) loads, or ``None``."""
    from glamor_zoo.convert.official import OFFICIAL_TAGS
    from glamor_zoo.models._factory import _tagged_name

    if name.startswith(("hf-hub:", "local-dir:")):
        return None
    try:
        return OFFICIAL_TAGS.get(_tagged_name(name))
    except RuntimeError:  # not a model timm knows
        return None


def _in_hub_cache(name: str, cache_dir: str | Path | None) -> bool:
    import timm
    from huggingface_hub import try_to_load_from_cache

    from glamor_zoo.models._checkpoint import split_revision

    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None or not cfg.hf_hub_id:
        return False
    repo, revision = split_revision(cfg.hf_hub_id)
    cached = try_to_load_from_cache(repo, "config.json", cache_dir=cache_dir, revision=revision)
    return isinstance(cached, str)


def official_weights_kwargs(
    variant: str, pretrained: bool, kwargs: dict[str, Any]
) -> dict[str, Any]:
    """``kwargs`` for timm's builder, pointed at the converted authors' checkpoint when
    ``variant`` with its ``pretrained_cfg`` names such a tag (unchanged otherwise).

    Raises:
        OfficialWeightsError: the checkpoint is not cached and cannot be fetched or verified.
    """
    from glamor_zoo.models._factory import _tagged_name

    pretrained_cfg = kwargs.get("pretrained_cfg")
    if not pretrained or not (pretrained_cfg is None or isinstance(pretrained_cfg, str)):
        return kwargs  # no weights wanted, or a cfg read from a model folder / Hub config.json
    name = f"{variant}.{pretrained_cfg}" if pretrained_cfg else _tagged_name(variant)
    source = official_source(name)
    overlay = dict(kwargs.get("pretrained_cfg_overlay") or {})
    if (
        source is None
        or overlay.get("hf_hub_id")
        or overlay.get("file")
        or _in_hub_cache(name, kwargs.get("cache_dir"))
    ):
        return kwargs
    from glamor_zoo.convert.official import ensure_official_weights
    from glamor_zoo.serialization import CONFIG_NAME, WEIGHTS_NAME

    folder = ensure_official_weights(source, cache_dir=kwargs.get("cache_dir"))
    config = json.loads((folder / CONFIG_NAME).read_text(encoding="utf-8"))
    saved = dict(config.get("model_args") or {})
    if isinstance(config.get("spec"), dict):  # written at the top level (where timm ignores it)
        saved["spec"] = config["spec"]
    overlay["file"] = str(folder / WEIGHTS_NAME)
    return {**saved, **kwargs, "pretrained_cfg_overlay": overlay}
