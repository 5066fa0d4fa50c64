"""``glamor-zoo compare``: the Stuart–Maxwell test between two models' predictions (paper Table 5)."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    import json

    from glamor_zoo.serialization import atomic_write_text
    from glamor_zoo.train.compare import compare_predictions
    from glamor_zoo_cli.commands import CliError

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
