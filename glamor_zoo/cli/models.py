"""``glamor-zoo models``: the registered models with parameter counts and pretrained tags."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "models", help="list registered models with parameter counts and pretrained tags"
    )
    parser.add_argument("pattern", nargs="?", default="", help="wildcard filter, e.g. 'glamor_*'")
    parser.add_argument("--num-classes", type=int, default=7, help="classes used for the counts")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import glamor_zoo
    from glamor_zoo.cli._table import model_table

    print(model_table(glamor_zoo.list_models(args.pattern), num_classes=args.num_classes))
    return 0
