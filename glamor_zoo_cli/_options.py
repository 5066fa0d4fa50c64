"""Argument types and option groups shared by several commands (standard library only)."""

from __future__ import annotations

import argparse
import json
from typing import Any

__all__ = [
    "PREPROCESSING_CHOICES",
    "add_detector_options",
    "add_preprocessing_option",
    "detector_arg",
    "positive_int",
    "probability",
]

PREPROCESSING_CHOICES = ("zoo", "official")


def _whole_number_at_least(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (argparse type)."""
    return _whole_number_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (argparse type)."""
    return _whole_number_at_least(text, 0)


def probability(text: str) -> float:
    """A number in [0, 1] (argparse type; ``nan`` refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text}")
    return value


def detector_arg(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` → ``(key, value)``; the value is read as JSON where it parses (numbers,
    booleans, lists), else kept as text (argparse type)."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(
            f"expected KEY=VALUE (e.g. threshold=0.95 or model_path=mmod_human_face_detector.dat), "
            f"got {text!r}"
        )
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def add_detector_options(
    parser: argparse.ArgumentParser,
    default: str | None = "mtcnn",
    threshold_flag: str = "--threshold",
    bounded_by_default: bool = False,
) -> None:
    """``--detector``, the score threshold, ``--detector-arg KEY=VALUE`` and ``--max-side``
    (``bounded_by_default``: predict's, whose default is a 1,280-pixel copy and 0 the full
    image)."""
    parser.add_argument(
        "--detector",
        default=default,
        help=f"face detector: mtcnn, dlib-hog, dlib-mmod, retinaface, or none for images that "
        f"already are face crops (default: {default or 'the dataset kind decides'})",
    )
    parser.add_argument(
        threshold_flag,
        dest="threshold",
        type=float,
        default=None,
        help="minimum face score (default: the detector's)",
    )
    parser.add_argument(
        "--detector-arg",
        type=detector_arg,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="detector option, repeatable, e.g. model_path=mmod_human_face_detector.dat "
        "(dlib-mmod), crop=full (none)",
    )
    if bounded_by_default:
        parser.add_argument(
            "--max-side",
            type=non_negative_int,
            default=None,
            metavar="N",
            help="detect on a copy whose longer side is at most N pixels, then again on "
            "full-resolution crops around the faces found (the boxes of a full-resolution "
            "pass, faster, in bounded memory); 0: the full image (default: 1280 with the zoo's "
            "preprocessing and a detector, the full image otherwise)",
        )
        return
    parser.add_argument(
        "--max-side",
        type=positive_int,
        default=None,
        metavar="N",
        help="detect on a copy whose longer side is at most N pixels (boxes are mapped back to "
        "the original, then refined on full-resolution crops around the faces); bounds the "
        "memory of big photos (default: the full image)",
    )


def add_preprocessing_option(parser: argparse.ArgumentParser) -> None:
    """``--preprocessing zoo|official``."""
    parser.add_argument(
        "--preprocessing",
        choices=PREPROCESSING_CHOICES,
        default=None,
        help="official: the authors' pipeline exactly (the detector sees the image with its "
        "channels in BGR order as OpenCV loads it; the masked context is JPEG-encoded and "
        "decoded as TensorFlow does; needs simplejpeg); zoo: the exact pixels (default: what "
        "the model's config.json says, else zoo)",
    )


def add_random_weights_option(parser: argparse.ArgumentParser) -> None:
    """``--random-weights``: the architecture without its pretrained weights."""
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="run the architecture without pretrained weights (random predictions: for testing "
        "a pipeline or a runtime, e.g. with a tag whose weights are not published yet)",
    )


def add_recognition_options(parser: argparse.ArgumentParser, **detector: Any) -> None:
    """The options of a command that runs a model on the faces it detects (``eval``,
    ``predict``): :func:`add_detector_options` (``detector``: its arguments),
    ``--preprocessing`` and ``--random-weights``."""
    add_detector_options(parser, **detector)
    add_preprocessing_option(parser)
    add_random_weights_option(parser)
