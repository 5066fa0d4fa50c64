"""``glamor-zoo models``: the registered models with parameter counts and pretrained tags."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    import glamor_zoo
    from glamor_zoo_cli.commands._table import model_table

    print(model_table(glamor_zoo.list_models(args.pattern), num_classes=args.num_classes))
    return 0
