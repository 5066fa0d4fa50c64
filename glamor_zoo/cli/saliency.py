"""``glamor-zoo saliency``: occlusion saliency maps (Deep-Emotion §IV-C) as PNG files."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from glamor_zoo.cli import CliError

_logger = logging.getLogger(__name__)

DEFAULT_MODEL = "deep_emotion.fer2013"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "saliency",
        help="occlusion saliency maps: where zeroing the face changes the prediction (PNG)",
        description=(
            "Slide a zeroed square over each face and record where the prediction changes "
            "(Deep-Emotion §IV-C). Each IMAGE is a face crop, or a scene with --box. Writes "
            "<out-dir>/<image stem>_saliency.png: the face, and the map over it."
        ),
    )
    parser.add_argument("images", nargs="+", type=Path, help="face crops (or scenes with --box)")
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"zoo name, hf-hub:… or local-dir:… (default {DEFAULT_MODEL})",
    )
    parser.add_argument(
        "--box",
        type=_box,
        help="face box x1,y1,x2,y2 in the image's pixels (needed by two-input GLAMOR models)",
    )
    parser.add_argument(
        "--window",
        type=int,
        default=None,
        help="occluder side in model pixels (default: face side / 6)",
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="step in model pixels (default: window / 2)"
    )
    parser.add_argument(
        "--target", default=None, help="class to track (name or index; default: predicted)"
    )
    parser.add_argument(
        "--map",
        choices=("changed", "prob_drop"),
        default="changed",
        help="changed: fraction of occlusions that flip the prediction (paper); prob_drop: mean "
        "drop of the target class probability",
    )
    parser.add_argument("--out-dir", type=Path, default=Path("."), help="folder for the PNG files")
    parser.add_argument("--scale", type=int, default=4, help="upscaling of the PNG (default 4)")
    parser.set_defaults(func=run)


def _box(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"a box is x1,y1,x2,y2 (four numbers), got {text!r}")
    return values  # type: ignore[return-value]


def _target_index(target: str | None, labels: list[str]) -> int | None:
    if target is None:
        return None
    if target.isdigit():
        return int(target)
    from glamor_zoo.labels import canonical_label

    try:
        name = canonical_label(target)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if name not in labels:
        raise CliError(f"--target {target!r}: the model's classes are {', '.join(labels)}")
    return labels.index(name)


def run(args: argparse.Namespace) -> int:
    import torch

    import glamor_zoo
    from glamor_zoo.data import GlamorTransform, ImageLoadError, load_image
    from glamor_zoo.data.transforms import crop_face, to_uint8_tensor
    from glamor_zoo.saliency import occlusion_saliency, save_saliency_png

    try:
        model = glamor_zoo.create_model(args.model, pretrained=True)
    except (RuntimeError, ValueError, OSError, KeyError) as exc:
        raise CliError(f"cannot load model {args.model!r}: {exc}") from None
    model.eval()
    pcfg = model.preprocess_cfg() if hasattr(model, "preprocess_cfg") else {"inputs": "face"}
    two_inputs = pcfg.get("inputs", "face") != "face"
    if two_inputs and args.box is None:
        raise CliError(
            f"{args.model} reads the face and its context: give the face with --box x1,y1,x2,y2"
        )
    labels = list(
        model.pretrained_cfg.get("label_names") or [str(i) for i in range(model.num_classes)]
    )
    target = _target_index(args.target, labels)
    transform = GlamorTransform(pcfg, train=False)
    side = min(transform.face_size)
    window = args.window or max(1, side // 6)
    stride = args.stride or max(1, window // 2)

    failures = 0
    for path in args.images:
        try:
            image = load_image(path)
            box = args.box or (0, 0, image.width, image.height)
            inputs = transform(image, box)
            result = occlusion_saliency(
                model,
                inputs["face"],
                inputs.get("context"),
                window=window,
                stride=stride,
                target=target,
            )
            face = crop_face(
                to_uint8_tensor(image), box, transform.face_size, transform.interpolation
            )
            face_u8 = (face * 255).round().clamp(0, 255).to(torch.uint8)
            out = args.out_dir / f"{path.stem}_saliency.png"
            save_saliency_png(str(out), getattr(result, args.map), face_u8, scale=args.scale)
        except (ImageLoadError, ValueError, OSError) as exc:
            failures += 1
            _logger.error("%s: %s", path, exc)
            continue
        name = labels[result.target] if result.target < len(labels) else str(result.target)
        print(f"{path}\t{name}\t{float(result.probs[result.target]):.3f}\t{out}")
    return 1 if failures else 0
