"""``glamor-zoo detect``: write the official ``crop/`` layout (one box file per image)."""

from __future__ import annotations

import argparse
from pathlib import Path

from glamor_zoo_cli.commands import CliError


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.outputs import OutputFolderError, check_writable, full_or_read_only

    images_root, out = Path(args.images_root), Path(args.out)
    if not images_root.is_dir():
        raise CliError(f"image folder {str(images_root)!r} does not exist")
    try:
        check_writable(out)  # before the detection, not after it
    except OutputFolderError as exc:
        raise CliError(str(exc)) from None
    try:
        return _detect(args, images_root, out)
    except OSError as exc:
        reason = full_or_read_only(exc)
        if reason is None:
            raise
        raise CliError(
            f"crop folder {str(out)!r} cannot be written: {reason}; the crop files written so "
            "far are kept: make room (or make it writable) and run the same command again to "
            "go on"
        ) from None


def _detect(args: argparse.Namespace, images_root: Path, out: Path) -> int:
    from glamor_zoo.data.detection.crops import write_crop_files
    from glamor_zoo.serialization import atomic_write_text
    from glamor_zoo_cli.commands._common import build_detector

    report = write_crop_files(
        images_root,
        out,
        build_detector(args),
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
