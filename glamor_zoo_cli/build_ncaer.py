"""``glamor-zoo build-ncaer``: rebuild NCAER-S from the CAER video clips (paper §4.1):
the arguments (the work is ``glamor_zoo_cli.commands.build_ncaer``)."""

from __future__ import annotations

from typing import Any

from glamor_zoo_cli._options import add_detector_options


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
    parser.set_defaults(run_module="glamor_zoo_cli.commands.build_ncaer")
