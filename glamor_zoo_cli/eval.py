"""``glamor-zoo eval``: accuracy, per-class accuracy, confusion matrix and predictions of a model:
the arguments (the work is ``glamor_zoo_cli.commands.eval``)."""

from __future__ import annotations

from typing import Any

from glamor_zoo_cli._options import add_recognition_options, positive_int


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model on a dataset: top-1, per-class accuracy, confusion matrix, predictions",
        description="Evaluate MODEL on DATA and write metrics.json, confusion_matrix.{json,png}, "
        "predictions.csv and skipped.csv to --output. An image whose face the detector misses, "
        "whose class the model does not know, or whose file cannot be read, is never run through "
        "the model: it counts as wrong in top1 (over all labelled images), is left out of "
        "top1_detected, and is listed in skipped.csv; coverage is the share of images that were "
        "scored. Exit status 1 when some files could not be read (the results are written).",
    )
    parser.add_argument(
        "model", help="model folder, local-dir:DIR, hf-hub:ORG/NAME or a zoo name with a tag"
    )
    parser.add_argument(
        "data",
        help="dataset folder (CAER layout, class folders, FER-2013, CK+, a 🤗 save_to_disk "
        "folder) or, with --kind hf, a 🤗 Hub dataset id",
    )
    parser.add_argument(
        "--kind",
        default=None,
        help="dataset kind: caer, folder, fer2013, ckplus, hf (default: hf for a save_to_disk "
        "folder, caer when DATA has images/, else folder)",
    )
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument(
        "--image-column", default=None, help="--kind hf: the column of images (default: image)"
    )
    parser.add_argument(
        "--label-column", default=None, help="--kind hf: the column of classes (default: label)"
    )
    parser.add_argument(
        "--output", "-o", default=None, help="folder for the result files (default: none written)"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace result files in --output even when glamor-zoo did not write them (by "
        "default such files are refused)",
    )
    parser.add_argument("--batch-size", type=positive_int, default=64)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument(
        "--device", default=None, help="torch device (default: cuda if available, else cpu)"
    )
    parser.add_argument(
        "--data-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra dataset argument (YAML value), e.g. --data-arg fold=1; repeatable",
    )
    add_recognition_options(parser, default=None)
    parser.add_argument(
        "--headline",
        choices=("top1", "top1_detected"),
        default="top1",
        help="the figure printed first and named in metrics.json's 'headline': top1 (over every "
        "labelled image, a missed face counts as wrong; default) or top1_detected (over the "
        "images that were scored)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    parser.set_defaults(run_module="glamor_zoo_cli.commands.eval")
