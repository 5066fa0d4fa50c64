"""``glamor-zoo compare``: the Stuart–Maxwell test between two models' predictions (paper Table 5):
the arguments (the work is ``glamor_zoo_cli.commands.compare``)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="Stuart-Maxwell test between two prediction files (paper Table 5)",
        description="Compare two predictions.csv files written by `glamor-zoo eval` on the same images: "
        "the Stuart-Maxwell test of A vs B, and of each against the true labels.",
    )
    parser.add_argument("pred_a", help="predictions.csv of model A (or its eval folder)")
    parser.add_argument("pred_b", help="predictions.csv of model B (or its eval folder)")
    parser.add_argument(
        "--output", "-o", default=None, help="write the results as JSON to this file"
    )
    parser.set_defaults(run_module="glamor_zoo_cli.commands.compare")
