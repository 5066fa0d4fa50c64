"""``glamor-zoo compare``: the Stuart–Maxwell test between two models' predictions (paper Table 5)."""

from __future__ import annotations

import argparse
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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from glamor_zoo.cli import CliError
    from glamor_zoo.serialization import atomic_write_text
    from glamor_zoo.train.compare import compare_predictions

    try:
        result = compare_predictions(args.pred_a, args.pred_b)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    print(
        f"{result['num_items']} images; accuracy A {result['accuracy_a']:.2f}%, B {result['accuracy_b']:.2f}%"
    )
    print("Stuart-Maxwell test        chi2      df   p-value")
    for key, label in (
        ("a_vs_b", "A vs B"),
        ("a_vs_truth", "A vs true labels"),
        ("b_vs_truth", "B vs true labels"),
    ):
        test = result[key]
        print(f"  {label:<22} {test['statistic']:10.4f} {test['df']:4d}   {test['p_value']:.3e}")
    if args.output:
        atomic_write_text(args.output, json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.output}")
    return 0
