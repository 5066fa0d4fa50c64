"""``glamor-zoo predict``: faces and emotions in photos, folders and videos.

Without ``--output`` the results are printed (a short summary, or ``--format json|csv``).
With ``--output DIR`` every finished image or frame is appended to ``DIR/predictions.jsonl``
as it completes (a killed run resumes there when the same command is run again), and the
complete ``DIR/predictions.json`` (or ``.csv``) is written at the end, with the pictures asked
for: ``annotated/`` (``--draw``), ``attention/`` (``--attention``), ``saliency/``
(``--saliency``) and annotated videos (``--annotated-video``).
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glamor_zoo.cli import CliError

if TYPE_CHECKING:
    from PIL import Image

    from glamor_zoo.inference import EmotionRecognizer
    from glamor_zoo.inference.batch import InputFile, Prediction
    from glamor_zoo.inference.video import VideoWriter


def _check_args(args: argparse.Namespace) -> None:
    if not args.paths and not args.demo:
        raise CliError("give at least one PATH (image, folder or video), or --demo")
    needs_output = [
        flag
        for flag, on in (
            ("--draw", args.draw),
            ("--attention", args.attention),
            ("--saliency", args.saliency),
            ("--annotated-video", args.annotated_video),
        )
        if on
    ]
    if needs_output and args.output is None:
        raise CliError(f"{', '.join(needs_output)} need --output DIR for the pictures")
    if args.fps is not None and args.fps <= 0:
        raise CliError(f"--fps must be positive, got {args.fps}")
    if args.preprocessing == "official" and args.max_side is not None:
        raise CliError(
            "--max-side moves the boxes, and --preprocessing official detects on the full image "
            "as the authors did: drop one of them"
        )


def _want_fast(args: argparse.Namespace) -> bool:
    from glamor_zoo.inference.video import is_video_file

    if args.fast is not None:
        return bool(args.fast)
    # NOTE: measured on the 2-core CPU: compiling costs 15-30 s per run, the packaged
    # Deep-Emotion gains nothing from it at batch 5-64; only long runs can amortise it.
    return any(Path(p).is_dir() or is_video_file(p) for p in args.paths)


def _build_recognizer(args: argparse.Namespace, device: Any) -> EmotionRecognizer:
    from glamor_zoo.cli._common import DETECTOR_ERRORS, detector_error, detector_options
    from glamor_zoo.inference import EmotionRecognizer, ModelLoadError
    from glamor_zoo.registry import UnknownComponentError

    try:
        return EmotionRecognizer(
            args.model,
            pretrained=False if args.random_weights else None,
            detector=args.detector,
            device=device,
            mode=args.mode,
            batch_size=args.batch_size,
            fast=_want_fast(args),
            detector_args=detector_options(args),
            max_side=args.max_side,
            preprocessing=args.preprocessing,
        )
    except (ModelLoadError, UnknownComponentError) as exc:
        raise CliError(str(exc)) from None
    except DETECTOR_ERRORS as exc:
        raise detector_error(args.detector, exc) from None


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    from glamor_zoo.cli._common import check_device, name_failures, silence_hub_progress
    from glamor_zoo.inference.batch import expand_inputs

    paths = list(args.paths)
    if args.demo:
        from glamor_zoo.inference.demo import demo_image_path

        paths.append(str(demo_image_path()))
    files = expand_inputs(paths)  # checked before the model loads
    unreadable = {str(f.path): f.error or "" for f in files if f.kind == "error"}
    if unreadable and len(unreadable) == len(files):
        raise CliError(f"nothing to read: {name_failures(unreadable)}")
    if unreadable:
        print(f"glamor-zoo predict: cannot read {name_failures(unreadable)}", file=sys.stderr)
    if args.no_progress:
        silence_hub_progress()
    recognizer = _build_recognizer(args, check_device(args.device))
    if args.attention and not recognizer.uses_context:
        raise CliError(
            f"--attention needs a context model (GLAMOR-Net family); {recognizer.model_name} "
            "sees only the face: use --saliency for where it looks"
        )
    default_note = " (no --model given: the packaged offline model)" if args.model is None else ""
    print(f"glamor-zoo predict: {recognizer.describe()}{default_note}", file=sys.stderr)
    if args.output is None:
        records = _run_to_terminal(args, recognizer, files)
    else:
        records = _run_to_folder(args, recognizer, files)
    failed = {r["input"]: r["error"] for r in records if r.get("error")}
    if failed:
        print(
            f"glamor-zoo predict: {len(failed)} of {len(records)} inputs failed: "
            f"{name_failures(failed)}",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _progress(args: argparse.Namespace, total: int, initial: int = 0) -> Any:
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit="file", disable=True if args.no_progress else None
    )


def _iterate(
    args: argparse.Namespace, recognizer: EmotionRecognizer, files: list[InputFile], **kwargs: Any
) -> Iterator[Prediction]:
    from glamor_zoo.inference.batch import predict_files

    yield from predict_files(recognizer, files, every_n=args.every_n, fps=args.fps, **kwargs)


def _run_to_terminal(
    args: argparse.Namespace, recognizer: EmotionRecognizer, files: list[InputFile]
) -> list[dict[str, Any]]:
    from glamor_zoo.inference.tables import records_to_csv, summarize_record

    records: list[dict[str, Any]] = []
    with _progress(args, len(files)) as bar:
        current = None
        for prediction in _iterate(args, recognizer, files):
            if prediction.file is not current:
                if current is not None:
                    bar.update(1)
                current = prediction.file
            record = prediction.to_dict(attention=True)
            record.pop("key")
            records.append(record)
            if args.format is None:
                bar.write(summarize_record(record), file=sys.stdout)
        bar.update(bar.total - bar.n)
    if args.format == "json":
        print(json.dumps(records, indent=2))
    elif args.format == "csv":
        sys.stdout.write(records_to_csv(records, recognizer.labels))
    return records


def _run_settings(args: argparse.Namespace, recognizer: EmotionRecognizer) -> dict[str, Any]:
    detector = recognizer.detector
    settings = getattr(detector, "settings", None)
    return {
        "model": recognizer.model_name,
        "detector": settings() if callable(settings) else type(detector).__name__,
        "mode": recognizer.mode if recognizer.uses_context else None,
        "every_n": args.every_n,
        "fps": args.fps,
    }


def _run_to_folder(
    args: argparse.Namespace, recognizer: EmotionRecognizer, files: list[InputFile]
) -> list[dict[str, Any]]:
    from glamor_zoo.inference.journal import Journal, JournalMismatchError
    from glamor_zoo.inference.tables import records_to_csv
    from glamor_zoo.serialization import atomic_write_text

    out: Path = args.output
    try:
        journal = Journal(out, _run_settings(args, recognizer), overwrite=args.overwrite)
    except JournalMismatchError as exc:
        raise CliError(str(exc)) from exc
    pictures = _Pictures(args, recognizer)
    redo_videos = pictures.videos_to_redo(files)

    def skip(key: str) -> bool:
        return key in journal.done and key.rpartition("#")[0] not in redo_videos

    if journal.resumed:
        print(
            f"glamor-zoo predict: resuming in {out}: {journal.resumed} finished inputs kept",
            file=sys.stderr,
        )
    initial = sum(1 for f in files if f.kind != "video" and str(f.path) in journal.done)
    keep = args.draw or args.attention or args.saliency or args.annotated_video
    with journal, _progress(args, len(files), initial) as bar:
        current = None
        try:
            for prediction in _iterate(args, recognizer, files, skip=skip, keep_images=keep):
                if prediction.file is not current:
                    if current is not None:
                        bar.update(1)
                        pictures.end_video()
                    current = prediction.file
                pictures.save(prediction)
                if prediction.key not in journal.done:
                    journal.add(prediction.to_dict(attention=True))
            pictures.end_video()
        except KeyboardInterrupt:
            pictures.abort_video()
            print(
                f"glamor-zoo predict: interrupted; {len(journal.records)} results are kept in "
                f"{journal.path}: run the same command again to resume",
                file=sys.stderr,
            )
            raise
        except BaseException:
            pictures.abort_video()
            raise
        bar.update(bar.total - bar.n)
    records = [{k: v for k, v in r.items() if k != "key"} for r in journal.records]
    if (args.format or "json") == "csv":
        atomic_write_text(out / "predictions.csv", records_to_csv(records, recognizer.labels))
        written = out / "predictions.csv"
    else:
        atomic_write_text(out / "predictions.json", json.dumps(records, indent=2) + "\n")
        written = out / "predictions.json"
    print(f"glamor-zoo predict: {len(records)} results in {written}", file=sys.stderr)
    return records


def _save_image(image: Image.Image, path: Path) -> None:
    from glamor_zoo.serialization import atomic_write_bytes

    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if path.suffix.lower() == ".png" else "JPEG", quality=90)
    atomic_write_bytes(path, buffer.getvalue())


class _Pictures:
    """The pictures and annotated videos of a folder run."""

    def __init__(self, args: argparse.Namespace, recognizer: EmotionRecognizer) -> None:
        self.args = args
        self.recognizer = recognizer
        self.out: Path = args.output
        self.writer: VideoWriter | None = None
        self.writer_file: InputFile | None = None

    def _annotated_video_path(self, file: InputFile) -> Path:
        return self.out / "annotated" / file.relative.with_suffix(".mp4")

    def videos_to_redo(self, files: list[InputFile]) -> set[str]:
        """Videos whose annotated video is missing: all their frames must run again."""
        if not self.args.annotated_video:
            return set()
        return {
            str(f.path)
            for f in files
            if f.kind == "video" and not self._annotated_video_path(f).exists()
        }

    def _stem(self, prediction: Prediction) -> Path:
        relative = prediction.file.relative
        if prediction.frame is None:
            return relative
        return relative.with_suffix("") / f"frame_{prediction.frame:06d}.jpg"

    def save(self, prediction: Prediction) -> None:
        from glamor_zoo.inference.visualize import attention_overlay, draw_faces

        image, result = prediction.image, prediction.result
        if image is None or not result.ok:
            return
        stem = self._stem(prediction)
        suffix = ".png" if stem.suffix.lower() == ".png" else ".jpg"
        drawn = None
        if self.args.draw or (self.args.annotated_video and prediction.frame is not None):
            drawn = draw_faces(image, result.faces)
        if self.args.draw and drawn is not None:
            _save_image(drawn, self.out / "annotated" / stem.with_suffix(suffix))
        if self.args.annotated_video and prediction.frame is not None and drawn is not None:
            self._write_frame(prediction.file, drawn)
        if self.args.attention:
            boxes = [f.box for f in result.faces] if self.recognizer.mode == "shared" else None
            for index, face in enumerate(result.faces, start=1):
                overlay = attention_overlay(image, face, self.recognizer.spec, boxes)
                name = f"{stem.with_suffix('').name}_face{index}{suffix}"
                _save_image(overlay, self.out / "attention" / stem.parent / name)
        if self.args.saliency:
            self._save_saliency(prediction, stem, suffix)

    def _save_saliency(self, prediction: Prediction, stem: Path, suffix: str) -> None:
        from glamor_zoo.inference.saliency import face_saliency_picture

        for index, face in enumerate(prediction.result.faces, start=1):
            picture = face_saliency_picture(self.recognizer, prediction.image, face)
            name = f"{stem.with_suffix('').name}_face{index}{suffix}"
            _save_image(picture, self.out / "saliency" / stem.parent / name)

    def _write_frame(self, file: InputFile, frame: Image.Image) -> None:
        from glamor_zoo.inference.video import VideoWriter, video_fps

        if self.writer_file is not file:
            self.end_video()
            source_fps = video_fps(file.path)
            if self.args.fps is not None:
                fps = min(self.args.fps, source_fps)
            else:
                fps = source_fps / (self.args.every_n or 1)
            self.writer = VideoWriter(self._annotated_video_path(file), fps)
            self.writer_file = file
        self.writer.write(frame)

    def end_video(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = self.writer_file = None

    def abort_video(self) -> None:
        if self.writer is not None:
            self.writer.abort()
        self.writer = self.writer_file = None
