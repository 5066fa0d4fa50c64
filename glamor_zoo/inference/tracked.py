"""People over time in videos: tracks and smoothed probabilities on the faces of each frame.

:class:`VideoTracking` is the stage a prediction run passes its video predictions through, in
order: for every sampled frame it links the faces to tracks (:class:`~.tracking.FaceTracker`,
shot cuts from the frame's colour histogram), and gives each tracked face the track's smoothed
probabilities (:class:`~.smoothing.EmaSmoother`) beside its own. Every face record of a video
then carries ``track``, ``smoothed_label`` and ``smoothed_probabilities``, and the record
carries its ``shot``. Nothing but the current trackers is kept: memory does not grow with the
video's length.

A resumed run (``predict --output DIR`` interrupted, then run again) continues the tracks: the
tracker and the averages are rebuilt from the journal's records of the video (their boxes,
scores, shots and probabilities), which gives back the same ids; the frames not finished go
on from there. Only a shot cut exactly at the first frame not finished is not seen (the
previous frame's histogram is not in the journal). Should the rebuilt ids differ from the
journal's (records of another version), the tracks restart cleanly instead: new ids after the
journal's highest, in a new shot.

:func:`track_video` is the same for one video from Python (``EmotionRecognizer.track``), and
returns a :class:`VideoTracks`; :func:`track_frames` takes frames already sampled (the demo
checks each one against its limits first).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from glamor_zoo.inference.results import FaceRecord, ImageResult
from glamor_zoo.inference.smoothing import EmaSmoother
from glamor_zoo.inference.tracking import FaceTracker, TrackingOptions, frame_signature

if TYPE_CHECKING:
    from PIL import Image

    from glamor_zoo.inference.batch import Prediction
    from glamor_zoo.inference.recognizer import EmotionRecognizer
    from glamor_zoo.inference.timeline import TimelineRow, TrackSummary
    from glamor_zoo.inference.video import VideoFrame

__all__ = ["TrackedFrame", "VideoTracking", "VideoTracks", "track_frames", "track_video"]

_logger = logging.getLogger(__name__)


class _Video:
    """The tracker and the averages of one video."""

    def __init__(self, labels: Sequence[str], options: TrackingOptions) -> None:
        self.labels = list(labels)
        self.options = options
        self.tracker = FaceTracker(options)
        self.smoother = EmaSmoother(options.half_life)

    def step(
        self, time: float, faces: Sequence[FaceRecord], image: Image.Image | None
    ) -> list[int | None]:
        signature = None if image is None else frame_signature(image)
        ids = self.tracker.update(time, [f.box for f in faces], [f.score for f in faces], signature)
        for face, track in zip(faces, ids, strict=True):
            face.track = track
            if track is None:  # nothing to smooth with: the face's own probabilities
                face.smoothed_probabilities = dict(face.probabilities)
                face.smoothed_label = face.label
                continue
            raw = [face.probabilities[label] for label in self.labels]
            smoothed = self.smoother.update(track, time, raw)
            face.smoothed_probabilities = {
                label: float(p) for label, p in zip(self.labels, smoothed, strict=True)
            }
            face.smoothed_label = self.labels[int(np.argmax(smoothed))]
        self.smoother.retain(self.tracker.live_ids)
        return ids

    def replay(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Rebuild the state from journaled records of this video (in frame order)."""
        highest, last_shot = 0, 0
        consistent = True
        for record in records:
            shot = int(record.get("shot") or 0)
            while self.tracker.shot < shot:
                self.tracker.cut()
            faces = [_face_from_dict(f) for f in record.get("faces") or []]
            wanted = [f.track for f in faces]
            got = self.step(float(record.get("time") or 0.0), faces, None)
            consistent = consistent and got == wanted
            highest = max([highest, *(t for t in wanted if t is not None)])
            last_shot = max(last_shot, shot)
        if not consistent:
            _logger.warning(
                "the journal's tracks of %s are not those this version finds: its tracks "
                "restart after the resumed frame",
                records[0].get("input") if records else "?",
            )
            self.tracker = FaceTracker(self.options, first_id=highest + 1, shot=last_shot + 1)
            self.smoother = EmaSmoother(self.options.half_life)


def _face_from_dict(face: Mapping[str, Any]) -> FaceRecord:
    return FaceRecord(
        box=tuple(face["box"]),  # type: ignore[arg-type]
        score=face.get("score"),
        label=face["label"],
        confidence=face["confidence"],
        probabilities=dict(face["probabilities"]),
        track=face.get("track"),
    )


class VideoTracking:
    """Adds tracks, shots and smoothed probabilities to the predictions of video frames.

    Args:
        labels: The model's class names, in order.
        options: Tracking and smoothing settings.
        journaled: Records a resumed run finished before, by ``input`` (their tracks are
            rebuilt before the video's first new frame).
    """

    def __init__(
        self,
        labels: Sequence[str],
        options: TrackingOptions | None = None,
        journaled: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    ) -> None:
        self.labels = list(labels)
        self.options = options or TrackingOptions()
        self.journaled = journaled or {}
        self._video: _Video | None = None
        self._input: str | None = None

    def apply(self, prediction: Prediction) -> Prediction:
        """Track the faces of one prediction (video frames; anything else passes unchanged).

        Predictions must come in order, each video's frames together.
        """
        source = str(prediction.file.path)
        if prediction.frame is None or not prediction.result.ok:
            if source != self._input:
                self._video, self._input = None, None
            return prediction
        if source != self._input or self._video is None:
            self._video, self._input = _Video(self.labels, self.options), source
            earlier = sorted(
                (
                    r
                    for r in self.journaled.get(source, ())
                    if r.get("frame") is not None and r["frame"] < prediction.frame
                ),
                key=lambda r: r["frame"],
            )
            self._video.replay(earlier)
        time = prediction.time or 0.0
        self._video.step(time, prediction.result.faces, prediction.image)
        prediction.fields["shot"] = self._video.tracker.shot
        return prediction


@dataclass
class TrackedFrame:
    """One sampled frame of a tracked video.

    Attributes:
        index: The frame's number in the video.
        time: Its time in seconds.
        shot: The shot it belongs to (0 for the first; one more after each cut).
        result: Its faces, each with ``track``, ``smoothed_label``, ``smoothed_probabilities``.
    """

    index: int
    time: float
    shot: int
    result: ImageResult

    def to_dict(self) -> dict[str, Any]:
        """The record of ``glamor-zoo predict --format json`` for this frame."""
        body = self.result.to_dict(attention=False)
        record = {"input": body.pop("input"), "shot": self.shot, "frame": self.index}
        record["time"] = round(self.time, 4)
        record.update(body)
        return record


@dataclass
class VideoTracks:
    """The people of one video over time: every sampled frame's tracked faces.

    Attributes:
        source: The video.
        labels: The model's class names.
        options: The tracking settings used.
        frames: The sampled frames, in order.
    """

    source: str
    labels: list[str]
    options: TrackingOptions
    frames: list[TrackedFrame]

    def records(self) -> list[dict[str, Any]]:
        """The JSON records, as ``glamor-zoo predict VIDEO --format json`` prints them."""
        return [frame.to_dict() for frame in self.frames]

    def timeline(self) -> list[TimelineRow]:
        """One row per tracked face per frame (:func:`~.timeline.timeline_rows`)."""
        from glamor_zoo.inference.timeline import timeline_rows

        return timeline_rows(self.records(), self.labels, self.options)

    def summary(self) -> list[TrackSummary]:
        """One summary per track not flagged short (:func:`~.timeline.summarize_tracks`)."""
        from glamor_zoo.inference.timeline import summarize_tracks

        return summarize_tracks(self.timeline(), self.labels)

    def plot(self) -> Image.Image:
        """The timeline picture (:func:`~.timeline_plot.plot_timeline`)."""
        from glamor_zoo.inference.timeline_plot import plot_timeline

        return plot_timeline(self.timeline(), self.labels)

    def save(self, folder: str | os.PathLike[str], overwrite: bool = False) -> list[Path]:
        """Write the timeline (CSV, and Parquet when pyarrow is installed), the summary (CSV,
        JSON) and the plot (PNG) into ``folder`` (:func:`~.timeline.write_track_files`),
        holding the folder's :class:`~glamor_zoo.outputs.OutputLock` meanwhile.

        Raises:
            FileExistsError: One of the files exists and ``overwrite`` is false.
            glamor_zoo.outputs.OutputFolderError: The folder cannot be written, or another
                process is writing into it.
        """
        from glamor_zoo.inference.timeline import write_track_files
        from glamor_zoo.outputs import OutputLock

        with OutputLock(folder):
            return write_track_files(self.records(), folder, self.labels, self.options, overwrite)


def track_video(
    recognizer: EmotionRecognizer,
    video: str | os.PathLike[str],
    *,
    every_n: int | None = None,
    fps: float | None = None,
    options: TrackingOptions | None = None,
) -> VideoTracks:
    """Recognise and track the faces of ``video``'s sampled frames (see the module).

    Raises:
        ValueError: Bad sampling options, or the file has no video stream.
        OSError: The file cannot be opened or decoded.
        Exception: Whatever stops the recogniser (the first failing frame's error).
    """
    from glamor_zoo.inference.video import iter_frames

    frames = iter_frames(video, every_n=every_n, fps=fps)
    return track_frames(recognizer, frames, os.fspath(video), options)


def track_frames(
    recognizer: EmotionRecognizer,
    frames: Iterable[VideoFrame],
    source: str,
    options: TrackingOptions | None = None,
    on_frame: Callable[[VideoFrame, ImageResult], None] | None = None,
) -> VideoTracks:
    """:func:`track_video` over frames already sampled (any iterable, consumed lazily).

    Args:
        recognizer: The recogniser to run.
        frames: The sampled frames, in order.
        source: The video's name in the results.
        options: Tracking and smoothing settings.
        on_frame: Called with each frame and its tracked result, in order (e.g. to write an
            annotated video); the frame's image is not kept otherwise.
    """
    options = options or TrackingOptions()
    state = _Video(recognizer.labels, options)
    tracked: list[TrackedFrame] = []
    pending: list[VideoFrame] = []

    def images() -> Iterator[Image.Image]:
        for frame in frames:
            pending.append(frame)
            yield frame.image

    results = recognizer.predict_iter(images(), errors="raise", sources=_names(source))
    for result in results:
        frame = pending.pop(0)
        state.step(frame.time, result.faces, frame.image)
        tracked.append(TrackedFrame(frame.index, frame.time, state.tracker.shot, result))
        if on_frame is not None:
            on_frame(frame, result)
    return VideoTracks(source, list(recognizer.labels), options, tracked)


def _names(source: str) -> Iterator[str]:
    while True:
        yield source
