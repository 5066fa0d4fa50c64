"""Many inputs at once: files, folders (recursive) and videos, as one ordered stream of results.

:func:`expand_inputs` turns paths into the files to process (a path that is missing, or a
folder with nothing to read, is kept so that it still gets its one record, with the error).
:func:`predict_files` runs a recogniser over them and yields one :class:`Prediction` per image
or sampled video frame, in order, failures included; :func:`predict_tasks` does the same for
any stream of (:class:`Task`, image) pairs (dataset rows).
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from PIL import Image

from glamor_zoo.data.images import is_image_file, load_image
from glamor_zoo.inference.recognizer import EmotionRecognizer
from glamor_zoo.inference.results import ImageResult
from glamor_zoo.inference.video import is_video_file, iter_frames

__all__ = ["InputFile", "Prediction", "Task", "expand_inputs", "predict_files", "predict_tasks"]

InputKind = Literal["image", "video", "error"]


@dataclass(frozen=True)
class InputFile:
    """One thing to process.

    Attributes:
        path: The file (or the bad path given).
        kind: ``"image"``, ``"video"``, or ``"error"`` (nothing to read; see ``error``).
        relative: Its path below the folder it was found in (its name for files given
            directly): where its pictures go in the output folder. Unique within a run: an
            input whose path would repeat another's (same name in two folders, or ``a.jpg``
            beside ``a.jpeg``) gets a suffix, ``x_2.jpg``.
        error: Why an ``"error"`` input cannot be read.
    """

    path: Path
    kind: InputKind
    relative: Path
    error: str | None = None


def _kind(path: Path) -> InputKind:
    return "video" if is_video_file(path) and not is_image_file(path) else "image"


def expand_inputs(paths: Sequence[str | os.PathLike[str]]) -> list[InputFile]:
    """Files and folders → the images and videos to process, in a stable order.

    Folders are searched recursively (hidden files and folders skipped) for images and
    videos by extension, sorted. Files given directly are taken whatever their extension
    (images unless they look like videos), so a bad file still gets a record. Their
    ``relative`` paths never collide (see :class:`InputFile`), so no picture overwrites another.
    """
    out: list[InputFile] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and (is_image_file(p) or is_video_file(p))
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                out.append(
                    InputFile(path, "error", Path(path.name), "folder has no images or videos")
                )
            out.extend(InputFile(p, _kind(p), p.relative_to(path)) for p in found)
        elif path.exists():
            out.append(InputFile(path, _kind(path), Path(path.name)))
        else:
            out.append(InputFile(path, "error", Path(path.name), "no such file or folder"))
    return _unique_relatives(out)


def _unique_relatives(files: list[InputFile]) -> list[InputFile]:
    """Give each input a ``relative`` path whose stem no earlier input has (case-insensitive,
    the suffix ignored: pictures are written as .jpg or .png whatever the input's suffix)."""
    seen: set[str] = set()
    out: list[InputFile] = []
    for file in files:
        relative, count = file.relative, 1
        while (key := relative.with_suffix("").as_posix().lower()) in seen:
            count += 1
            relative = file.relative.with_name(
                f"{file.relative.stem}_{count}{file.relative.suffix}"
            )
        seen.add(key)
        out.append(file if relative == file.relative else replace(file, relative=relative))
    return out


@dataclass
class Prediction:
    """The result for one image or one sampled video frame.

    Attributes:
        key: Unique name of the item in a run (``path`` or ``path#frame``).
        file: The input it comes from.
        result: The recogniser's result (``result.error`` on failure).
        frame: The frame's index in the video (videos only).
        time: The frame's time in seconds (videos only).
        image: The image itself, when ``keep_images`` was asked for and it loaded.
        fields: More of the record, after ``input`` (a dataset row's ``row``, ``id``,
            ``target``).
    """

    key: str
    file: InputFile
    result: ImageResult
    frame: int | None = None
    time: float | None = None
    image: Image.Image | None = None
    fields: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, attention: bool = True) -> dict[str, Any]:
        """The JSON record: ``key``, ``input``, (``frame``, ``time``, or the dataset's
        ``fields``), size, faces, error."""
        record: dict[str, Any] = {"key": self.key, "input": str(self.file.path), **self.fields}
        if self.frame is not None:
            record["frame"] = self.frame
            record["time"] = round(self.time or 0.0, 4)
        body = self.result.to_dict(attention=attention)
        body.pop("input")
        record.update(body)
        return record


@dataclass
class Task:
    """One image to recognise, and what its :class:`Prediction` will carry.

    Attributes:
        key: Its unique name in the run (see :attr:`Prediction.key`).
        file: The input it comes from.
        frame: The video frame's index (videos only).
        time: The video frame's time in seconds (videos only).
        image: The image to keep on the prediction (``keep_images``), if any.
        fields: More of the record (see :attr:`Prediction.fields`).
    """

    key: str
    file: InputFile
    frame: int | None = None
    time: float | None = None
    image: Any = None
    fields: dict[str, Any] = field(default_factory=dict)


def predict_tasks(
    recognizer: EmotionRecognizer, tasks: Iterable[tuple[Task, Any]]
) -> Iterator[Prediction]:
    """Recognise a stream of ``(task, image)`` pairs, one :class:`Prediction` each, in order.

    Args:
        recognizer: The recogniser to run.
        tasks: Each task with its image (a path, PIL image or array), or the exception that
            stopped it from loading (recorded as the task's error). Consumed lazily.
    """
    pending: deque[Task] = deque()

    def payloads() -> Iterator[Any]:
        for task, image in tasks:
            pending.append(task)
            yield image

    # predict_iter draws a source name right after each input: the task just queued.
    sources = (str(pending[-1].file.path) for _ in itertools.count())
    for result in recognizer.predict_iter(payloads(), errors="record", sources=sources):
        task = pending.popleft()
        image = task.image if isinstance(task.image, Image.Image) else None
        yield Prediction(task.key, task.file, result, task.frame, task.time, image, task.fields)


def predict_files(
    recognizer: EmotionRecognizer,
    files: Sequence[InputFile],
    *,
    every_n: int | None = None,
    fps: float | None = None,
    skip: Callable[[str], bool] | None = None,
    keep_images: bool = False,
) -> Iterator[Prediction]:
    """Recognise every image and sampled video frame of ``files``, one result each, in order.

    Args:
        recognizer: The recogniser to run.
        files: From :func:`expand_inputs`.
        every_n: Videos: keep every N-th frame.
        fps: Videos: keep about this many frames per second (instead of ``every_n``).
        skip: Keys (``path``, ``path#frame``) already done, to leave out (a resumed run).
        keep_images: Attach each loaded image to its prediction (for drawing).
    """
    skip = skip or (lambda key: False)

    def tasks() -> Iterator[tuple[Task, Any]]:
        for file in files:
            key = str(file.path)
            if file.kind == "error":
                if not skip(key):
                    yield Task(key, file), FileNotFoundError(f"{file.path}: {file.error}")
            elif file.kind == "image":
                if skip(key):
                    continue
                try:
                    image: Any = load_image(file.path)
                except Exception as exc:
                    image = exc
                yield Task(key, file, image=image if keep_images else None), image
            else:
                yield from video_tasks(file, key)

    def video_tasks(file: InputFile, key: str) -> Iterator[tuple[Task, Any]]:
        try:
            for frame in iter_frames(file.path, every_n=every_n, fps=fps):
                frame_key = f"{key}#{frame.index}"
                if skip(frame_key):
                    continue
                kept = frame.image if keep_images else None
                yield Task(frame_key, file, frame.index, frame.time, kept), frame.image
        except Exception as exc:
            if not skip(key):
                yield Task(key, file), exc

    yield from predict_tasks(recognizer, tasks())
