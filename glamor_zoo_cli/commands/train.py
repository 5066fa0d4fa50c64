"""``glamor-zoo train``: train a recipe (same as ``accelerate launch recipes/train.py``)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from glamor_zoo_cli.commands import CliError


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.outputs import full_or_read_only
    from glamor_zoo.train.config import ConfigError, load_config
    from glamor_zoo.train.launch import command_line, exit_with_launcher, train_recipe

    exit_with_launcher()
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"run.output_dir={args.output_dir}")
    try:
        config = load_config(args.config, overrides)
        train_recipe(
            config,
            resume=args.resume,
            push_to_hub=args.push_to_hub,
            command=command_line(),
            overwrite=args.overwrite,
        )
    except ConfigError as exc:
        raise CliError(str(exc)) from exc
    except Exception as exc:
        reason = full_or_read_only(exc)
        if reason is None:
            raise
        raise CliError(
            f"the run directory cannot be written: {reason}; the checkpoints written so far are "
            "kept: make room (or make it writable) and continue with --resume"
        ) from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``recipes/train.py``: parse, train, report errors in one line."""
    from glamor_zoo_cli.train import add_train_arguments

    parser = add_train_arguments(
        argparse.ArgumentParser(
            prog="train", description="Train a glamor_zoo recipe with accelerate."
        )
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        return run(args)
    except CliError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
