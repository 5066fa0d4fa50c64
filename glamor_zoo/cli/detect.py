"""``glamor-zoo detect``: write the official ``crop/`` layout (one box file per image)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def parse_detector_args(pairs: list[str]) -> dict[str, Any]:
    """``["threshold=0.5", "model_path=/x.dat"]`` → ``{"threshold": 0.5, "model_path": "/x.dat"}``.

    Values are read as JSON where they parse (numbers, booleans, lists), else kept as text.
    """
    from glamor_zoo.cli import CliError

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--detector-arg must be KEY=VALUE, got {pair!r}")
        try:
            options[key] = json.loads(value)
        except json.JSONDecodeError:
            options[key] = value
    return options


def add_detector_options(parser: argparse.ArgumentParser) -> None:
    """The detector options shared by the data commands."""
    parser.add_argument("--detector", default="mtcnn", help="face detector (default: mtcnn)")
    parser.add_argument(
        "--threshold", type=float, default=None, help="minimum face score (default: the detector's)"
    )
    parser.add_argument(
        "--detector-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector option, repeatable (e.g. model_path=mmod_human_face_detector.dat)",
    )


def build_detector(args: argparse.Namespace) -> Any:
    """The detector the options name; user errors become a one-line CliError."""
    from glamor_zoo.cli import CliError
    from glamor_zoo.data.detection import create_detector
    from glamor_zoo.registry import UnknownComponentError

    options = parse_detector_args(args.detector_arg)
    if args.threshold is not None:
        options["threshold"] = args.threshold
    try:
        return create_detector(args.detector, **options)
    except (UnknownComponentError, ImportError, FileNotFoundError, ValueError, RuntimeError) as exc:
        raise CliError(str(exc)) from exc
    except TypeError as exc:
        raise CliError(f"bad option for detector {args.detector!r}: {exc}") from exc


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="detect the best face of every image and write crop/<...>/<name>.txt files",
        description=(
            "Write the official CAER-S crop layout for any image folder: for IMAGES_ROOT/a/b.png "
            "the file CROP_ROOT/a/b.txt holds 'x1,y1,x2,y2' of the highest-scoring face, or "
            "'0,0,0,0' when there is none. Re-running skips images whose file exists. Exit "
            "code 1 when some images could not be read (listed in CROP_ROOT/detect_failures.tsv)."
        ),
    )
    parser.add_argument("images_root", help="folder of images (searched recursively)")
    parser.add_argument("--out", required=True, help="crop folder to write (CROP_ROOT)")
    add_detector_options(parser)
    parser.add_argument("--batch-size", type=int, default=16, help="images per detection batch")
    parser.add_argument("--overwrite", action="store_true", help="re-detect existing crop files")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from glamor_zoo.cli import CliError
    from glamor_zoo.data.detection.crops import write_crop_files
    from glamor_zoo.serialization import atomic_write_text

    images_root, out = Path(args.images_root), Path(args.out)
    if not images_root.is_dir():
        raise CliError(f"image folder {str(images_root)!r} does not exist")
    if args.batch_size < 1:
        raise CliError(f"--batch-size must be at least 1, got {args.batch_size}")
    detector = build_detector(args)
    report = write_crop_files(
        images_root,
        out,
        detector,
        batch_size=args.batch_size,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    print(
        f"{report.total} images: {report.written} with a face, {report.no_face} without, "
        f"{report.skipped} already done, {len(report.failures)} failed -> {out}"
    )
    failures_file = out / "detect_failures.tsv"
    if report.failures:
        atomic_write_text(
            failures_file, "".join(f"{path}\t{why}\n" for path, why in report.failures.items())
        )
        print(f"failures listed in {failures_file}")
        return 1
    failures_file.unlink(missing_ok=True)
    return 0
