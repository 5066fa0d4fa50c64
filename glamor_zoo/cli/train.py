"""``glamor-zoo train``: train a recipe (same as ``accelerate launch recipes/train.py``)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.cli import CliError
    from glamor_zoo.train.config import ConfigError
    from glamor_zoo.train.launch import run_from_args

    try:
        return run_from_args(args)
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
