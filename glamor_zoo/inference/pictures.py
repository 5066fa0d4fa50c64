"""The pictures of a prediction run: labelled photos, attention overlays, saliency, videos.

:class:`PictureWriter` takes each :class:`~glamor_zoo.inference.batch.Prediction` (with its
image kept) and writes, below the output folder, what :class:`PictureOptions` asks for:
``annotated/`` (boxes and labels; tracked video frames: each person's box in their track's
colour, with the smoothed label), ``attention/`` (per face, the context the model saw with
its attention), ``saliency/`` (per face, occlusion saliency) and annotated videos. Every file
is written to a temporary file and renamed, so a killed run leaves no half-written picture.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from glamor_zoo.serialization import atomic_write_bytes

if TYPE_CHECKING:
    from glamor_zoo.inference.batch import InputFile, Prediction
    from glamor_zoo.inference.recognizer import EmotionRecognizer
    from glamor_zoo.inference.video import VideoWriter

__all__ = ["PictureOptions", "PictureWriter", "save_picture"]


@dataclass(frozen=True)
class PictureOptions:
    """Which pictures to write.

    Attributes:
        draw: Photos (and video frames) with labelled boxes, in ``annotated/``.
        attention: Context models: per face, the context with its attention map.
        saliency: Per face, the face beside its occlusion saliency map.
        annotated_video: Videos: an MP4 of the labelled frames, in ``annotated/``.
        every_n: The run's video sampling (sets the annotated video's frame rate).
        fps: The run's video sampling in frames per second (instead of ``every_n``).
    """

    draw: bool = False
    attention: bool = False
    saliency: bool = False
    annotated_video: bool = False
    every_n: int | None = None
    fps: float | None = None

    @property
    def any(self) -> bool:
        """Whether any picture is asked for (the run must then keep its images)."""
        return self.draw or self.attention or self.saliency or self.annotated_video


def save_picture(image: Image.Image, path: Path) -> None:
    """Save ``image`` as PNG (``.png``) or JPEG (anything else), atomically."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if path.suffix.lower() == ".png" else "JPEG", quality=90)
    atomic_write_bytes(path, buffer.getvalue())


class PictureWriter:
    """Writes the pictures of a run into ``folder`` as its predictions arrive, in order.

    Args:
        folder: The run's output folder.
        recognizer: The recogniser that made the predictions (its spec and mode).
        options: What to write.
    """

    def __init__(
        self, folder: str | Path, recognizer: EmotionRecognizer, options: PictureOptions
    ) -> None:
        self.folder = Path(folder)
        self.recognizer = recognizer
        self.options = options
        self._writer: VideoWriter | None = None
        self._writer_file: InputFile | None = None

    def _annotated_video_path(self, file: InputFile) -> Path:
        return self.folder / "annotated" / file.relative.with_suffix(".mp4")

    def videos_to_redo(self, files: Sequence[InputFile]) -> set[str]:
        """Videos whose annotated video is missing: all their frames must run again."""
        if not self.options.annotated_video:
            return set()
        return {
            str(f.path)
            for f in files
            if f.kind == "video" and not self._annotated_video_path(f).exists()
        }

    @staticmethod
    def _stem(prediction: Prediction) -> Path:
        relative = prediction.file.relative
        if prediction.frame is None:
            return relative
        return relative.with_suffix("") / f"frame_{prediction.frame:06d}.jpg"

    def save(self, prediction: Prediction) -> None:
        """Write the pictures of one prediction (nothing for a failed input)."""
        from glamor_zoo.inference.timeline_plot import draw_tracked_faces
        from glamor_zoo.inference.visualize import attention_overlay, draw_faces

        options = self.options
        image, result = prediction.image, prediction.result
        if prediction.file is not self._writer_file:
            self.end_video()
        if image is None or not result.ok:
            return
        stem = self._stem(prediction)
        suffix = ".png" if stem.suffix.lower() == ".png" else ".jpg"
        in_video = options.annotated_video and prediction.frame is not None
        drawn = None
        if options.draw or in_video:
            tracked = any(face.smoothed_probabilities is not None for face in result.faces)
            drawn = (draw_tracked_faces if tracked else draw_faces)(image, result.faces)
        if options.draw and drawn is not None:
            save_picture(drawn, self.folder / "annotated" / stem.with_suffix(suffix))
        if in_video and drawn is not None:
            self._write_frame(prediction.file, drawn)
        if options.attention:
            boxes = [f.box for f in result.faces] if self.recognizer.mode == "shared" else None
            for index, face in enumerate(result.faces, start=1):
                overlay = attention_overlay(image, face, self.recognizer.spec, boxes)
                name = f"{stem.with_suffix('').name}_face{index}{suffix}"
                save_picture(overlay, self.folder / "attention" / stem.parent / name)
        if options.saliency:
            self._save_saliency(prediction, stem, suffix)

    def _save_saliency(self, prediction: Prediction, stem: Path, suffix: str) -> None:
        from glamor_zoo.inference.saliency import face_saliency_picture

        for index, face in enumerate(prediction.result.faces, start=1):
            picture = face_saliency_picture(self.recognizer, prediction.image, face)
            name = f"{stem.with_suffix('').name}_face{index}{suffix}"
            save_picture(picture, self.folder / "saliency" / stem.parent / name)

    def _write_frame(self, file: InputFile, frame: Image.Image) -> None:
        from glamor_zoo.inference.video import VideoWriter, video_fps

        if self._writer is None:
            source_fps = video_fps(file.path)
            if self.options.fps is not None:
                fps = min(self.options.fps, source_fps)
            else:
                fps = source_fps / (self.options.every_n or 1)
            self._writer = VideoWriter(self._annotated_video_path(file), fps)
            self._writer_file = file
        self._writer.write(frame)

    def end_video(self) -> None:
        """Finish the annotated video being written (at the end of its input)."""
        if self._writer is not None:
            self._writer.close()
        self._writer = self._writer_file = None

    def abort_video(self) -> None:
        """Drop the annotated video being written (the run failed or was interrupted)."""
        if self._writer is not None:
            self._writer.abort()
        self._writer = self._writer_file = None
