"""``glamor-zoo eval``: accuracy, per-class accuracy, confusion matrix and predictions of a model."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model on a dataset: top-1, per-class accuracy, confusion matrix, predictions",
        description="Evaluate MODEL on DATA and write metrics.json, confusion_matrix.{json,png} and "
        "predictions.csv to --output.",
    )
    parser.add_argument(
        "model", help="model folder, local-dir:DIR, hf-hub:ORG/NAME or a zoo name with a tag"
    )
    parser.add_argument("data", help="dataset folder (CAER layout, class folders, FER-2013, CK+)")
    parser.add_argument(
        "--kind",
        default=None,
        help="dataset kind: caer, folder, fer2013, ckplus (default: "
        "caer when DATA has images/, else folder)",
    )
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument(
        "--output", "-o", default=None, help="folder for the result files (default: none written)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument(
        "--device", default=None, help="torch device (default: cuda if available, else cpu)"
    )
    parser.add_argument(
        "--data-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra dataset argument (YAML value), e.g. --data-arg fold=1; repeatable",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    parser.set_defaults(func=run)


def _load_model(spec: str) -> Any:
    import glamor_zoo

    if Path(spec).is_dir():
        spec = f"local-dir:{Path(spec).resolve()}"
    pretrained = spec.startswith(("local-dir:", "hf-hub:")) or "." in spec
    return glamor_zoo.create_model(spec, pretrained=pretrained)


def run(args: argparse.Namespace) -> int:
    import json

    import torch

    from glamor_zoo.cli import CliError
    from glamor_zoo.train.config import apply_overrides
    from glamor_zoo.train.evaluate import evaluate_model

    root = Path(args.data)
    if not root.exists():
        raise CliError(f"dataset {str(root)!r} does not exist")
    kind = args.kind or ("caer" if (root / "images").is_dir() else "folder")
    try:
        model = _load_model(args.model)
    except Exception as exc:
        raise CliError(f"cannot load model {args.model!r}: {exc}") from exc
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    model = model.to(device).eval()
    extra = apply_overrides({}, args.data_arg)
    label_names = (getattr(model, "pretrained_cfg", None) or {}).get("label_names")
    if label_names and len(label_names) == getattr(model, "num_classes", 0):
        extra.setdefault("classes", list(label_names))
    from glamor_zoo.data.datasets import build_dataset

    try:
        dataset = build_dataset(
            kind,
            str(root),
            split=args.split,
            preprocess_cfg=model.preprocess_cfg(),
            train=False,
            **extra,
        )
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from exc
    metrics = evaluate_model(
        model,
        dataset,
        output_dir=args.output,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        progress=not args.no_progress,
        title=f"{args.model} — {args.split}",
    )
    print(
        f"top-1 {metrics['top1']:.2f}%  mean per-class {metrics['mean_class_accuracy']:.2f}%  "
        f"({metrics['num_samples']} images)"
    )
    for name, value in metrics["per_class_accuracy"].items():
        shown = "   n/a" if value is None else f"{value:6.2f}%"
        print(f"  {name:<10} {shown}  ({metrics['support'][name]})")
    if args.output:
        print(
            f"wrote {Path(args.output) / 'metrics.json'}, confusion_matrix.json/.png, predictions.csv"
        )
    else:
        print(json.dumps({"confusion_matrix": metrics["confusion_matrix"]}))
    return 0
