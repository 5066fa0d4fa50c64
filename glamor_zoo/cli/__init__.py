"""The ``glamor-zoo`` command: a thin shell over the Python API.

Each subcommand is a module in this package exposing ``register(subparsers)``, which adds its
parser and sets ``func`` (called with the parsed arguments, returns an exit code). Subcommand
modules import heavy dependencies inside ``func`` only, so ``glamor-zoo --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import pkgutil
import sys
from collections.abc import Sequence
from importlib import import_module

__all__ = ["CliError", "build_parser", "main"]


class CliError(Exception):
    """An error to report to the user as one line, without a traceback (exit code 2)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glamor-zoo",
        description="Context-aware emotion recognition: GLAMOR-Net, its ablations and Deep-Emotion.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            import_module(f"{__name__}.{info.name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s: %(message)s"
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"glamor-zoo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
