"""``glamor-zoo export MODEL out.onnx``: an ONNX file with a dynamic batch, checked by onnxruntime:
the arguments (the work is ``glamor_zoo_cli.commands.export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from glamor_zoo_cli._options import add_random_weights_option


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
    add_random_weights_option(parser)
    parser.add_argument("--no-check", action="store_true", help="skip the onnxruntime check")
    parser.add_argument(
        "--tolerance", type=float, default=1e-4, help="max |onnx - torch| logit difference"
    )
    parser.set_defaults(run_module="glamor_zoo_cli.commands.export")
