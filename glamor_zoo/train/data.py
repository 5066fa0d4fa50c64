"""Datasets and loaders for a training config (the dataset builders live in glamor_zoo.data)."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from glamor_zoo.spec import ModelSpec, SpecError, get_model_spec, set_model_spec
from glamor_zoo.train.config import ConfigError, DataConfig

__all__ = [
    "HOLDOUT_SPLIT",
    "DatasetSubset",
    "apply_recipe_spec",
    "build_split",
    "preprocess_for",
    "stratified_holdout",
]

HOLDOUT_SPLIT = "holdout"


def stratified_holdout(targets: Sequence[int], fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of a stratified random ``fraction`` of the samples: in every class,
    ``round(fraction · n_class)`` samples drawn without replacement by ``seed``."""
    targets = np.asarray(targets)
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        chosen.append(rng.permutation(members)[: round(fraction * members.size)])
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


class DatasetSubset(Dataset):
    """The samples ``indices`` of an emotion dataset, with its ``classes``, ``targets`` and
    ``set_epoch`` (augmentation stays keyed by the parent's sample index)."""

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = [int(i) for i in indices]
        self.classes = list(dataset.classes)

    @property
    def targets(self) -> list[int]:
        parent = self.dataset.targets
        return [parent[i] for i in self.indices]

    def set_epoch(self, epoch: int) -> None:
        self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.dataset[self.indices[index]]


def apply_recipe_spec(model: nn.Module, data: DataConfig) -> ModelSpec:
    """Set the recipe's ``data.preprocess`` overrides on the model's spec, so that they are
    saved with its weights; returns the spec.

    Raises:
        ConfigError: An override is malformed or contradicts the model.
    """
    try:
        return set_model_spec(model, data.preprocess)
    except SpecError as exc:
        raise ConfigError(f"data.preprocess: {exc}") from None


def preprocess_for(model: nn.Module, data: DataConfig) -> dict[str, Any]:
    """The datasets' ``preprocess_cfg``: the model's spec with ``data.preprocess`` applied."""
    try:
        return get_model_spec(model).replace(**data.preprocess).preprocess_cfg()
    except SpecError as exc:
        raise ConfigError(f"data.preprocess: {exc}") from None


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
    With ``data.holdout``, ``train_split`` is the training split without its stratified
    hold-out and ``holdout`` is that hold-out (:func:`stratified_holdout`).

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
    if data.holdout and split in (data.train_split, HOLDOUT_SPLIT):
        # The hold-out and the rest are both cut from the training split, by the same draw.
        full = _build(data, root, {**kwargs, "split": data.train_split})
        held = stratified_holdout(full.targets, data.holdout, data.holdout_seed)
        if split == HOLDOUT_SPLIT:
            return DatasetSubset(full, held)
        return DatasetSubset(full, np.setdiff1d(np.arange(len(full)), held))
    return _build(data, root, kwargs)


def _build(data: DataConfig, root: Path, kwargs: dict[str, Any]) -> Dataset:
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
