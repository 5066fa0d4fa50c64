"""``glamor-zoo models``: the registered models with parameter counts and pretrained tags:
the arguments (the work is ``glamor_zoo_cli.commands.models``)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models", help="list registered models with parameter counts and pretrained tags"
    )
    parser.add_argument("pattern", nargs="?", default="", help="wildcard filter, e.g. 'glamor_*'")
    parser.add_argument("--num-classes", type=int, default=7, help="classes used for the counts")
    parser.set_defaults(run_module="glamor_zoo_cli.commands.models")
