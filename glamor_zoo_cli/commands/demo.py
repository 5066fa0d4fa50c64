"""``glamor-zoo demo``: serve the web demo (:mod:`glamor_zoo.demo`) until Ctrl-C."""

from __future__ import annotations

import argparse
import importlib.util
import sys

from glamor_zoo_cli.commands import CliError
from glamor_zoo_cli.demo import EXTRA


def run(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gradio") is None:
        raise CliError(f"the web demo needs Gradio: {EXTRA}")
    from glamor_zoo.demo import DemoInputError, DemoService
    from glamor_zoo.demo.page import launch_demo
    from glamor_zoo_cli.commands._common import check_device

    device = check_device(args.device)
    try:
        service = DemoService(
            args.model,
            args.detector,
            device=str(device),
            max_upload_bytes=round(args.max_upload_mb * 2**20),
        )
    except DemoInputError as exc:
        raise CliError(str(exc)) from None
    models = ", ".join(c.name for c in service.model_choices)
    print(
        f"glamor-zoo demo: models {models}; detectors {', '.join(service.detector_choices)}",
        file=sys.stderr,
    )
    try:
        launch_demo(service, host=args.host, port=args.port, share=args.share)
    except OSError as exc:  # the port is taken, or the address is not this machine's
        raise CliError(f"cannot serve on {args.host}:{args.port}: {exc}") from None
    return 0
