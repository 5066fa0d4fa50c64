"""The results files of a prediction run: JSON, CSV, Parquet, or a 🤗 dataset folder.

Every writer takes the run's records (:meth:`~glamor_zoo.inference.batch.Prediction.to_dict`)
and writes through a temporary file (or folder) that is renamed into place. Parquet and
dataset folders are written by 🤗 datasets (the ``data`` extra), one row per record with the
faces as a list of structs, so the results of a Hub-scale job load back with
``datasets.load_dataset("parquet", …)`` or ``load_from_disk``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from glamor_zoo.inference.tables import records_to_csv
from glamor_zoo.serialization import atomic_write_text, open_temp_beside

__all__ = [
    "RESULT_FORMATS",
    "ResultFormat",
    "public_records",
    "records_to_dataset",
    "save_records_dataset",
    "write_records",
]

ResultFormat = Literal["json", "csv", "parquet"]
RESULT_FORMATS: tuple[str, ...] = ("json", "csv", "parquet")


def public_records(records: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The records without their journal ``key``."""
    return [{k: v for k, v in r.items() if k != "key"} for r in records]


def _uniform(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every row with every key any row has (missing ones ``None``), in first-seen order."""
    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return [{k: row.get(k) for k in keys} for row in rows]


def records_to_dataset(records: Iterable[Mapping[str, Any]]) -> Any:
    """The records as a ``datasets.Dataset``: one row per record, faces a list of structs."""
    from glamor_zoo.data.hf import import_datasets

    datasets = import_datasets()
    rows = _uniform(public_records(records))
    faces = _uniform([face for row in rows for face in row.get("faces") or []])
    it = iter(faces)
    for row in rows:
        row["faces"] = [next(it) for _ in row.get("faces") or []]
    return datasets.Dataset.from_list(rows)


def save_records_dataset(records: Iterable[Mapping[str, Any]], folder: str | Path) -> Path:
    """Write the records as a dataset folder (``save_to_disk``), replacing ``folder``."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    temp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        records_to_dataset(records).save_to_disk(str(temp))
        if folder.exists():
            folder.rename(old)
        temp.rename(folder)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return folder


def _write_parquet(records: Iterable[Mapping[str, Any]], path: Path) -> None:
    dataset = records_to_dataset(records)
    fd, temp = open_temp_beside(path, suffix=".parquet")
    os.close(fd)
    try:
        dataset.to_parquet(str(temp))
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def write_records(
    records: Sequence[Mapping[str, Any]],
    folder: str | Path,
    fmt: ResultFormat = "json",
    labels: Sequence[str] = (),
) -> Path:
    """Write ``folder/predictions.<fmt>``; returns its path.

    Args:
        records: The run's records (a journal ``key`` is left out).
        folder: The output folder.
        fmt: ``json`` (a list of records), ``csv`` (one row per face), ``parquet``.
        labels: The model's class names (the CSV's probability columns).
    """
    path = Path(folder) / f"predictions.{fmt}"
    if fmt == "json":
        atomic_write_text(path, json.dumps(public_records(records), indent=2) + "\n")
    elif fmt == "csv":
        atomic_write_text(path, records_to_csv(public_records(records), labels))
    elif fmt == "parquet":
        _write_parquet(records, path)
    else:
        raise ValueError(f"unknown results format {fmt!r}; choose from {RESULT_FORMATS}")
    return path
