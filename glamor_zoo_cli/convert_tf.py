"""``glamor-zoo convert-tf``: the official GLAMOR-Net TF2 checkpoint → a glamor_zoo model folder:
the arguments (the work is ``glamor_zoo_cli.commands.convert_tf``)."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "convert-tf",
        help="convert a GLAMOR-Net TensorFlow 2 checkpoint (no TensorFlow needed)",
        description=(
            "Convert a TF2 checkpoint written by the official GLAMOR-Net code (PREFIX.index + "
            "PREFIX.data-*) into OUT_DIR/model.safetensors, config.json and README.md, loadable "
            "with glamor_zoo.create_model('local-dir:OUT_DIR'). Encoder widths are read from "
            "the checkpoint."
        ),
    )
    parser.add_argument(
        "checkpoint",
        help="checkpoint prefix (e.g. weights/glamor-net/Model), its .index, or its folder",
    )
    parser.add_argument("out_dir", help="model folder to write")
    parser.add_argument(
        "--model",
        default="glamor_original",
        help="zoo architecture to convert into (default: %(default)s)",
    )
    parser.add_argument(
        "--label-names",
        nargs="+",
        metavar="NAME",
        help="class names in output order (default: the paper's 7, Anger … Surprise)",
    )
    parser.add_argument(
        "--reference",
        metavar="NPZ",
        help="outputs of the official code on known inputs (io.npz layout); fail unless they match",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=1e-5,
        help="largest accepted difference (default: %(default)g)",
    )
    parser.add_argument(
        "--hub-id",
        metavar="ORG/NAME",
        help="Hub repository it will be published as, for the card (default: the architecture's "
        "pretrained repository, glamor-zoo/glamor_original.ncaer_s for glamor_original)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace model.safetensors, config.json and README.md in OUT_DIR even when "
        "glamor-zoo did not write them (by default such files are refused)",
    )
    parser.set_defaults(run_module="glamor_zoo_cli.commands.convert_tf")
