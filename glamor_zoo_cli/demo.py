"""``glamor-zoo demo``: the web demo (Gradio, the ``demo`` extra): the arguments
(the work is ``glamor_zoo_cli.commands.demo``)."""

from __future__ import annotations

import argparse
from typing import Any

EXTRA = 'pip install "glamor-zoo[demo]"'


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"a port is 1 to 65535, got {value}")
    return value


def _megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of MB, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value}")
    return value


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="a web page to try the models on a photo or the webcam (Gradio)",
        description=(
            "Serve a web page where a photo (upload or webcam) gets labelled boxes, a table of "
            "every face's probabilities and where the model looks (attention over the masked "
            "context, or occlusion saliency). Its /predict API endpoint returns the records of "
            f"'glamor-zoo predict --format json'. Needs the demo extra: {EXTRA}."
        ),
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 opens the page to the network (default 127.0.0.1)",
    )
    parser.add_argument("--port", type=_port, default=7860, help="port to listen on (default 7860)")
    parser.add_argument(
        "--share",
        action="store_true",
        help="also open a public *.gradio.live link through Gradio's servers (off by default)",
    )
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="offer this model first (zoo name, hf-hub:… or local-dir:…), repeatable; the "
        "models that load here offline are always offered (default first: the packaged "
        "default model)",
    )
    parser.add_argument(
        "--detector",
        action="append",
        default=[],
        metavar="NAME",
        help="offer this face detector first, repeatable (default: those that build here "
        "without a download, mtcnn first)",
    )
    parser.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    parser.add_argument(
        "--max-upload-mb",
        type=_megabytes,
        default=20.0,
        metavar="MB",
        help="largest photo accepted (default 20)",
    )
    parser.set_defaults(run_module="glamor_zoo_cli.commands.demo")
