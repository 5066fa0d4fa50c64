"""``glamor-zoo eval``: accuracy, per-class accuracy, confusion matrix and predictions of a model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from glamor_zoo_cli.commands import CliError


def _dataset_kind(args: argparse.Namespace) -> str:
    """``--kind``, or what DATA looks like: a 🤗 ``save_to_disk`` folder, CAER, class folders."""
    from glamor_zoo.data.hf import is_saved_dataset

    root = Path(args.data)
    if args.kind == "hf":
        return "hf"
    if not root.exists():
        raise CliError(
            f"dataset {str(root)!r} does not exist (a 🤗 Hub dataset id needs --kind hf)"
        )
    if args.kind is not None:
        return args.kind
    if is_saved_dataset(root):
        return "hf"
    return "caer" if (root / "images").is_dir() else "folder"


def _dataset_options(args: argparse.Namespace, kind: str) -> dict[str, Any]:
    """The detector options of ``--detector``/``--threshold``/``--detector-arg``/``--max-side``/
    ``--preprocessing``, for the dataset kinds that detect faces (``folder``, ``hf``), and the
    columns of ``hf``."""
    from glamor_zoo_cli.commands._common import build_detector

    columns = {
        name: value
        for name, value in (
            ("image_column", args.image_column),
            ("label_column", args.label_column),
        )
        if value is not None
    }
    if columns and kind != "hf":
        raise CliError(f"--image-column and --label-column apply to --kind hf, not {kind}")
    asked = (
        args.detector is not None
        or args.threshold is not None
        or args.detector_arg
        or args.max_side is not None
    )
    if kind not in ("folder", "hf"):
        if asked:
            raise CliError(
                f"--detector, --threshold, --detector-arg and --max-side apply to --kind folder "
                f"and hf (faces detected in the photos); --kind {kind} reads its faces from the "
                "dataset"
            )
        return {}
    if args.detector is None:
        args.detector = "mtcnn"
    return {"detector": build_detector(args), "progress": not args.no_progress, **columns}


def run(args: argparse.Namespace) -> int:
    import json

    from glamor_zoo.train.config import ConfigError, apply_overrides, cap_workers
    from glamor_zoo.train.evaluate import evaluate_model
    from glamor_zoo_cli.commands._common import (
        check_device,
        load_cli_model,
        name_failures,
        silence_hub_progress,
    )

    kind = _dataset_kind(args)
    try:
        extra = apply_overrides({}, args.data_arg)
    except ConfigError as exc:
        raise CliError(f"--data-arg: {exc}") from None
    device = check_device(args.device)
    if args.output:
        from glamor_zoo.outputs import OutputFolderError, claim_outputs
        from glamor_zoo.train.evaluate import EVALUATION_FILES

        try:  # before the evaluation, not after it
            claim_outputs(args.output, EVALUATION_FILES, args.overwrite)
        except OutputFolderError as exc:
            raise CliError(str(exc)) from None
    if args.no_progress:
        silence_hub_progress()
    loaded = load_cli_model(args.model, pretrained=False if args.random_weights else None)
    model = loaded.model.to(device).eval()
    spec = loaded.spec.with_pipeline(args.preprocessing or loaded.spec.pipeline)
    args.preprocessing = spec.pipeline
    options = _dataset_options(args, kind)
    if getattr(options.get("detector"), "name", None) == "none" and spec.uses_context:
        raise CliError(
            f"{args.model} reads the scene around each face, and --detector none takes every "
            "image as one face crop, which has no scene: use a face-only model or a detector"
        )
    if spec.labels_are_named:
        extra.setdefault("classes", list(spec.label_names))
    preprocess_cfg = spec.preprocess_cfg()
    from glamor_zoo.data.datasets import build_dataset
    from glamor_zoo.registry import UnknownComponentError

    try:
        dataset = build_dataset(
            kind,
            args.data,
            split=args.split,
            preprocess_cfg=preprocess_cfg,
            train=False,
            **options,
            **extra,
        )
    except (FileNotFoundError, ValueError, ImportError, UnknownComponentError) as exc:
        raise CliError(str(exc)) from None
    except TypeError as exc:
        raise CliError(f"--data-arg: the {kind} dataset does not take this ({exc})") from None
    failures = getattr(dataset, "failures", {})
    if failures:
        print(
            f"glamor-zoo eval: {len(failures)} unreadable image(s), counted as wrong: "
            f"{name_failures(failures)}",
            file=sys.stderr,
        )
    metrics = evaluate_model(
        model,
        dataset,
        output_dir=args.output,
        batch_size=args.batch_size,
        num_workers=cap_workers(args.num_workers, "--num-workers"),
        progress=not args.no_progress,
        title=f"{args.model} — {args.split}",
        headline=args.headline,
    )
    _print_summary(metrics)
    if args.output:
        print(
            f"wrote {Path(args.output) / 'metrics.json'}, confusion_matrix.json/.png, "
            "predictions.csv, skipped.csv"
        )
    else:
        print(json.dumps({"confusion_matrix": metrics["confusion_matrix"]}))
    return 1 if failures else 0


def _print_summary(metrics: dict[str, Any]) -> None:
    figures = {
        "top1": f"top-1 {metrics['top1']:.2f}% of all {metrics['num_samples']} labelled images",
        "top1_detected": f"top-1 {metrics['top1_detected']:.2f}% of the "
        f"{metrics['num_scored']} scored",
    }
    first = metrics["headline"]
    second = "top1_detected" if first == "top1" else "top1"
    print(
        f"{figures[first]}  ({figures[second]}; coverage {100 * metrics['coverage']:.1f}%)  "
        f"mean per-class {metrics['mean_class_accuracy']:.2f}%"
    )
    for reason, entry in metrics["skipped"].items():
        if isinstance(entry, dict) and entry["count"]:
            classes = ", ".join(f"{name} {n}" for name, n in entry["per_class"].items())
            print(f"  not scored, {reason}: {entry['count']} ({classes}); {entry['why']}")
    for name, value in metrics["per_class_accuracy"].items():
        shown = "   n/a" if value is None else f"{value:6.2f}%"
        print(f"  {name:<10} {shown}  ({metrics['support'][name]})")
