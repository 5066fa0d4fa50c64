"""The ``glamor-zoo`` command: its arguments are parsed here, before glamor_zoo is imported.

``import glamor_zoo`` registers every zoo model with timm, so it imports torch, timm and
torchvision: about 4 s on the project's 2-core machines (``benchmarks/bench_startup.py``). This
small top-level package imports only the standard library, so ``glamor-zoo --help``, each
``glamor-zoo COMMAND --help`` and every usage error answer at once. Each command's parser is
``register(subparsers)`` in a module here; its work is ``run(args)`` in
``glamor_zoo_cli.commands.<command>``, imported only once the arguments have parsed. The
library never imports this package.

Logging is quiet by default: the zoo's own messages at INFO, every library's (timm, httpx,
onnxscript, torch…) from WARNING up; ``-v`` shows every library's INFO and the zoo's DEBUG.
"""

from __future__ import annotations

import argparse
import logging
import pkgutil
import sys
from collections.abc import Sequence
from importlib import import_module
from typing import NoReturn

__all__ = ["build_parser", "configure_logging", "main"]

# NOTE: torch logs this WARNING whenever a CUDA build runs on a machine without a GPU (when
# torch.compile looks for a compiler); it says nothing the user can act on.
_QUIET_LOGGERS = ("torch.utils.cpp_extension",)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line: what was wrong, and where help is."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full ``glamor-zoo`` parser, every subcommand included (standard library only)."""
    parser = _Parser(
        prog="glamor-zoo",
        description="Context-aware emotion recognition: GLAMOR-Net, its ablations and Deep-Emotion.",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="also show the libraries' INFO messages"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_") and not info.ispkg:
            import_module(f"{__name__}.{info.name}").register(subparsers)
    return parser


class _OwnHandlerFilter(logging.Filter):
    """Drop records that a library already printed through a handler of its own.

    huggingface_hub gives its logger a handler and lets records propagate too, so without this
    every Hub warning (e.g. a retry) would be printed twice.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        logger: logging.Logger | None = logging.getLogger(record.name)
        while logger is not None and logger.parent is not None:
            if logger.handlers:
                return False
            if not logger.propagate:
                break
            logger = logger.parent
        return True


def configure_logging(verbose: bool) -> None:
    """The zoo's messages at INFO (DEBUG with ``verbose``), the libraries' from WARNING (INFO)."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    handler.addFilter(_OwnHandlerFilter())
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])
    logging.getLogger("glamor_zoo").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, then run the command (the only point where glamor_zoo is imported)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return int(exc.code or 0)
    configure_logging(args.verbose)
    if not getattr(args, "run_module", None):
        parser.print_help()
        return 2
    from glamor_zoo_cli.commands import execute

    return execute(args)


if __name__ == "__main__":
    sys.exit(main())
