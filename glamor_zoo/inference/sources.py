"""What a prediction job reads: files and folders, or the rows of a 🤗 dataset.

Both kinds give a job (:mod:`glamor_zoo.inference.job`) the same things: the settings that
must not change when it resumes, how many inputs there are, and, for one process of the job,
its share of the inputs not finished yet as :class:`~glamor_zoo.inference.batch.Prediction`
objects. Files are shared out with accelerate's ``split_between_processes``; so are the rows
of a memory-mapped dataset; a streamed dataset is read by every process, each decoding and
recognising every N-th row only (a stream cannot be indexed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from glamor_zoo.inference.batch import InputFile, Prediction, Task, predict_files, predict_tasks
from glamor_zoo.inference.processes import Processes
from glamor_zoo.inference.recognizer import EmotionRecognizer

__all__ = ["DatasetInputs", "FileInputs", "JobInputs"]

Skip = Callable[[str], bool]


class JobInputs(Protocol):
    """The inputs of a prediction job."""

    unit: str

    def settings(self) -> dict[str, Any]:
        """What a resumed run must share with the run it resumes (goes into ``run.json``)."""
        ...

    def total(self) -> int | None:
        """How many inputs there are (``None``: unknown, a stream of unknown length)."""
        ...

    def finished(self, done: set[str]) -> int:
        """How many inputs are finished, given the keys ``done``."""
        ...

    def image_count(self) -> int | None:
        """How many images the model will see (video frames as sampled; ``None``: unknown):
        the job size by which the recogniser decides whether compiling pays."""
        ...

    def videos(self) -> list[InputFile]:
        """The video inputs (their annotated videos may have to be redone)."""
        ...

    def predict(
        self, recognizer: EmotionRecognizer, processes: Processes, skip: Skip, keep_images: bool
    ) -> Iterator[Prediction]:
        """This process's share of the inputs not skipped, one prediction per image or frame."""
        ...

    def sort_key(self, record: Mapping[str, Any]) -> tuple[float, ...]:
        """Where ``record`` goes in the merged results (the inputs' order)."""
        ...


class FileInputs:
    """Files, folders and videos (from :func:`~glamor_zoo.inference.batch.expand_inputs`).

    Args:
        files: The inputs.
        every_n: Videos: keep every N-th frame.
        fps: Videos: keep about this many frames per second.
    """

    def __init__(
        self, files: Sequence[InputFile], every_n: int | None = None, fps: float | None = None
    ) -> None:
        self.files = list(files)
        self.every_n = every_n
        self.fps = fps
        self.unit = "input" if self.videos() else "image"
        self._order = {str(f.path): i for i, f in enumerate(self.files)}

    def settings(self) -> dict[str, Any]:
        return {"every_n": self.every_n, "fps": self.fps}

    def total(self) -> int:
        return len(self.files)

    def finished(self, done: set[str]) -> int:
        return sum(1 for f in self.files if f.kind != "video" and str(f.path) in done)

    def image_count(self) -> int | None:
        from glamor_zoo.inference.recognizer import job_size

        return job_size(self.files, every_n=self.every_n, fps=self.fps)

    def videos(self) -> list[InputFile]:
        return [f for f in self.files if f.kind == "video"]

    def predict(
        self, recognizer: EmotionRecognizer, processes: Processes, skip: Skip, keep_images: bool
    ) -> Iterator[Prediction]:
        pending = [f for f in self.files if f.kind == "video" or not skip(str(f.path))]
        share = processes.split(pending)
        yield from predict_files(
            recognizer,
            share,
            every_n=self.every_n,
            fps=self.fps,
            skip=skip,
            keep_images=keep_images,
        )

    def sort_key(self, record: Mapping[str, Any]) -> tuple[float, ...]:
        position = self._order.get(str(record.get("input")), len(self._order))
        frame = record.get("frame")
        return (position, -1 if frame is None else frame)


class DatasetInputs:
    """The rows of a 🤗 dataset (from :func:`glamor_zoo.data.hf.open_dataset`).

    Each row's record carries ``row`` (its index in the split), ``id`` (with ``id_column``)
    and ``target`` (with ``label_column``: the class name for a ``ClassLabel``, else the
    value). Its key is ``id:<id>`` with an id column, else ``row:<index>``; its ``input`` is
    the id, else ``<source>[<index>]``.

    Args:
        dataset: A ``datasets.Dataset`` or ``IterableDataset`` (streaming).
        source: The dataset's name as given (Hub id or folder).
        split: The split read (``None``: the only one).
        image_column: The column holding the images.
        label_column: A column of true classes, copied into the records as ``target``.
        id_column: A column of unique ids that key the records instead of the row index.
    """

    unit = "image"

    def __init__(
        self,
        dataset: Any,
        source: str,
        split: str | None = None,
        image_column: str = "image",
        label_column: str | None = None,
        id_column: str | None = None,
    ) -> None:
        self.dataset = dataset
        self.source = source
        self.split = split
        self.image_column = image_column
        self.label_column = label_column
        self.id_column = id_column
        from glamor_zoo.data.hf import import_datasets

        self.streaming = isinstance(dataset, import_datasets().IterableDataset)
        feature = (dataset.features or {}).get(label_column) if label_column else None
        self._label_name = getattr(feature, "int2str", None)
        self._ids: list[Any] | None = None
        if id_column is not None and not self.streaming:
            self._ids = list(dataset[id_column])
            if len(set(map(str, self._ids))) != len(self._ids):
                seen: set[str] = set()
                twice = next(i for i in map(str, self._ids) if i in seen or seen.add(i))
                raise ValueError(
                    f"dataset {source!r}: id column {id_column!r} repeats {twice!r}; ids must "
                    "be unique (leave out --id-column to key rows by index)"
                )

    def settings(self) -> dict[str, Any]:
        return {
            "dataset": self.source,
            "split": self.split,
            "image_column": self.image_column,
            "id_column": self.id_column,
        }

    def total(self) -> int | None:
        if not self.streaming:
            return len(self.dataset)
        info = getattr(self.dataset, "info", None)
        splits = getattr(info, "splits", None) or {}
        known = splits.get(str(self.dataset.split)) if self.dataset.split is not None else None
        return getattr(known, "num_examples", None) or None

    def image_count(self) -> int | None:
        return self.total()

    def _key(self, row: int, row_id: Any) -> str:
        return f"row:{row}" if self.id_column is None else f"id:{row_id}"

    def finished(self, done: set[str]) -> int:
        return sum(1 for key in done if key.startswith(("row:", "id:")))

    def videos(self) -> list[InputFile]:
        return []

    def _task(self, row: int, values: Mapping[str, Any], keep_images: bool) -> tuple[Task, Any]:
        from glamor_zoo.data.hf import image_from_cell

        row_id = values[self.id_column] if self.id_column is not None else None
        name = str(row_id) if self.id_column is not None else f"{self.source}[{row}]"
        fields: dict[str, Any] = {"row": row}
        if self.id_column is not None:
            fields["id"] = row_id
        if self.label_column is not None:
            label = values[self.label_column]
            named = self._label_name is not None and isinstance(label, int) and label >= 0
            fields["target"] = self._label_name(label) if named else label
        file = InputFile(Path(name), "image", Path(f"row_{row:08d}.jpg"))
        try:
            image: Any = image_from_cell(values[self.image_column], name)
        except Exception as exc:
            image = exc
        kept = image if keep_images else None
        return Task(self._key(row, row_id), file, image=kept, fields=fields), image

    def _rows(self, processes: Processes, skip: Skip) -> Iterator[tuple[int, Mapping[str, Any]]]:
        if self.streaming:
            for row, values in enumerate(self.dataset):
                mine = row % processes.world_size == processes.rank
                if mine and not skip(self._key(row, values.get(self.id_column))):
                    yield row, values
            return
        ids = self._ids or [None] * len(self.dataset)
        pending = [row for row in range(len(self.dataset)) if not skip(self._key(row, ids[row]))]
        for row in processes.split(pending):
            yield row, self.dataset[row]

    def predict(
        self, recognizer: EmotionRecognizer, processes: Processes, skip: Skip, keep_images: bool
    ) -> Iterator[Prediction]:
        tasks = (
            self._task(row, values, keep_images) for row, values in self._rows(processes, skip)
        )
        yield from predict_tasks(recognizer, tasks)

    def sort_key(self, record: Mapping[str, Any]) -> tuple[float, ...]:
        row = record.get("row")
        return (float("inf") if row is None else row,)
