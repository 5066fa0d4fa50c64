"""The demo's video path: an uploaded clip → tracked people, annotated video, timeline, summary.

:class:`VideoDemo` runs :func:`~glamor_zoo.inference.tracked.track_frames` on an upload, within
:class:`VideoLimits`: the upload's size (the demo's upload limit), the clip's duration, and the
size of its frames; the header is checked before anything is decoded, and then *every* decoded
frame (not only the sampled ones) against the pixel and duration limits, since a file can say
one thing in its header and carry another. Frames are sampled at ``fps`` frames per second.
Nothing here imports Gradio.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from glamor_zoo.demo.service import (
    DemoInputError,
    DemoService,
    Settings,
    _size_refusal,
    _upload_name,
)
from glamor_zoo.inference.video import VideoFrame

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "DEFAULT_MAX_FRAME_PIXELS",
    "DEFAULT_MAX_VIDEO_SECONDS",
    "DEFAULT_VIDEO_FPS",
    "VideoAnalysis",
    "VideoDemo",
    "VideoLimits",
]

DEFAULT_MAX_VIDEO_SECONDS = 60.0
DEFAULT_MAX_FRAME_PIXELS = 3840 * 2160  # 4K UHD
DEFAULT_VIDEO_FPS = 4.0
_KEPT_VIDEOS = 8  # annotated videos kept on disk for the page to serve


@dataclass(frozen=True)
class VideoLimits:
    """What the demo accepts as a video.

    Attributes:
        max_seconds: Longest clip, in seconds.
        max_pixels: Largest frame (width × height), every frame checked.
        fps: Frames per second sampled from the clip (tracked and recognised).
    """

    max_seconds: float = DEFAULT_MAX_VIDEO_SECONDS
    max_pixels: int = DEFAULT_MAX_FRAME_PIXELS
    fps: float = DEFAULT_VIDEO_FPS

    def __post_init__(self) -> None:
        for name in ("max_seconds", "max_pixels", "fps"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"video limit {name} must be a positive number, got {value!r}")


@dataclass
class VideoAnalysis:
    """Everything the page shows for one clip.

    Attributes:
        records: The JSON records, as ``glamor-zoo predict VIDEO --format json`` prints them.
        summary: A short Markdown text.
        annotated: The annotated video (each person's box in their track's colour).
        plot: The timeline picture.
        headers: The per-track table's column names.
        rows: One row per track (short tracks left out).
    """

    records: list[dict[str, Any]]
    summary: str
    annotated: str | None = None
    plot: Image.Image | None = None
    headers: list[str] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)


def checked_frames(path: str, name: str, limits: VideoLimits) -> Iterator[VideoFrame]:
    """The frames of ``path`` sampled at ``limits.fps``, every decoded frame checked.

    Raises:
        DemoInputError: Not a video, longer than the limit, or a frame over the pixel limit
            (the message names the upload by ``name``).
    """
    from glamor_zoo.data.video import frame_rate, import_av

    av = import_av()
    try:
        container = av.open(path)
    except (OSError, av.error.FFmpegError) as exc:
        raise DemoInputError(f"{name}: cannot read this video ({exc})") from None
    with container:
        if not container.streams.video:
            raise DemoInputError(f"{name}: the file has no video stream")
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        _check_size(name, width, height, limits)
        if container.duration is not None:
            _check_time(name, container.duration / 1_000_000, limits)
        rate = frame_rate(stream, default=25.0)
        next_time = 0.0
        try:
            for index, frame in enumerate(container.decode(stream)):
                _check_size(name, frame.width, frame.height, limits)
                time = float(frame.time) if frame.time is not None else index / rate
                _check_time(name, time, limits)
                if time + 1e-6 < next_time:
                    continue
                while next_time <= time + 1e-6:
                    next_time += 1.0 / limits.fps
                yield VideoFrame(index, time, frame.to_image().convert("RGB"))
        except av.error.FFmpegError as exc:
            raise DemoInputError(f"{name}: the video cannot be decoded ({exc})") from None


def _check_size(name: str, width: int, height: int, limits: VideoLimits) -> None:
    if width * height > limits.max_pixels:
        raise DemoInputError(
            f"{name}: frames of {width}×{height} are over the demo's limit of "
            f"{limits.max_pixels:,} pixels"
        )


def _check_time(name: str, seconds: float, limits: VideoLimits) -> None:
    if seconds > limits.max_seconds:
        raise DemoInputError(
            f"{name}: the clip runs past {limits.max_seconds:g} s, the demo's limit; cut it "
            "shorter, or run glamor-zoo predict on it"
        )


class VideoDemo:
    """The demo's videos: tracked recognition within :class:`VideoLimits`.

    Args:
        service: The photo demo (its choices, recognisers and upload limit).
        limits: Duration, frame size and sampling rate.
        folder: Where annotated videos are written for the page to serve (default: a new
            temporary folder); the last few are kept.
    """

    def __init__(
        self,
        service: DemoService,
        limits: VideoLimits | None = None,
        folder: str | os.PathLike[str] | None = None,
    ) -> None:
        self.service = service
        self.limits = limits or VideoLimits()
        self.folder = Path(folder or tempfile.mkdtemp(prefix="glamor_zoo_demo_videos_"))
        self._written: deque[Path] = deque()
        self._lock = threading.Lock()

    def _check_upload(self, path: str, name: str) -> None:
        try:
            too_large = _size_refusal(path, self.service.max_upload_bytes)
        except OSError:
            raise DemoInputError(f"{name}: the upload is missing on the server") from None
        if too_large:
            raise DemoInputError(f"{name}: {too_large}")

    def _run(
        self, path: str, name: str | None, settings: Settings, annotate: bool
    ) -> tuple[Any, Path | None]:
        from glamor_zoo.inference.timeline_plot import draw_tracked_faces
        from glamor_zoo.inference.tracked import track_frames
        from glamor_zoo.inference.video import VideoWriter

        name = _upload_name(name, path)
        recognizer = self.service.recognizer(mode="exact", **settings)
        self._check_upload(path, name)
        frames = checked_frames(path, name, self.limits)
        if not annotate:
            return track_frames(recognizer, frames, name), None
        target = self._next_video()
        with VideoWriter(target, self.limits.fps) as writer:

            def draw(frame: VideoFrame, result: Any) -> None:
                writer.write(draw_tracked_faces(frame.image, result.faces))

            tracks = track_frames(recognizer, frames, name, on_frame=draw)
            if not tracks.frames:
                raise DemoInputError(f"{name}: the video has no frames")
        return tracks, target

    def _next_video(self) -> Path:
        with self._lock:
            while len(self._written) >= _KEPT_VIDEOS:
                shutil.rmtree(self._written.popleft(), ignore_errors=True)
            folder = Path(tempfile.mkdtemp(dir=self.folder))
            self._written.append(folder)
        return folder / "annotated.mp4"

    def records(
        self, path: str, name: str | None = None, **settings: Unpack[Settings]
    ) -> list[dict[str, Any]]:
        """The JSON records of ``glamor-zoo predict VIDEO --format json`` for an uploaded clip
        (sampled at ``limits.fps``), named by ``name``.

        Raises:
            DemoInputError: a setting not offered, or a clip over the limits.
        """
        tracks, _ = self._run(path, name, settings, annotate=False)
        return tracks.records()

    def analyse(
        self, path: str, name: str | None = None, **settings: Unpack[Settings]
    ) -> VideoAnalysis:
        """:meth:`records`, the annotated video, the timeline and the per-track table."""
        tracks, video = self._run(path, name, settings, annotate=True)
        rows = tracks.timeline()
        summaries = tracks.summary()
        labels = tracks.labels
        short = len({r.track for r in rows if r.short})
        text = (
            f"{len(summaries)} people tracked over {len(tracks.frames)} frames "
            f"({self.limits.fps:g} per second)"
        )
        if short:
            text += f"; {short} short tracks (under {tracks.options.min_track:g} s) left out"
        headers = ["track", "from (s)", "to (s)", "mostly", "mean confidence", *labels]
        table = [
            [
                s.track,
                round(s.first_seen, 2),
                round(s.last_seen, 2),
                s.dominant,
                round(s.mean_confidence, 3),
                *(f"{s.shares[k]:.0%}" for k in labels),
            ]
            for s in summaries
        ]
        return VideoAnalysis(
            tracks.records(), text + ".", str(video), tracks.plot(), headers, table
        )
