"""``glamor-zoo predict``: faces and emotions in photos, folders, videos and 🤗 datasets:
the arguments (the work is ``glamor_zoo_cli.commands.predict``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from glamor_zoo_cli._options import add_recognition_options, positive_int, probability


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="recognise the emotions of the faces in photos, folders and videos",
        description=(
            "Detect faces and recognise their emotions. With no --model the model shipped in "
            "the package is used (offline). Under 'accelerate launch' or 'torchrun' the "
            "processes share the inputs and merge their results into --output."
        ),
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="images, folders, videos")
    parser.add_argument(
        "--demo", action="store_true", help="also run on the photo shipped in the package"
    )
    data = parser.add_argument_group("🤗 datasets (the data extra)")
    data.add_argument(
        "--dataset",
        metavar="SOURCE",
        help="read the images of a dataset instead of PATHs: a Hub id, a save_to_disk folder, "
        "or a folder load_dataset reads",
    )
    data.add_argument("--split", help="the dataset's split (default: its only one)")
    data.add_argument(
        "--image-column", default="image", help="the column of images (default: image)"
    )
    data.add_argument(
        "--label-column", help="a column of true classes, copied into the records as 'target'"
    )
    data.add_argument(
        "--id-column", help="a column of unique ids that key the records (default: row index)"
    )
    data.add_argument(
        "--streaming",
        action="store_true",
        help="read the rows as they come, nothing unpacked to disk (Hub-scale datasets)",
    )
    parser.add_argument(
        "--model",
        help="model name, 'hf-hub:org/name' or 'local-dir:/path' (default: the packaged "
        "default model, offline)",
    )
    add_recognition_options(parser, threshold_flag="--min-score", bounded_by_default=True)
    parser.add_argument(
        "--mode",
        choices=("exact", "shared"),
        default="exact",
        help="context models: each face's own context (exact) or one context per photo (shared)",
    )
    parser.add_argument("--output", "-o", type=Path, help="folder for results and pictures")
    parser.add_argument(
        "--format",
        choices=("json", "csv", "parquet"),
        help="results format (default: json in --output, a summary on the terminal); parquet "
        "(in --output) needs the data extra",
    )
    parser.add_argument(
        "--to-dataset",
        type=Path,
        metavar="DIR",
        help="also save the results as a 🤗 dataset folder (save_to_disk; the data extra)",
    )
    parser.add_argument("--draw", action="store_true", help="save photos with labelled boxes")
    parser.add_argument(
        "--attention", action="store_true", help="save attention maps (context models)"
    )
    parser.add_argument(
        "--saliency", action="store_true", help="save occlusion saliency maps of the faces"
    )
    sampling = parser.add_mutually_exclusive_group()
    sampling.add_argument("--every-n", type=positive_int, help="videos: every N-th frame")
    sampling.add_argument("--fps", type=float, help="videos: about F frames per second")
    parser.add_argument(
        "--annotated-video", action="store_true", help="videos: save a video with labelled boxes"
    )
    tracks = parser.add_argument_group("videos: people over time (docs/video.md)")
    tracks.add_argument(
        "--tracks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="link each video's faces into tracks (people), smooth their probabilities over "
        "time, and with --output write each video's timeline, summary and plot (default: on "
        "for videos)",
    )
    tracks.add_argument(
        "--half-life",
        type=float,
        metavar="SECONDS",
        help="smoothing: half-life of the moving average of a track's probabilities "
        "(default 1; 0: none)",
    )
    tracks.add_argument(
        "--max-gap",
        type=float,
        metavar="SECONDS",
        help="a track waits this long for a face that is missed or hidden (default 2.5)",
    )
    tracks.add_argument(
        "--min-track",
        type=float,
        metavar="SECONDS",
        help="tracks seen for less are flagged short and left out of summaries (default 1)",
    )
    parser.add_argument(
        "--min-confidence",
        type=probability,
        metavar="P",
        help="mark faces whose confidence is below P as uncertain (the label stays the most "
        "probable class; records get uncertain: true, pictures a '?', CSV an uncertain column)",
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=32, help="faces per forward pass"
    )
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--fast",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the model through fast_inference (torch.compile…); default: only when the "
        "job is big enough to win back the set-up on this machine (docs/fast.md)",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="discard earlier results in --output"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.set_defaults(run_module="glamor_zoo_cli.commands.predict")
