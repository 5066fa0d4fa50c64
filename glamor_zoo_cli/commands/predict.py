"""``glamor-zoo predict``: faces and emotions in photos, folders, videos and 🤗 datasets.

Without ``--output`` the results are printed (a short summary, or ``--format json|csv``).
With ``--output DIR`` the run is a :class:`~glamor_zoo.inference.job.PredictionJob`:
resumable, in one process or shared by the processes of ``accelerate launch`` / ``torchrun``,
ending in ``DIR/predictions.{json,csv,parquet}`` (and ``--to-dataset``) with the pictures
asked for. This module only turns the arguments into those library calls and prints.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import TYPE_CHECKING, Any

from glamor_zoo_cli.commands import CliError

if TYPE_CHECKING:
    from glamor_zoo.inference import EmotionRecognizer
    from glamor_zoo.inference.processes import Processes
    from glamor_zoo.inference.sources import JobInputs
    from glamor_zoo.inference.tracking import TrackingOptions

_DATASET_FLAGS = ("split", "label_column", "id_column", "streaming")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_args(args: argparse.Namespace) -> None:
    if not args.paths and not args.demo and args.dataset is None:
        raise CliError("give at least one PATH (image, folder or video), --dataset, or --demo")
    if args.dataset is not None and (args.paths or args.demo):
        raise CliError("give PATHs (or --demo) or --dataset, not both")
    needs_output = [
        flag
        for flag, on in (
            ("--draw", args.draw),
            ("--attention", args.attention),
            ("--saliency", args.saliency),
            ("--annotated-video", args.annotated_video),
            ("--format parquet", args.format == "parquet"),
            ("--to-dataset", args.to_dataset is not None),
        )
        if on
    ]
    if needs_output and args.output is None:
        raise CliError(f"{', '.join(needs_output)} need --output DIR (results and journal)")
    if args.dataset is None:
        given = [_flag(n) for n in _DATASET_FLAGS if getattr(args, n) not in (None, False)]
        if given:
            raise CliError(f"{', '.join(given)} apply to --dataset")
    elif args.every_n or args.fps is not None or args.annotated_video:
        raise CliError("--every-n, --fps and --annotated-video apply to videos, not --dataset")
    if args.fps is not None and not (math.isfinite(args.fps) and args.fps > 0):
        raise CliError(f"--fps must be a positive number, got {args.fps}")
    _check_tracking_args(args)
    if args.preprocessing == "official" and args.max_side:
        raise CliError(
            "--max-side moves the boxes, and --preprocessing official detects on the full image "
            "as the authors did: drop one of them"
        )


_TRACKING_FLAGS = ("half_life", "max_gap", "min_track")


def _check_tracking_args(args: argparse.Namespace) -> None:
    given = [_flag(n) for n in _TRACKING_FLAGS if getattr(args, n) is not None]
    if args.dataset is not None and (given or args.tracks):
        raise CliError(f"{', '.join(given) or '--tracks'} apply to videos, not --dataset")
    if given and args.tracks is False:
        raise CliError(f"{', '.join(given)} apply to tracks: drop them or --no-tracks")
    for name in _TRACKING_FLAGS:
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise CliError(f"{_flag(name)} must be a number of seconds >= 0, got {value}")


def _tracking_options(args: argparse.Namespace) -> TrackingOptions | None:
    """The tracking settings of a run on files (``None``: --no-tracks, or --dataset)."""
    if args.dataset is not None or args.tracks is False:
        return None
    from glamor_zoo.inference.tracking import TrackingOptions

    given = {n: getattr(args, n) for n in _TRACKING_FLAGS if getattr(args, n) is not None}
    return TrackingOptions(**given)


def _build_recognizer(
    args: argparse.Namespace, device: Any, job_size: int | None
) -> EmotionRecognizer:
    from glamor_zoo.inference import EmotionRecognizer, ModelLoadError
    from glamor_zoo.registry import UnknownComponentError
    from glamor_zoo_cli.commands._common import DETECTOR_ERRORS, detector_error, detector_options

    try:
        return EmotionRecognizer(
            args.model,
            pretrained=False if args.random_weights else None,
            detector=args.detector,
            device=device,
            mode=args.mode,
            batch_size=args.batch_size,
            fast="auto" if args.fast is None else args.fast,
            job_size=job_size,
            detector_args=detector_options(args),
            max_side="auto" if args.max_side is None else (args.max_side or None),
            preprocessing=args.preprocessing,
            min_confidence=args.min_confidence,
        )
    except (ModelLoadError, UnknownComponentError) as exc:
        raise CliError(str(exc)) from None
    except DETECTOR_ERRORS as exc:
        raise detector_error(args.detector, exc) from None


def _file_inputs(args: argparse.Namespace, say: Any) -> JobInputs:
    from glamor_zoo.inference.batch import expand_inputs
    from glamor_zoo.inference.sources import FileInputs
    from glamor_zoo_cli.commands._common import name_failures

    paths = list(args.paths)
    if args.demo:
        from glamor_zoo.inference.demo import demo_image_path

        paths.append(str(demo_image_path()))
    files = expand_inputs(paths)  # checked before the model loads
    unreadable = {str(f.path): f.error or "" for f in files if f.kind == "error"}
    if unreadable and len(unreadable) == len(files):
        raise CliError(f"nothing to read: {name_failures(unreadable)}")
    if unreadable:
        say(f"cannot read {name_failures(unreadable)}")
    return FileInputs(files, every_n=args.every_n, fps=args.fps)


def _dataset_inputs(args: argparse.Namespace) -> JobInputs:
    from glamor_zoo.data.hf import DatasetSourceError, open_dataset
    from glamor_zoo.inference.sources import DatasetInputs

    try:
        dataset = open_dataset(
            args.dataset,
            split=args.split,
            streaming=args.streaming,
            image_column=args.image_column,
            columns=(args.label_column, args.id_column),
        )
        return DatasetInputs(
            dataset,
            args.dataset,
            split=args.split,
            image_column=args.image_column,
            label_column=args.label_column,
            id_column=args.id_column,
        )
    except (ImportError, DatasetSourceError, ValueError) as exc:
        raise CliError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    _check_args(args)
    from glamor_zoo.inference.processes import current_processes
    from glamor_zoo_cli.commands._common import check_device, name_failures, silence_hub_progress

    try:
        processes = current_processes(cpu=True if args.device == "cpu" else None)
    except RuntimeError as exc:
        raise CliError(str(exc)) from None
    if processes.world_size > 1 and args.output is None:
        raise CliError(
            f"{processes.world_size} processes share this job: give --output DIR, where "
            "their results are merged"
        )

    def say(message: str) -> None:
        if processes.is_main:
            print(f"glamor-zoo predict: {message}", file=sys.stderr)

    inputs = _dataset_inputs(args) if args.dataset is not None else _file_inputs(args, say)
    if args.no_progress:
        silence_hub_progress()
    launched = processes.world_size > 1 and args.device is None
    device = processes.device if launched else check_device(args.device)
    total = inputs.image_count()
    share = None if total is None else -(-total // processes.world_size)
    recognizer = _build_recognizer(args, device, share)
    if args.attention and not recognizer.uses_context:
        raise CliError(
            f"--attention needs a context model (GLAMOR-Net family); {recognizer.model_name} "
            "sees only the face: use --saliency for where it looks"
        )
    default_note = " (no --model given: the packaged offline model)" if args.model is None else ""
    workers = f", {processes.world_size} processes" if processes.world_size > 1 else ""
    say(f"{recognizer.describe()}{workers}{default_note}")
    if args.output is None:
        records = _run_to_terminal(args, recognizer, inputs, processes)
    else:
        with _lock_folder(args.output, processes):
            records = _run_to_folder(args, recognizer, inputs, processes, say)
    if not processes.is_main:
        return 0
    failed = {r["input"]: r["error"] for r in records if r.get("error")}
    if failed:
        say(f"{len(failed)} of {len(records)} inputs failed: {name_failures(failed)}")
    return 1 if failed else 0


def _run_to_terminal(
    args: argparse.Namespace,
    recognizer: EmotionRecognizer,
    inputs: JobInputs,
    processes: Processes,
) -> list[dict[str, Any]]:
    from tqdm.auto import tqdm

    from glamor_zoo.inference.tables import records_to_csv, summarize_record
    from glamor_zoo.inference.tracked import VideoTracking
    from glamor_zoo.inference.writers import public_records

    options = _tracking_options(args) if inputs.videos() else None
    tracking = None if options is None else VideoTracking(recognizer.labels, options)
    records: list[dict[str, Any]] = []
    bar = tqdm(total=inputs.total(), unit=inputs.unit, disable=True if args.no_progress else None)
    with bar:
        current = None
        keep = tracking is not None  # shot cuts need the frame
        for prediction in inputs.predict(recognizer, processes, lambda key: False, keep):
            if tracking is not None:
                prediction = tracking.apply(prediction)
                prediction.image = None
            if prediction.file is not current:
                if current is not None:
                    bar.update(1)
                current = prediction.file
            (record,) = public_records([prediction.to_dict(attention=True)])
            records.append(record)
            if args.format is None:
                bar.write(summarize_record(record), file=sys.stdout)
        bar.update(1 if current is not None else 0)
    if args.format == "json":
        print(json.dumps(records, indent=2))
    elif args.format == "csv":
        sys.stdout.write(records_to_csv(records, recognizer.labels))
    elif options is not None:
        _print_tracks(records, recognizer.labels, options)
    return records


def _print_tracks(records: list[dict[str, Any]], labels: list[str], options: Any) -> None:
    """Each video's people: one line per track that is not short."""
    from glamor_zoo.inference.timeline import summarize_tracks, timeline_rows

    by_input: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("frame") is not None:
            by_input.setdefault(record["input"], []).append(record)
    for source, video in by_input.items():
        rows = timeline_rows(video, labels, options)
        short = len({r.track for r in rows if r.short})
        print(f"{source}: {len({r.track for r in rows}) - short} tracks ({short} short)")
        for s in summarize_tracks(rows, labels):
            shares = ", ".join(
                f"{k} {v:.0%}" for k, v in sorted(s.shares.items(), key=lambda kv: -kv[1]) if v
            )
            print(
                f"  track {s.track}: {s.first_seen:.2f}-{s.last_seen:.2f} s, mostly {s.dominant} "
                f"({shares}), mean confidence {s.mean_confidence:.2f}"
            )


def _lock_folder(folder: Any, processes: Processes) -> Any:
    """The output folder's lock, taken by the job's main process (the others share it)."""
    from contextlib import nullcontext

    from glamor_zoo.outputs import OutputFolderError, OutputLock

    if not processes.is_main:
        return nullcontext()
    try:
        return OutputLock(folder).acquire()
    except OutputFolderError as exc:
        raise CliError(str(exc)) from None


def _run_to_folder(
    args: argparse.Namespace,
    recognizer: EmotionRecognizer,
    inputs: JobInputs,
    processes: Processes,
    say: Any,
) -> list[dict[str, Any]]:
    from glamor_zoo.data.hf import import_datasets
    from glamor_zoo.inference.job import PredictionJob
    from glamor_zoo.inference.journal import JournalMismatchError
    from glamor_zoo.inference.pictures import PictureOptions
    from glamor_zoo.inference.writers import save_records_dataset, write_records

    if args.format == "parquet" or args.to_dataset is not None:
        try:
            import_datasets()  # before any work: the results could not be written
        except ImportError as exc:
            raise CliError(str(exc)) from None
    pictures = PictureOptions(
        draw=args.draw,
        attention=args.attention,
        saliency=args.saliency,
        annotated_video=args.annotated_video,
        every_n=args.every_n,
        fps=args.fps,
    )
    tracking = _tracking_options(args)
    try:
        job = PredictionJob(
            recognizer,
            inputs,
            args.output,
            pictures,
            overwrite=args.overwrite,
            processes=processes,
            tracking=tracking,
        )
    except JournalMismatchError as exc:
        raise CliError(str(exc)) from exc
    if job.resumed:
        say(f"resuming in {args.output}: {job.resumed} finished inputs kept")
    try:
        records = job.run(progress=not args.no_progress)
    except KeyboardInterrupt:
        say(
            f"interrupted; {job.resumed + job.written} results are kept in {job.journal}: "
            "run the same command again to resume"
        )
        raise
    if not processes.is_main:
        return records
    written = write_records(records, args.output, args.format or "json", recognizer.labels)
    say(f"{len(records)} results in {written}")
    if job.tracking is not None:
        from glamor_zoo.inference.timeline import write_video_tracks

        videos = [(str(f.path), f.relative) for f in inputs.videos()]
        folders = write_video_tracks(records, videos, args.output, recognizer.labels, job.tracking)
        if folders:
            say(
                f"timelines and summaries of {len(folders)} video{'s' if len(folders) != 1 else ''} in {args.output / 'tracks'}"
            )
    if args.to_dataset is not None:
        say(f"dataset of the results in {save_records_dataset(records, args.to_dataset)}")
    return records
