"""The work of the ``glamor-zoo`` command: a thin shell over the Python API.

The arguments are parsed by the top-level package :mod:`glamor_zoo_cli` (standard library only,
so ``--help`` never waits for torch); each subcommand's work is ``run(args)`` in a module of
this package, which returns an exit code. Heavy imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

from glamor_zoo_cli import build_parser, main

__all__ = ["CliError", "build_parser", "execute", "main"]


class CliError(Exception):
    """An error to report to the user as one line, without a traceback (exit code 2)."""


def execute(args: argparse.Namespace) -> int:
    """Run the command that ``args`` (parsed by :func:`build_parser`) names; its exit code.

    A :class:`CliError` becomes one line on stderr and exit code 2; Ctrl-C exit code 130.
    """
    try:
        return int(import_module(args.run_module).run(args) or 0)
    except CliError as exc:
        print(f"glamor-zoo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
