"""``glamor-zoo build-ncaer``: rebuild NCAER-S from the CAER video clips (paper §4.1)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.data.ncaer import build_ncaer
    from glamor_zoo_cli.commands import CliError
    from glamor_zoo_cli.commands._common import build_detector

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
