"""``glamor-zoo export MODEL out.onnx``: an ONNX file with a dynamic batch, checked by onnxruntime."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from glamor_zoo.cli import CliError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a model to ONNX (needs the onnx extra)",
        description=(
            "Export MODEL (a zoo name, 'hf-hub:org/name' or 'local-dir:/path') to ONNX with a "
            "dynamic batch: inputs 'face' and 'context' (face-only models: 'face'), output "
            "'logits'. The result is checked against PyTorch with onnxruntime."
        ),
    )
    parser.add_argument("model", help="model to export")
    parser.add_argument("output", type=Path, help="the .onnx file to write")
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset (default 18)")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="export an architecture without pretrained weights (for testing runtimes)",
    )
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime check")
    parser.add_argument(
        "--tolerance", type=float, default=1e-4, help="max |onnx - torch| logit difference"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not getattr(args, "verbose", False):
        logging.getLogger("timm").setLevel(logging.WARNING)  # its loading chatter
    from glamor_zoo.inference.loading import ModelLoadError, load_model
    from glamor_zoo.inference.onnx_export import check_onnx, example_inputs, export_onnx

    try:
        loaded = load_model(args.model, pretrained=False if args.random_weights else None)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from exc
    if loaded.source == "random" and not args.random_weights:
        raise CliError(
            f"{args.model!r} has no pretrained weights; name a pretrained model "
            "(`glamor-zoo models`), or pass --random-weights to export it untrained"
        )
    try:
        path = export_onnx(loaded.model, args.output, opset=args.opset)
    except ImportError as exc:
        raise CliError(str(exc)) from exc
    print(f"glamor-zoo export: {loaded.describe()} → {path}", file=sys.stderr)
    if args.no_check:
        return 0
    diff = check_onnx(loaded.model, path, example_inputs(loaded.model, batch_size=3))
    print(f"glamor-zoo export: onnxruntime vs PyTorch, max |logit difference| = {diff:.2e}")
    if diff > args.tolerance:
        raise CliError(f"onnxruntime differs from PyTorch by {diff:.2e} > {args.tolerance:g}")
    return 0
