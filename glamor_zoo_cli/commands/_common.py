"""What several commands do alike: devices, detectors, models, and naming failed inputs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Mapping
from typing import Any

from glamor_zoo_cli.commands import CliError

__all__ = [
    "build_detector",
    "check_device",
    "detector_options",
    "load_cli_model",
    "name_failures",
    "silence_hub_progress",
]


def check_device(text: str | None) -> Any:
    """The torch device ``--device`` names (default: CUDA if available, else the CPU).

    Raises:
        CliError: not a device name, or a device this machine does not have.
    """
    import torch

    if text is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise CliError(
            f"--device {text!r} is not a torch device: use cpu, cuda, cuda:N or mps"
        ) from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CliError(
            f"--device {text}: torch finds no CUDA GPU on this machine; use --device cpu"
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise CliError(f"--device {text}: this machine has {count} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise CliError(f"--device {text}: MPS is not available here; use --device cpu")
    return device


def detector_options(args: argparse.Namespace) -> dict[str, Any]:
    """The backend options of ``--detector-arg KEY=VALUE`` and the threshold flag."""
    options = dict(args.detector_arg)
    if args.threshold is not None:
        if not math.isfinite(args.threshold):
            raise CliError(f"the detector's score threshold must be a number, got {args.threshold}")
        options["threshold"] = args.threshold
    return options


def detector_error(name: str, exc: Exception) -> CliError:
    """A one-line error for a detector that cannot be built."""
    if isinstance(exc, TypeError):
        return CliError(f"bad option for detector {name!r}: {exc}")
    return CliError(str(exc))


DETECTOR_ERRORS = (ImportError, FileNotFoundError, ValueError, RuntimeError, TypeError)


def build_detector(args: argparse.Namespace) -> Any:
    """The detector that ``--detector``, ``--threshold``, ``--detector-arg``, ``--max-side`` and
    ``--preprocessing`` name; user errors become a one-line :class:`CliError`."""
    from glamor_zoo.data.detection import create_detector
    from glamor_zoo.registry import UnknownComponentError

    official = getattr(args, "preprocessing", None) == "official"
    if official and args.max_side is not None:
        raise CliError(
            "--max-side moves the boxes, and --preprocessing official detects on the full image "
            "as the authors did: drop one of them"
        )
    try:
        return create_detector(
            args.detector,
            max_side=args.max_side,
            channel_order="bgr" if official else "rgb",
            **detector_options(args),
        )
    except UnknownComponentError as exc:
        raise CliError(str(exc)) from None
    except DETECTOR_ERRORS as exc:
        raise detector_error(args.detector, exc) from None


def load_cli_model(spec: str | None, pretrained: bool | None = None) -> Any:
    """:func:`glamor_zoo.inference.load_model` for a command: a bare folder works as a model,
    ``None`` is the packaged default model (:data:`~glamor_zoo.inference.DEFAULT_MODEL`), and
    every failure is a one-line :class:`CliError`."""
    from glamor_zoo.inference.loading import ModelLoadError, load_model

    try:
        return load_model(spec, pretrained=pretrained)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from None


def name_failures(failures: Mapping[str, str], shown: int = 3) -> str:
    """``"a.jpg (why), b.jpg (why) and 4 more"``: the first few failed inputs and the count."""
    items = [f"{path} ({why})" for path, why in list(failures.items())[:shown]]
    more = len(failures) - len(items)
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def silence_hub_progress() -> None:
    """Hide huggingface_hub's download bars (``--no-progress``)."""
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()
