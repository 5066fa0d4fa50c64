"""``glamor-zoo train``: train a recipe (same as ``accelerate launch recipes/train.py``)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    from glamor_zoo.train.launch import add_train_arguments

    parser = subparsers.add_parser(
        "train",
        help="train a recipe with accelerate (two-stage GLAMOR-Net, Deep-Emotion, k-fold CK+, "
        "checkpoints, --resume)",
        description="Train a recipe (every zoo model: GLAMOR-Net and its baselines, Deep-Emotion; "
        "recipes with data.folds train one run per fold and report mean ± std). Alone it runs "
        "one process; for several processes, GPUs or bf16 run it under "
        "`accelerate launch -m glamor_zoo train ...` (or use recipes/train.py).",
    )
    add_train_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.cli import CliError
    from glamor_zoo.train.config import ConfigError
    from glamor_zoo.train.launch import run_from_args

    try:
        return run_from_args(args)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
