"""``glamor-zoo detect``: write the official ``crop/`` layout (one box file per image):
the arguments (the work is ``glamor_zoo_cli.commands.detect``)."""

from __future__ import annotations

from typing import Any

from glamor_zoo_cli._options import add_detector_options, add_preprocessing_option, positive_int


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
    add_preprocessing_option(parser)
    parser.add_argument(
        "--batch-size", type=positive_int, default=16, help="images per detection batch"
    )
    parser.add_argument("--overwrite", action="store_true", help="re-detect existing crop files")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(run_module="glamor_zoo_cli.commands.detect")
