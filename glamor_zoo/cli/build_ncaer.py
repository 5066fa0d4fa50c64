"""``glamor-zoo build-ncaer``: rebuild NCAER-S from the CAER video clips (paper §4.1)."""

from __future__ import annotations

import argparse
from typing import Any

from glamor_zoo.cli.detect import add_detector_options


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "build-ncaer",
        help="rebuild NCAER-S from CAER videos (one random frame per ~2 s part, with crop files)",
        description=(
            "Cut every CAER clip (CAER_ROOT/<split>/<Class>/<clip>.avi) into ~2 s parts, draw "
            "one random frame per part, keep the splits video-disjoint, balance the training "
            "classes, and write OUT_ROOT/images/<split>/<Class>/*.png with the best face's box "
            "in OUT_ROOT/crop/<split>/<Class>/*.txt. Re-running skips finished frames."
        ),
    )
    parser.add_argument("caer_root", help="the CAER video dataset folder")
    parser.add_argument("out_root", help="where NCAER-S is written")
    parser.add_argument("--seed", type=int, default=0, help="seed of the frame draws (default 0)")
    parser.add_argument(
        "--part-seconds", type=float, default=2.0, help="length of a part in seconds (default 2)"
    )
    parser.add_argument(
        "--balance-splits",
        default="train",
        help="comma-separated splits whose classes are balanced (default: train; '' for none)",
    )
    parser.add_argument(
        "--balance-ratio",
        type=float,
        default=1.0,
        help="a class keeps at most this × the smallest class's frames (default 1.0)",
    )
    add_detector_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.cli import CliError
    from glamor_zoo.cli.detect import build_detector
    from glamor_zoo.data.ncaer import build_ncaer

    detector = build_detector(args)
    splits = [s for s in args.balance_splits.split(",") if s]
    try:
        report = build_ncaer(
            args.caer_root,
            args.out_root,
            detector,
            seed=args.seed,
            part_seconds=args.part_seconds,
            balance_splits=splits,
            balance_ratio=args.balance_ratio if splits else None,
            progress=not args.no_progress,
        )
    except (FileNotFoundError, ImportError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    for split, counts in sorted(report.counts.items()):
        total = sum(counts.values())
        per_class = ", ".join(f"{label} {n}" for label, n in sorted(counts.items()))
        print(f"{split}: {total} images ({per_class})")
    print(
        f"{report.written} frames written ({report.no_face} without a face), {report.skipped} "
        f"already there, {len(report.dropped_duplicates)} duplicate clips left out, "
        f"{len(report.failures)} unreadable clips -> {args.out_root}"
    )
    return 1 if report.failures else 0
