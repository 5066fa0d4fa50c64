"""Videos: sample frames (every N-th, or at a target rate) and write annotated videos.

Decoding and encoding use PyAV (FFmpeg's libraries in one wheel, no system FFmpeg needed; the
``video`` extra: ``pip install 'glamor-zoo[video]'``). torchvision's own video reader is
deprecated, and imageio would only wrap the same FFmpeg.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from glamor_zoo.data.video import decoded_frames, frame_rate, import_av
from glamor_zoo.serialization import open_temp_beside

__all__ = [
    "VIDEO_EXTENSIONS",
    "VideoFrame",
    "VideoWriter",
    "is_video_file",
    "iter_frames",
    "sampled_frame_count",
    "video_fps",
    "write_video",
]

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".gif"}
)


def is_video_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` has one of :data:`VIDEO_EXTENSIONS` (case-insensitive).

    GIFs count as videos here (animated or not, each frame is recognised).
    """
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


@dataclass(frozen=True)
class VideoFrame:
    """One sampled frame.

    Attributes:
        index: The frame's number in the video (0-based, decoding order of presentation).
        time: Its presentation time in seconds.
        image: The RGB frame.
    """

    index: int
    time: float
    image: Image.Image


def video_fps(path: str | os.PathLike[str]) -> float:
    """The video's average frame rate (frames per second); 25 when the file does not say."""
    av = import_av()
    with av.open(os.fspath(path)) as container:
        return frame_rate(container.streams.video[0], default=25.0)


def sampled_frame_count(
    path: str | os.PathLike[str], every_n: int | None = None, fps: float | None = None
) -> int | None:
    """How many frames :func:`iter_frames` will yield, from the file's header (no decoding).

    Returns:
        The count (from the stream's frame count, else its duration × frame rate; with ``fps``,
        one frame per 1/fps of the duration at most), or ``None`` when the header says neither,
        or the file cannot be opened.
    """
    av = import_av()
    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            rate = frame_rate(stream)
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000  # av.time_base: microseconds
            frames = stream.frames or (round(duration * rate) if duration and rate else 0)
    except (OSError, av.error.FFmpegError):
        return None
    if not frames:
        return None
    if fps is not None:
        return min(frames, math.ceil(duration * fps)) if duration else frames
    return math.ceil(frames / (every_n or 1))


def iter_frames(
    path: str | os.PathLike[str], every_n: int | None = None, fps: float | None = None
) -> Iterator[VideoFrame]:
    """Decode ``path`` and yield the sampled frames.

    Args:
        path: A video file.
        every_n: Keep frames 0, N, 2N… (default 1: every frame).
        fps: Keep about ``fps`` frames per second instead: the first frame at or after each
            multiple of 1/fps (frames are never duplicated when the video's rate is lower).

    Raises:
        ValueError: Both or invalid sampling options, or the file has no video stream.
        OSError: The file cannot be opened or decoded (PyAV's error, naming the file).
    """
    if every_n is not None and fps is not None:
        raise ValueError("give every_n or fps, not both")
    if every_n is not None and every_n < 1:
        raise ValueError(f"every_n must be at least 1, got {every_n}")
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    next_time = 0.0
    for index, time, image in decoded_frames(path):
        if fps is not None:
            if time + 1e-6 < next_time:
                continue
            while next_time <= time + 1e-6:
                next_time += 1.0 / fps
        elif index % (every_n or 1):
            continue
        yield VideoFrame(index, time, image)


class VideoWriter:
    """Write RGB frames to an H.264 MP4 (MPEG-4 Part 2 if the build lacks libx264), atomically.

    Frames go to a temporary file beside ``path``, renamed to ``path`` on :meth:`close`
    (a run that fails leaves no half-written video). Odd frame sizes are padded to even.

    Args:
        path: The output file (``.mp4``).
        fps: Frames per second of the output.
    """

    def __init__(self, path: str | os.PathLike[str], fps: float) -> None:
        self._av = import_av()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = open_temp_beside(self.path, suffix=".mp4")
        os.close(fd)
        self._container = self._av.open(str(self._tmp), mode="w", format="mp4")
        codec = "libx264" if "libx264" in self._av.codecs_available else "mpeg4"
        self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self._stream.pix_fmt = "yuv420p"
        self._size: tuple[int, int] | None = None
        self.frames = 0

    def write(self, image: Image.Image) -> None:
        """Append one frame (every frame is padded or cropped to the first one's size)."""
        if self._size is None:
            self._size = (image.width + image.width % 2, image.height + image.height % 2)
            self._stream.width, self._stream.height = self._size
        if image.size != self._size:
            canvas = Image.new("RGB", self._size)
            canvas.paste(image.convert("RGB"), (0, 0))
            image = canvas
        frame = self._av.VideoFrame.from_ndarray(np.asarray(image.convert("RGB")), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        """Flush, close and move the video into place; returns its path."""
        try:
            for packet in self._stream.encode():
                self._container.mux(packet)
        finally:
            self._container.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Close and delete the temporary file (the output is not written)."""
        try:
            self._container.close()
        finally:
            self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_video(path: str | os.PathLike[str], frames: Iterable[Image.Image], fps: float) -> Path:
    """Write ``frames`` to ``path`` with :class:`VideoWriter`; returns the path."""
    with VideoWriter(path, fps) as writer:
        for image in frames:
            writer.write(image)
    return Path(path)
