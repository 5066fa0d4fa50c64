"""A prediction job into an output folder: resumable, in one process or many.

:class:`PredictionJob` is what ``glamor-zoo predict --output DIR`` runs, under ``python`` or
under ``accelerate launch`` / ``torchrun`` with any number of processes:

1. :meth:`PredictionJob.__init__`: every process checks that ``DIR`` holds no results of other
   settings; the main process merges what earlier runs left (:func:`~.journal.prepare_folder`);
   all wait for it, then read which inputs are finished.
2. :meth:`PredictionJob.run`: each process takes its share of the unfinished inputs
   (:mod:`~glamor_zoo.inference.sources`), appends its records to its own journal as they
   finish, writes its pictures, and counts into the one progress bar
   (:class:`~.progress.JobProgress`); then all wait, and the main process merges the journals
   into ``predictions.jsonl`` and returns every record, in the inputs' order.
3. :func:`~glamor_zoo.inference.writers.write_records` writes ``predictions.json`` (or
   ``.csv``, ``.parquet``, a dataset folder), and with tracking
   :func:`~glamor_zoo.inference.timeline.write_video_tracks` each video's timeline and summary.

With ``tracking``, each video's frames go through :class:`~.tracked.VideoTracking` before they
are journaled (tracks, shots, smoothed probabilities); a resumed video's tracks are rebuilt
from its journaled records and continue.

A killed process loses at most the line it was writing: running the same command again,
with the same or another number of processes, does only what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glamor_zoo.inference.journal import (
    JOURNAL_NAME,
    JournalWriter,
    check_settings,
    merge_journals,
    part_journal,
    prepare_folder,
    read_journal,
)
from glamor_zoo.inference.pictures import PictureOptions, PictureWriter
from glamor_zoo.inference.processes import Processes, current_processes
from glamor_zoo.inference.progress import JobProgress
from glamor_zoo.inference.recognizer import EmotionRecognizer
from glamor_zoo.inference.sources import JobInputs
from glamor_zoo.inference.tracked import VideoTracking
from glamor_zoo.inference.tracking import TrackingOptions

__all__ = ["PredictionJob", "job_settings"]


def job_settings(recognizer: EmotionRecognizer, inputs: JobInputs) -> dict[str, Any]:
    """What a resumed job must share with the one it resumes: model, detector, mode, inputs."""
    detector = recognizer.detector
    settings = getattr(detector, "settings", None)
    return {
        "model": recognizer.model_name,
        "detector": settings() if callable(settings) else type(detector).__name__,
        "mode": recognizer.mode if recognizer.uses_context else None,
        **inputs.settings(),
    }


class PredictionJob:
    """Recognise ``inputs`` into ``folder``, resumably, in this process's share of the job.

    Args:
        recognizer: The recogniser (each process builds its own).
        inputs: What to read (:class:`~.sources.FileInputs` or :class:`~.sources.DatasetInputs`).
        folder: The output folder (shared by all processes of the job).
        pictures: Which pictures to write (default: none).
        overwrite: Discard earlier results in ``folder`` instead of resuming.
        processes: The job's processes (default: as the launcher set them up).
        tracking: Link the faces of videos into tracks with these settings (``None``: off);
            they are part of the settings a resumed job must share.

    Attributes:
        resumed: How many records earlier runs had finished.
        written: How many records this process has added.
        journal: The journal this process appends to.

    Raises:
        JournalMismatchError: ``folder`` holds results of other settings.
    """

    def __init__(
        self,
        recognizer: EmotionRecognizer,
        inputs: JobInputs,
        folder: str | Path,
        pictures: PictureOptions | None = None,
        overwrite: bool = False,
        processes: Processes | None = None,
        tracking: TrackingOptions | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.inputs = inputs
        self.folder = Path(folder)
        self.pictures = pictures or PictureOptions()
        self.processes = processes or current_processes()
        self.tracking = tracking if inputs.videos() else None
        settings = job_settings(recognizer, inputs)
        if self.tracking is not None:
            settings["tracking"] = self.tracking.to_dict()
        if self.processes.is_main:
            done = prepare_folder(self.folder, settings, overwrite=overwrite)
        elif not overwrite:
            check_settings(self.folder, settings)
        self.processes.wait()
        if not self.processes.is_main:
            done = read_journal(self.folder / JOURNAL_NAME)
        self.done = {record["key"] for record in done}
        self._journaled: dict[str, list[dict[str, Any]]] = {}
        if self.tracking is not None:
            for record in done:
                if record.get("frame") is not None:
                    self._journaled.setdefault(str(record.get("input")), []).append(record)
        self.resumed = len(done)
        self.written = 0
        single = self.processes.world_size == 1
        self.journal = (
            self.folder / JOURNAL_NAME if single else part_journal(self.folder, self.processes.rank)
        )

    def run(self, progress: bool = True) -> list[dict[str, Any]]:
        """Do this process's share; then (all processes) merge. Every record of the job, in
        the inputs' order, on the main process; ``[]`` on the others (theirs are in the
        journal, and the main process has them all).

        Args:
            progress: Show the job's progress bar (main process).
        """
        writer = PictureWriter(self.folder, self.recognizer, self.pictures)
        redo = writer.videos_to_redo(self.inputs.videos())

        def skip(key: str) -> bool:
            return key in self.done and key.rpartition("#")[0] not in redo

        bar = JobProgress(
            self.folder,
            self.processes,
            self.inputs.total(),
            self.inputs.finished(self.done),
            self.inputs.unit,
            enabled=progress,
        )
        tracking = None
        if self.tracking is not None:
            tracking = VideoTracking(self.recognizer.labels, self.tracking, self._journaled)
        predictions = self.inputs.predict(
            self.recognizer,
            self.processes,
            skip,
            keep_images=self.pictures.any or tracking is not None,  # shot cuts need the frame
        )
        with JournalWriter(self.journal) as journal:
            current = None
            try:
                for prediction in predictions:
                    if tracking is not None:
                        prediction = tracking.apply(prediction)
                    if prediction.file is not current:
                        if current is not None:
                            bar.advance()
                        current = prediction.file
                    if prediction.frame is not None:
                        bar.where(f"{prediction.file.relative} {prediction.time or 0:.0f} s")
                    writer.save(prediction)
                    if prediction.key not in self.done:
                        journal.add(prediction.to_dict(attention=True))
                        self.written += 1
                if current is not None:
                    bar.advance()
                writer.end_video()
            except BaseException:
                writer.abort_video()
                bar.close()
                bar.finish()
                raise
        bar.close()
        self.processes.wait()
        if not self.processes.is_main:
            return []
        bar.finish()
        return sorted(merge_journals(self.folder), key=self.inputs.sort_key)
