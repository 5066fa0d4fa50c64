"""Datasets and loaders for a training config (the dataset builders live in glamor_zoo.data)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from glamor_zoo.spec import ModelSpec, SpecError, get_model_spec, set_model_spec
from glamor_zoo.train.config import ConfigError, DataConfig, DataSourceConfig

__all__ = [
    "HOLDOUT_SPLIT",
    "DatasetSubset",
    "MixedDataset",
    "NamedSplit",
    "apply_recipe_spec",
    "build_holdouts",
    "build_split",
    "build_training_set",
    "group_holdout",
    "group_of",
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


def group_of(path: str, pattern: re.Pattern[str]) -> str:
    """The group (a film…) of a file: the first group of ``pattern`` matched on its name.

    Raises:
        ConfigError: the name does not match.
    """
    name = Path(path).name
    match = pattern.match(name)
    if match is None or not match.group(1):
        raise ConfigError(
            f"holdout_group {pattern.pattern!r} does not match the file name {name!r} "
            f"(its first group must name the file's group)"
        )
    return match.group(1)


def group_holdout(paths: Sequence[str], pattern: str, fraction: float, seed: int) -> np.ndarray:
    """Sorted indices of the files of ``ceil(fraction · groups)`` whole groups (at least one),
    the groups drawn from their sorted names by ``seed``; see :func:`group_of`."""
    compiled = re.compile(pattern)
    groups = [group_of(p, compiled) for p in paths]
    names = sorted(set(groups))
    count = min(len(names), max(1, math.ceil(fraction * len(names))))
    rng = np.random.default_rng(seed)
    held = {names[i] for i in rng.permutation(len(names))[:count]}
    return np.array([i for i, g in enumerate(groups) if g in held], dtype=np.int64)


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


@dataclass
class NamedSplit:
    """One dataset's part of a mixed training set or one hold-out, by its recipe name."""

    name: str
    dataset: Any
    weight: float = 1.0


class MixedDataset(Dataset):
    """Several datasets with one class vocabulary, as one: item ``i`` of part ``k`` is item
    ``offsets[k] + i``; each item carries ``source`` (the part's index). Drawn by
    :class:`~glamor_zoo.train.sampler.WeightedEpochSampler` with the parts' weights."""

    def __init__(self, parts: Sequence[NamedSplit]) -> None:
        self.parts = list(parts)
        self.classes = list(self.parts[0].dataset.classes)
        self.offsets = np.cumsum([0] + [len(p.dataset) for p in self.parts]).tolist()

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parts]

    @property
    def sizes(self) -> list[int]:
        return [len(p.dataset) for p in self.parts]

    @property
    def weights(self) -> list[float]:
        return [p.weight for p in self.parts]

    @property
    def targets(self) -> list[int]:
        return [t for p in self.parts for t in p.dataset.targets]

    def set_epoch(self, epoch: int) -> None:
        for part in self.parts:
            if hasattr(part.dataset, "set_epoch"):
                part.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict[str, Any]:
        part = int(np.searchsorted(self.offsets, index, side="right")) - 1
        item = dict(self.parts[part].dataset[index - self.offsets[part]])
        item["source"] = part
        return item


def _source_as_data(data: DataConfig, source: DataSourceConfig) -> DataConfig:
    """A :class:`DataConfig` that builds ``source`` (its own split, hold-out and arguments)."""
    from dataclasses import replace

    return replace(
        data,
        kind=source.kind,
        root=source.root,
        name=source.name,
        train_split=source.train_split or "all",
        holdout=0.0,
        args=dict(source.args),
        sources=[],
    )


def _split_source(
    data: DataConfig,
    source: DataSourceConfig,
    preprocess_cfg: dict[str, Any],
    train: bool,
    seed: int,
    classes: list[str],
) -> tuple[Any, Any | None]:
    """(training part, hold-out or ``None``) of one source."""
    as_data = _source_as_data(data, source)
    full = build_split(
        as_data, as_data.train_split, preprocess_cfg, train=train, seed=seed, classes=classes
    )
    _check_classes(source.name, full, classes)
    if not source.holdout:
        return full, None
    if source.holdout_group:
        paths = [sample.path for sample in full.samples]
        held = group_holdout(paths, source.holdout_group, source.holdout, source.holdout_seed)
    else:
        held = stratified_holdout(full.targets, source.holdout, source.holdout_seed)
    rest = np.setdiff1d(np.arange(len(full)), held)
    return DatasetSubset(full, rest), DatasetSubset(full, held)


def _check_classes(name: str, dataset: Any, classes: list[str]) -> None:
    if [str(c) for c in dataset.classes] != [str(c) for c in classes]:
        raise ConfigError(
            f"data source {name!r} has the classes {list(dataset.classes)}, the main dataset "
            f"{classes}: every source must map onto the main dataset's classes"
        )


def _with_faces(dataset: Any) -> Any:
    """``dataset`` without the images where no face was found (nothing to learn from)."""
    missing = _missing_faces(dataset)
    if not missing:
        return dataset
    keep = np.setdiff1d(np.arange(len(dataset)), np.asarray(sorted(missing)))
    return DatasetSubset(dataset, keep)


def _missing_faces(dataset: Any) -> set[int]:
    if isinstance(dataset, DatasetSubset):
        parent = set(_missing_faces(dataset.dataset))
        return {i for i, j in enumerate(dataset.indices) if j in parent}
    missing = getattr(dataset, "missing_faces", None)
    return set(missing()) if callable(missing) else set()


def build_training_set(data: DataConfig, preprocess_cfg: dict[str, Any], seed: int) -> Dataset:
    """The training set: ``data.train_split`` (without its hold-out), and with ``data.sources``
    a :class:`MixedDataset` of it and every source's training part (images without a face
    left out of the sources)."""
    main = build_split(data, data.train_split, preprocess_cfg, train=True, seed=seed)
    if not data.sources:
        return main
    classes = [str(c) for c in main.classes]
    parts = [NamedSplit(data.name or "main", main, data.weight)]
    for source in data.sources:
        rest, _ = _split_source(data, source, preprocess_cfg, True, seed, classes)
        parts.append(NamedSplit(source.name, _with_faces(rest), source.weight))
    return MixedDataset(parts)


def build_holdouts(
    data: DataConfig,
    preprocess_cfg: dict[str, Any],
    seed: int,
    classes: list[str],
) -> list[NamedSplit]:
    """The splits that select the model: ``data.val_split`` (named ``data.name`` or ``main``)
    and, when it is ``holdout``, every source's hold-out. Empty without ``val_split``."""
    if not data.val_split:
        return []
    main = build_split(
        data, data.val_split, preprocess_cfg, train=False, seed=seed, classes=classes
    )
    splits = [NamedSplit(data.name or "main", main)]
    if data.val_split == HOLDOUT_SPLIT:
        for source in data.sources:
            _, held = _split_source(data, source, preprocess_cfg, False, seed, classes)
            if held is not None:
                splits.append(NamedSplit(source.name, held))
    return splits
