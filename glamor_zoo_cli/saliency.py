"""``glamor-zoo saliency``: occlusion saliency maps (Deep-Emotion §IV-C) as PNG files:
the arguments (the work is ``glamor_zoo_cli.commands.saliency``)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from glamor_zoo_cli._options import add_random_weights_option


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "saliency",
        help="occlusion saliency maps: where zeroing the face changes the prediction (PNG)",
        description=(
            "Slide a zeroed square over each face and record where the prediction changes "
            "(Deep-Emotion §IV-C). Each IMAGE is a face crop, or a scene with --box. Writes "
            "<out-dir>/<image stem>_saliency.png: the face, and the map over it (images with the "
            "same stem: <stem>-2_saliency.png, <stem>-3_saliency.png…)."
        ),
    )
    parser.add_argument("images", nargs="+", type=Path, help="face crops (or scenes with --box)")
    parser.add_argument(
        "--model",
        help="zoo name, hf-hub:… or local-dir:… (default: the packaged default model, offline)",
    )
    add_random_weights_option(parser)
    parser.add_argument(
        "--box",
        type=_box,
        help="face box x1,y1,x2,y2 in the image's pixels (needed by two-input GLAMOR models)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="occluder side in model pixels (default: face side / 6)",
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="step in model pixels (default: window / 2)"
    )
    parser.add_argument(
        "--target", default=None, help="class to track (name or index; default: predicted)"
    )
    parser.add_argument(
        "--map",
        choices=("changed", "prob_drop"),
        default="changed",
        help="changed: fraction of occlusions that flip the prediction (paper); prob_drop: mean "
        "drop of the target class probability",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="folder for the PNG files")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace PNG files of the same names that glamor-zoo did not write (by default "
        "such files are refused)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=4,
        help="upscaling of the PNG (default 4; at most 4096 x 4096 pixels are drawn)",
    )
    parser.set_defaults(run_module="glamor_zoo_cli.commands.saliency")


def _box(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"a box is x1,y1,x2,y2 (four numbers), got {text!r}")
    if not (values[2] > values[0] and values[3] > values[1]):
        raise argparse.ArgumentTypeError(f"a box needs x2 > x1 and y2 > y1, got {text!r}")
    return values  # type: ignore[return-value]
