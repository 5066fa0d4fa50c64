"""The work of the ``glamor-zoo`` commands: a thin shell over the Python API.

:mod:`glamor_zoo_cli` parses the arguments (standard library only, so ``--help`` never waits
for torch); each command's work is ``run(args)`` in a module of this package, which returns an
exit code. This package imports only the standard library too; each ``run`` imports glamor_zoo
(and torch) when it starts.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module

__all__ = ["CliError", "execute"]


class CliError(Exception):
    """An error to report to the user as one line, without a traceback (exit code 2)."""


def execute(args: argparse.Namespace) -> int:
    """Run the command that ``args`` (parsed by :func:`glamor_zoo_cli.build_parser`) names; its
    exit code.

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
