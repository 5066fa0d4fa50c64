"""Decoding videos with PyAV (the ``video`` extra): the one place that opens and decodes them,
for frame sampling in recognition and for building NCAER-S from CAER's clips."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from PIL import Image

__all__ = ["decoded_frames", "frame_rate", "import_av"]


def import_av() -> Any:
    """The ``av`` module.

    Raises:
        ImportError: PyAV is not installed; the message says how to install it.
    """
    try:
        import av
    except ImportError as exc:
        raise ImportError(
            "decoding and writing videos needs PyAV: pip install 'glamor-zoo[video]' "
            "(or pip install av)"
        ) from exc
    return av


def frame_rate(stream: Any, default: float = 0.0) -> float:
    """A PyAV video stream's frame rate: its average rate, else its guessed rate, else ``default``
    (the header says neither)."""
    return float(stream.average_rate or stream.guessed_rate or default)


def decoded_frames(path: str | os.PathLike[str]) -> Iterator[tuple[int, float, Image.Image]]:
    """Every frame of the file's first video stream, in order: (index, time in s, RGB image).

    The file is closed when the iteration ends or the iterator is closed.

    Raises:
        ValueError: The file has no video stream.
        OSError: The file cannot be opened or decoded (PyAV's error, naming the file).
    """
    av = import_av()
    with av.open(os.fspath(path)) as container:
        if not container.streams.video:
            raise ValueError(f"{os.fspath(path)!r} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = frame_rate(stream, default=25.0)
        for index, frame in enumerate(container.decode(stream)):
            time = float(frame.time) if frame.time is not None else index / rate
            yield index, time, frame.to_image().convert("RGB")
