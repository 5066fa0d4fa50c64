"""``glamor-zoo train``: train a recipe (same as ``accelerate launch recipes/train.py``)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.cli import CliError
    from glamor_zoo.outputs import full_or_read_only
    from glamor_zoo.train.config import ConfigError
    from glamor_zoo.train.launch import run_from_args

    try:
        return run_from_args(args)
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
