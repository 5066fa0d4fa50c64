"""``glamor-zoo convert-tf``: the official GLAMOR-Net TF2 checkpoint → a glamor_zoo model folder."""

from __future__ import annotations

import argparse


def _command_line(args: argparse.Namespace) -> str:
    import shlex

    argv = ["glamor-zoo", "convert-tf", args.checkpoint, args.out_dir]
    if args.model != "glamor_original":
        argv += ["--model", args.model]
    if args.label_names:
        argv += ["--label-names", *args.label_names]
    if args.reference:
        argv += ["--reference", args.reference, "--tolerance", f"{args.tolerance:g}"]
    if args.hub_id:
        argv += ["--hub-id", args.hub_id]
    return shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    import logging

    from glamor_zoo.convert import TFCheckpointError, convert_tf_checkpoint
    from glamor_zoo.outputs import OutputFolderError
    from glamor_zoo.registry import UnknownComponentError
    from glamor_zoo_cli.commands import CliError

    try:
        out = convert_tf_checkpoint(
            args.checkpoint,
            args.out_dir,
            model_name=args.model,
            label_names=args.label_names,
            reference=args.reference,
            tolerance=args.tolerance,
            hub_id=args.hub_id,
            command=_command_line(args),
            overwrite=args.overwrite,
        )
    except (
        TFCheckpointError,
        FileNotFoundError,
        UnknownComponentError,
        ValueError,
        OutputFolderError,
    ) as exc:
        raise CliError(str(exc)) from None
    logging.getLogger("glamor_zoo.convert").info(
        "wrote %s (model.safetensors, config.json, README.md)", out
    )
    print(out)
    return 0
