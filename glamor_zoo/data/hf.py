"""🤗 datasets as inputs: open a Hub id or a local dataset, read its image cells safely.

A source is a Hub dataset id (``org/name``), a folder written by ``save_to_disk`` (read with
``load_from_disk``), or any folder ``datasets.load_dataset`` reads (Parquet, image folders…).
``streaming=True`` reads rows as they come (a Hub-scale dataset is never unpacked to disk).
Image columns are read undecoded (``Image(decode=False)``) and decoded by the zoo's own loader
(:func:`glamor_zoo.data.images.decode_image`: EXIF rotation, transparency, the
decompression-bomb guard), so a dataset row is treated exactly as the same photo on disk.

Needs the ``data`` extra (``pip install 'glamor-zoo[data]'``); the import is lazy.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PIL import Image

from glamor_zoo.data.images import ImageLoadError, decode_image, load_image

__all__ = [
    "DatasetSourceError",
    "image_from_cell",
    "import_datasets",
    "is_saved_dataset",
    "open_dataset",
]

_MISSING = "🤗 datasets is not installed: pip install 'glamor-zoo[data]'"


class DatasetSourceError(ValueError):
    """A dataset that cannot be opened, or lacks a column it was asked for."""


def import_datasets() -> Any:
    """The ``datasets`` module, or an :class:`ImportError` that names the ``data`` extra."""
    try:
        import datasets
    except ImportError as exc:
        raise ImportError(_MISSING) from exc
    return datasets


def is_saved_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder written by ``Dataset(Dict).save_to_disk``."""
    folder = Path(path)
    return (folder / "dataset_dict.json").is_file() or (folder / "state.json").is_file()


def _pick_split(splits: Any, source: str, split: str | None) -> Any:
    names = list(splits)
    if split is None and len(names) == 1:
        return splits[names[0]]
    if split is None or split not in names:
        asked = "no split was named" if split is None else f"it has no split {split!r}"
        raise DatasetSourceError(f"dataset {source!r}: {asked}; its splits: {names} (--split)")
    return splits[split]


def open_dataset(
    source: str | os.PathLike[str],
    split: str | None = None,
    streaming: bool = False,
    image_column: str = "image",
    columns: tuple[str | None, ...] = (),
) -> Any:
    """A ``datasets.Dataset`` (or ``IterableDataset`` when streaming) with undecoded images.

    Args:
        source: A Hub id, a ``save_to_disk`` folder, or a folder ``load_dataset`` reads.
        split: The split to read; ``None`` takes the only one (an error when there are more).
        streaming: Read rows lazily (``IterableDataset``) instead of memory-mapping them.
        image_column: The column holding the images (``Image`` feature, encoded bytes or paths).
        columns: Other columns that must exist (``None`` entries are ignored).

    Raises:
        ImportError: ``datasets`` is missing (names the extra).
        DatasetSourceError: the source cannot be opened, has no such split, or lacks a column.
    """
    datasets = import_datasets()
    name = os.fspath(source)
    local = os.path.isabs(name) or name.startswith((".", "~")) or name.count("/") > 1
    if local and not os.path.exists(os.path.expanduser(name)):
        raise DatasetSourceError(f"cannot open dataset {name!r}: no such folder")
    try:
        if is_saved_dataset(name):
            loaded = datasets.load_from_disk(name)
            if isinstance(loaded, datasets.DatasetDict):
                loaded = _pick_split(loaded, name, split)
            elif split is not None and loaded.split is not None and str(loaded.split) != split:
                raise DatasetSourceError(
                    f"dataset {name!r} holds split {str(loaded.split)!r}, not {split!r}"
                )
            dataset = loaded.to_iterable_dataset() if streaming else loaded
        else:
            loaded = datasets.load_dataset(name, split=split, streaming=streaming)
            if isinstance(loaded, (datasets.DatasetDict, datasets.IterableDatasetDict)):
                loaded = _pick_split(loaded, name, None)
            dataset = loaded
    except DatasetSourceError:
        raise
    except Exception as exc:  # datasets raises many kinds (not found, offline, bad files)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetSourceError(f"cannot open dataset {name!r}: {first}") from None
    found = list(dataset.column_names or [])
    for column in (image_column, *columns):
        if column is not None and column not in found:
            raise DatasetSourceError(f"dataset {name!r} has no column {column!r}; columns: {found}")
    feature = (dataset.features or {}).get(image_column)
    if isinstance(feature, datasets.Image) and feature.decode:
        dataset = dataset.cast_column(image_column, datasets.Image(decode=False))
    return dataset


def image_from_cell(value: Any, name: str) -> Image.Image:
    """An RGB image from one image cell: ``{"bytes", "path"}``, bytes, a path, or a PIL image.

    Raises:
        ImageLoadError: the cell is empty or not a readable image (named ``name``).
    """
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if data:
            return decode_image(data, name)
        if path:
            return load_image(path)
        raise ImageLoadError(name, "empty image cell")
    if isinstance(value, (bytes, bytearray)):
        return decode_image(bytes(value), name)
    if isinstance(value, (str, os.PathLike)):
        return load_image(value)
    if isinstance(value, Image.Image):
        return value if value.mode == "RGB" else value.convert("RGB")
    raise ImageLoadError(name, f"not an image cell ({type(value).__name__})")
