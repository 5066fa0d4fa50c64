"""``glamor-zoo train``: train a recipe (same as ``accelerate launch recipes/train.py``):
the arguments (the work is ``glamor_zoo_cli.commands.train``)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_train_arguments", "register"]


def register(subparsers: Any) -> None:
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
    parser.set_defaults(run_module="glamor_zoo_cli.commands.train")


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the training options to ``parser`` (standard library only: ``recipes/train.py`` uses it too)."""
    parser.add_argument(
        "--config",
        "-c",
        required=True,
        help="recipe YAML, e.g. recipes/glamor_original_ncaer_s.yaml or "
        "recipes/deep_emotion_ckplus.yaml (k-fold: data.folds)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in run.output_dir from its last checkpoint (k-fold recipes: "
        "reuse the finished folds, resume the unfinished one)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start even when run.output_dir holds files of a run's names (model/, metrics.json, "
        "config.yaml…) that no run wrote (by default such files are refused, never replaced)",
    )
    parser.add_argument(
        "--push-to-hub",
        metavar="ORG/NAME",
        default=None,
        help="upload the final model folder at the end",
    )
    parser.add_argument(
        "--output-dir", "-o", default=None, help="run directory (same as run.output_dir=DIR)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="recipe overrides with dotted keys and YAML values, e.g. optim.lr=1e-3 "
        "stages.face.epochs=2 data.folds=[0,1]",
    )
    return parser
