"""``glamor-zoo export MODEL out.onnx``: an ONNX file with a dynamic batch, checked by onnxruntime."""

from __future__ import annotations

import argparse
import sys

from glamor_zoo_cli.commands import CliError


def run(args: argparse.Namespace) -> int:
    from glamor_zoo.inference.onnx_export import check_onnx, example_inputs, export_onnx
    from glamor_zoo_cli.commands._common import load_cli_model

    loaded = load_cli_model(args.model, pretrained=False if args.random_weights else None)
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
