"""Datasets and loaders for a training config (the dataset builders live in glamor_zoo.data)."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from glamor_zoo.train.config import ConfigError, DataConfig

__all__ = ["build_split", "preprocess_for"]


def preprocess_for(model: Any, data: DataConfig) -> dict[str, Any]:
    """The model's ``preprocess_cfg()`` with the recipe's ``data.preprocess`` overrides."""
    cfg = dict(model.preprocess_cfg()) if hasattr(model, "preprocess_cfg") else {}
    cfg.update(data.preprocess)
    return cfg


def build_split(
    data: DataConfig,
    split: str,
    preprocess_cfg: dict[str, Any],
    train: bool,
    seed: int,
    classes: list[str] | None = None,
) -> Dataset:
    """Build one split of the configured dataset.

    ``data.kind`` is a :func:`glamor_zoo.data.datasets.build_dataset` kind, or
    ``module:function`` naming a factory called as ``factory(root, split=, preprocess_cfg=,
    train=, seed=, **data.args)``. ``classes`` fixes the class vocabulary (evaluation splits
    use the training split's, so a split missing a class keeps the same label indices).

    Raises:
        ConfigError: the root does not exist or the factory cannot be imported.
    """
    root = Path(data.root).expanduser()
    if not root.exists():
        raise ConfigError(f"data.root {str(root)!r} does not exist")
    kwargs = {
        "split": split,
        "preprocess_cfg": preprocess_cfg,
        "train": train,
        "seed": seed,
        **data.args,
    }
    if classes is not None:
        kwargs["classes"] = list(classes)
    if ":" in data.kind:
        module_name, _, attr = data.kind.partition(":")
        try:
            factory = getattr(import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(
                f"data.kind {data.kind!r}: cannot import the factory ({exc})"
            ) from exc
        return factory(str(root), **kwargs)
    from glamor_zoo.data.datasets import build_dataset

    return build_dataset(data.kind, str(root), **kwargs)
